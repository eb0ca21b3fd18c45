// SPDX-License-Identifier: BSD-3-Clause
/// \brief Inference recipes: NPE.
#pragma once

#include <osbi/inference/npe.hpp>
