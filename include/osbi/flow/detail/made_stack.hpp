// SPDX-License-Identifier: BSD-3-Clause
/// \brief MadeStack: the MADEs, flat parameter buffers and permutations of an autoregressive flow (MAF, NSF).
#pragma once

#include <osbi/flow/detail/checks.hpp>
#include <osbi/flow/detail/permutations.hpp>
#include <osbi/flow/made.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace osbi::detail {

/// The sizes and random streams of a MadeStack (sizes already checked by the owning flow).
struct MadeStackOptions {
  std::size_t theta_dim = 0;
  std::size_t context_dim = 0;
  std::size_t transforms = 0;
  std::size_t hidden = 0;
  std::size_t blocks = 0;
  std::size_t outputs_per_feature = 2; ///< P MADE outputs per dimension of θ
  std::uint64_t seed = 0;
  std::uint64_t init_stream = 0;        ///< MADE k initializes from RandomStream(seed, init_stream).at(0).split(k)
  std::uint64_t permutation_stream = 0; ///< flow_permutations(seed, permutation_stream, …)
};

/*
 * MadeStack — the conditioners of an autoregressive flow: T ConditionalMADEs (θ_dim features,
 * context_dim context features, P outputs per feature) whose parameters and gradients are slices of
 * one flat buffer each, [MADE 0 | MADE 1 | …] (each laid out as ConditionalMADE says), and the fixed
 * permutations π_k between the transforms (y_{k+1, j} = z_{π_k(j)}) with their inverses, on the device.
 *
 * The MADEs are bound to slices of the buffers: a copy would share them, so the type moves only.
 * Errors name the owner's `part` (its C++ name, e.g. "osbi::ConditionalMAF"); views are labelled
 * "osbi::flow::<Part>::<step>".
 */
template <class Scalar, class ExecutionSpace>
class MadeStack {
public:
  using made_type = ConditionalMADE<Scalar, ExecutionSpace>;
  using index_matrix = Kokkos::View<int**, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

  /// Builds, binds and initializes the MADEs and draws the permutations; fences the default instance.
  MadeStack(const char* part, const MadeStackOptions& options) : m_part(part), m_theta_dim(options.theta_dim) {
    const std::size_t transforms = options.transforms, dim = options.theta_dim;
    m_mades.reserve(transforms);
    for (std::size_t k = 0; k < transforms; ++k)
      m_mades.emplace_back(dim, options.context_dim, options.hidden, options.blocks, options.outputs_per_feature);

    std::size_t count = 0;
    for (const auto& made : m_mades)
      count += made.parameter_count();
    m_parameters = Vector<Scalar, ExecutionSpace>(view_label("parameters"), count);
    m_gradients = Vector<Scalar, ExecutionSpace>(view_label("gradients"), count);
    bind_all();
    const BatchRandom init = RandomStream(options.seed, options.init_stream).at(0);
    const ExecutionSpace space;
    for (std::size_t k = 0; k < transforms; ++k)
      m_mades[k].initialize(space, init.split(static_cast<std::uint32_t>(k)));

    // y_{k+1, j} = z_{π_k(j)}; the inverse maps back.
    m_permutation = index_matrix(view_label("permutation"), transforms, dim);
    m_inverse_permutation = index_matrix(view_label("inverse_permutation"), transforms, dim);
    auto forward_host = Kokkos::create_mirror_view(m_permutation);
    auto inverse_host = Kokkos::create_mirror_view(m_inverse_permutation);
    const auto permutations = flow_permutations(options.seed, options.permutation_stream, transforms, dim);
    for (std::size_t k = 0; k < transforms; ++k)
      for (std::size_t j = 0; j < dim; ++j) {
        forward_host(k, j) = permutations[k][j];
        inverse_host(k, static_cast<std::size_t>(permutations[k][j])) = static_cast<int>(j);
      }
    Kokkos::deep_copy(m_permutation, forward_host);
    Kokkos::deep_copy(m_inverse_permutation, inverse_host);
    space.fence();
  }

  MadeStack(const MadeStack&) = delete;
  MadeStack& operator=(const MadeStack&) = delete;
  MadeStack(MadeStack&&) = default;
  MadeStack& operator=(MadeStack&&) = default;

  std::size_t transforms() const { return m_mades.size(); }
  std::size_t parameter_count() const { return m_parameters.extent(0); }
  Vector<Scalar, ExecutionSpace> parameters() const { return m_parameters; }
  Vector<Scalar, ExecutionSpace> gradients() const { return m_gradients; }
  void zero_gradients(const ExecutionSpace& space) { Kokkos::deep_copy(space, m_gradients, Scalar(0)); }

  /// Copies the parameters and gradients into caller-owned storage of parameter_count() entries each
  /// and binds every MADE to its slice of that from now on.
  void rebind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), m_part,
                   "rebind: the parameter view's size (parameter_count)");
    require_extent(gradients.extent(0), parameter_count(), m_part,
                   "rebind: the gradient view's size (parameter_count)");
    Kokkos::deep_copy(parameters, m_parameters);
    Kokkos::deep_copy(gradients, m_gradients);
    m_parameters = parameters;
    m_gradients = gradients;
    bind_all();
  }

  /// The MADE of transform k, checked (InvalidArgument naming the transform count).
  made_type& made(std::size_t k) {
    require(k < m_mades.size(), m_part, "made(", k, "): there are ", m_mades.size(), " transforms");
    return m_mades[k];
  }

  /// The MADE of transform k, unchecked (k < transforms()).
  made_type& operator[](std::size_t k) { return m_mades[k]; }

  /// π_k on the host, checked: after transform k, dimension j holds the transform's output π_k(j).
  std::vector<int> permutation(std::size_t k) const {
    require(k < m_mades.size(), m_part, "permutation(", k, "): there are ", m_mades.size(), " transforms");
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_permutation);
    std::vector<int> result(m_theta_dim);
    for (std::size_t j = 0; j < m_theta_dim; ++j)
      result[j] = host(k, j);
    return result;
  }

  /// π_k on the device (k < transforms()).
  auto forward_permutation(std::size_t k) const { return Kokkos::subview(m_permutation, k, Kokkos::ALL); }
  /// π_k⁻¹ on the device (k < transforms()).
  auto inverse_permutation(std::size_t k) const { return Kokkos::subview(m_inverse_permutation, k, Kokkos::ALL); }

private:
  std::string view_label(std::string_view step) const { return flow_label(m_part, step); }

  void bind_all() {
    std::size_t offset = 0;
    for (auto& made : m_mades) {
      const auto slice = std::make_pair(offset, offset + made.parameter_count());
      made.bind(Kokkos::subview(m_parameters, slice), Kokkos::subview(m_gradients, slice));
      offset = slice.second;
    }
  }

  const char* m_part;
  std::size_t m_theta_dim;
  std::vector<made_type> m_mades;
  Vector<Scalar, ExecutionSpace> m_parameters, m_gradients;
  index_matrix m_permutation, m_inverse_permutation;
};

} // namespace osbi::detail
