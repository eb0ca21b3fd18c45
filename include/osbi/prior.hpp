// SPDX-License-Identifier: BSD-3-Clause
/// \brief Priors: the Prior concept and its models.
#pragma once

#include <osbi/prior/box_uniform.hpp>
#include <osbi/prior/gaussian.hpp>
#include <osbi/prior/independent.hpp>
#include <osbi/prior/log_normal.hpp>
#include <osbi/prior/prior.hpp>
