// SPDX-License-Identifier: BSD-3-Clause
/// \brief Conditional density estimation: MAF, NSF, ConditionallyCentered, LinearGaussian, the NestableDensity concept,
/// z-scoring, the support bijection (the ConditionalDensity concept is in osbi/estimator/).
#pragma once

#include <osbi/estimator/conditional_density.hpp>

#include <osbi/flow/conditionally_centered.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/flow/made.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/nestable_density.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/flow/rational_quadratic.hpp>
#include <osbi/flow/running_moments.hpp>
#include <osbi/flow/support_transform.hpp>
