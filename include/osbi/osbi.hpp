// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: all of osbi.
#pragma once

#include <osbi/core.hpp>
#include <osbi/io.hpp>
#include <osbi/prior.hpp>
#include <osbi/simulator.hpp>
