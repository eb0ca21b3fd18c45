// SPDX-License-Identifier: BSD-3-Clause
/// \brief Training of conditional densities on fixed datasets.
#pragma once

#include <osbi/train/trainer.hpp>
