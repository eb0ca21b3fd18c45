// SPDX-License-Identifier: BSD-3-Clause
/// \brief Conditional density estimation: z-scoring statistics, the bijection to a prior's support.
#pragma once

#include <osbi/flow/running_moments.hpp>
#include <osbi/flow/support_transform.hpp>
