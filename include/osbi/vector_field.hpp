// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella: the machinery shared by score diffusion and flow matching (paths, network, ODE solver, estimator).
#pragma once

#include <osbi/vector_field/gaussian_path.hpp>
#include <osbi/vector_field/ode_solver.hpp>
#include <osbi/vector_field/time_embedding.hpp>
#include <osbi/vector_field/vector_field_estimator.hpp>
#include <osbi/vector_field/vector_field_network.hpp>
