// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: the estimator concepts — Estimator, ConditionalDensity — and their optional capabilities.
#pragma once

#include <osbi/estimator/capabilities.hpp>
#include <osbi/estimator/conditional_density.hpp>
#include <osbi/estimator/estimator.hpp>
