// SPDX-License-Identifier: BSD-3-Clause
/// \brief Embeddings: learned summaries of high-dimensional observations, trained jointly with the density.
#pragma once

#include <osbi/embed/embedded_density.hpp>
