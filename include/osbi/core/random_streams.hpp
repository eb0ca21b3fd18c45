// SPDX-License-Identifier: BSD-3-Clause
/// \brief The stream ids of every RandomStream the library draws from, in one place (no two uses share one).
#pragma once

#include <cstdint>

namespace osbi::streams {

/*
 * A draw is a pure function of (seed, stream, batch, row, index) (core/random.hpp), so two parts that drew
 * from the same (seed, stream) would draw the same numbers. Every stream id the library uses is named here;
 * a new use takes a new id. The values are those the parts used before they were gathered here, so every
 * seeded result is unchanged.
 */

// NPE (inference/npe.hpp): θ from the proposal, x from the simulator, draws that estimate the acceptance rate.
inline constexpr std::uint64_t npe_proposal = 1;
inline constexpr std::uint64_t npe_simulator = 2;
inline constexpr std::uint64_t npe_acceptance = 3;

// online::Pipeline: simulation chunk c draws θ from batch c of pipeline_proposal and simulates with batch c of
// pipeline_simulator, whichever worker runs it.
inline constexpr std::uint64_t pipeline_proposal = 11;
inline constexpr std::uint64_t pipeline_simulator = 12;
/// The loss's own randomness (time and noise of score / flow-matching losses), one batch per step.
inline constexpr std::uint64_t pipeline_loss = 13;
/// The same for validation: one fixed batch, so validation values are comparable across steps.
inline constexpr std::uint64_t pipeline_validation = 14;

// The offline trainer (train/trainer.hpp): validation split and per-epoch shuffles; the loss's randomness.
inline constexpr std::uint64_t trainer_shuffle = 0x7241;
inline constexpr std::uint64_t trainer_loss = 0x7242;
inline constexpr std::uint64_t trainer_validation = 0x7243;

// Parameter initialization of the estimators (flow/, embed/).
inline constexpr std::uint64_t maf_init = 0x4D414649u;         // "MAFI"
inline constexpr std::uint64_t maf_permutation = 0x4D414650u;  // "MAFP"
inline constexpr std::uint64_t nsf_init = 0x4E534649u;         // "NSFI"
inline constexpr std::uint64_t nsf_permutation = 0x4E534650u;  // "NSFP"
inline constexpr std::uint64_t centering_init = 0x43454E54u;   // "CENT"
inline constexpr std::uint64_t embedding_init = 0xE3BEDull;
/// nn::Network(input_dim, seed): the network's parameters (a user-level seed; the estimators above use their own).
inline constexpr std::uint64_t network_init = 0;

// Sample buffers (buffer/buffer_base.hpp): every random choice a buffer makes (batches, eviction), per its own seed.
inline constexpr std::uint64_t buffer = 0xB0FFu;

// diagnostics::c2st: the shuffle of the pooled samples, then fold k's classifier from stream c2st_first_fold + k.
inline constexpr std::uint64_t c2st_shuffle = 0;
inline constexpr std::uint64_t c2st_first_fold = 1;

// The conformance checks and gradient checkers of osbi/testing (per the seed a test passes them).
inline constexpr std::uint64_t testing_samples = 0;             // check_prior, check_proposal, check_simulator's θ
inline constexpr std::uint64_t testing_simulator_theta = 1;     // check_simulator: θ for the simulator's rows
inline constexpr std::uint64_t testing_layer_init = 1;          // check_layer_gradients: the layer's parameters
inline constexpr std::uint64_t testing_loss = 0x6C6F7373u;      // "loss": gradient checks' upstream weights, check_loss's rng
inline constexpr std::uint64_t testing_batch = 0x62617463u;     // "batc": check_loss's batch
inline constexpr std::uint64_t testing_estimator = 0x65737469u; // "esti": check_estimator's draws
inline constexpr std::uint64_t testing_estimator_x = 0x65737478u; // "estx": check_estimator's contexts
inline constexpr std::uint64_t testing_density = 0x636F6E64u;   // "cond": check_conditional_density's data

} // namespace osbi::streams
