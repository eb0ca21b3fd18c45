// SPDX-License-Identifier: BSD-3-Clause
/// \brief Input/output: NumPy .npy files, checksummed checkpoints and a parameter vector in one.
#pragma once

#include <osbi/io/checkpoint.hpp>
#include <osbi/io/npy.hpp>
#include <osbi/io/parameter_checkpoint.hpp>
