// SPDX-License-Identifier: BSD-3-Clause
/// \brief Diagnostics area umbrella: C2ST as sbibm computes it, posterior moment errors, and calibration (SBC ranks, expected coverage).
#pragma once

#include <osbi/diagnostics/c2st.hpp>
#include <osbi/diagnostics/calibration.hpp>
#include <osbi/diagnostics/moments.hpp>
