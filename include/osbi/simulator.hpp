// SPDX-License-Identifier: BSD-3-Clause
/// \brief Simulators: the Simulator and PointSimulator concepts, the batch adapter, the sbibm tasks, a PDE plume.
#pragma once

#include <osbi/simulator/advection_diffusion.hpp>
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/simulator/lotka_volterra.hpp>
#include <osbi/simulator/point_simulator.hpp>
#include <osbi/simulator/simulation_report.hpp>
#include <osbi/simulator/simulator.hpp>
#include <osbi/simulator/two_moons.hpp>
