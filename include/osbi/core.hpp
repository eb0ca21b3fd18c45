// SPDX-License-Identifier: BSD-3-Clause
/// \brief Core: views and execution spaces, counter-based random numbers, errors.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>
