// SPDX-License-Identifier: BSD-3-Clause
/// \brief Conditional density estimation: the ConditionalDensity concept, MAF, NSF, ConditionallyCentered, LinearGaussian,
/// z-scoring, the support bijection.
#pragma once

#include <osbi/flow/conditional_density.hpp>
#include <osbi/flow/conditionally_centered.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/flow/made.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/flow/rational_quadratic.hpp>
#include <osbi/flow/running_moments.hpp>
#include <osbi/flow/support_transform.hpp>
