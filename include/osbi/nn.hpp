// SPDX-License-Identifier: BSD-3-Clause
/// \brief Neural-network area umbrella: the Layer concept, kernels, layers, Sequential and Network.
#pragma once

// The concept every layer models (spec comment inside).
#include <osbi/nn/layer.hpp>

// Kernels the layers are built on.
#include <osbi/nn/kernels/activation.hpp>
#include <osbi/nn/kernels/attention.hpp>
#include <osbi/nn/kernels/dense.hpp>
#include <osbi/nn/kernels/gemm.hpp>
#include <osbi/nn/kernels/rowwise.hpp>

// Initializers and layers (one model per header).
#include <osbi/nn/activations.hpp>
#include <osbi/nn/attention.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/nn/layer_norm.hpp>
#include <osbi/nn/masked_dense.hpp>

// Composition (Sequential, Repeat, Residual) and the owner of the flat parameter/gradient buffers (Network).
#include <osbi/nn/network.hpp>
#include <osbi/nn/repeat.hpp>
#include <osbi/nn/residual.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/nn/patch_embedding.hpp>
#include <osbi/nn/set_embedding.hpp>
#include <osbi/nn/tokenwise.hpp>
#include <osbi/nn/transformer.hpp>
