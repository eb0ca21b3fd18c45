// SPDX-License-Identifier: BSD-3-Clause
/// \brief Input/output: NumPy .npy files and checksummed checkpoints.
#pragma once

#include <osbi/io/checkpoint.hpp>
#include <osbi/io/npy.hpp>
