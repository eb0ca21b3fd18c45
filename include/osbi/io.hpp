// SPDX-License-Identifier: BSD-3-Clause
/// \brief Input/output: NumPy .npy files.
#pragma once

#include <osbi/io/npy.hpp>
