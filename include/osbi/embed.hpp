// SPDX-License-Identifier: BSD-3-Clause
/// \brief Embeddings: learned summaries of high-dimensional observations, trained jointly with the density or vector field.
#pragma once

#include <osbi/embed/embedded_density.hpp>
#include <osbi/embed/embedded_vector_field.hpp>
