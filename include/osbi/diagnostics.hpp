// SPDX-License-Identifier: BSD-3-Clause
/// \brief Diagnostics area umbrella: C2ST as sbibm computes it, and posterior moment errors.
#pragma once

#include <osbi/diagnostics/c2st.hpp>
#include <osbi/diagnostics/moments.hpp>
