// SPDX-License-Identifier: BSD-3-Clause
/// \brief Conditional density estimation: the autoregressive flow (MAF, NSF), ConditionallyCentered, LinearGaussian, the
/// NestableDensity and ElementwiseTransform concepts, z-scoring, the support bijection (ConditionalDensity is in
/// osbi/estimator/).
#pragma once

#include <osbi/estimator/conditional_density.hpp>

#include <osbi/flow/autoregressive_flow.hpp>
#include <osbi/flow/conditionally_centered.hpp>
#include <osbi/flow/elementwise_transform.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/flow/made.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/nestable_density.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/flow/rational_quadratic.hpp>
#include <osbi/flow/running_moments.hpp>
#include <osbi/flow/support_transform.hpp>
