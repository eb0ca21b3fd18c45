// SPDX-License-Identifier: BSD-3-Clause
/// \brief Independent<Parts...>: the product of priors over consecutive blocks of θ, composed at compile time.
#pragma once

#include <osbi/prior/prior.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi {

namespace detail {

// One instantiation per part, so a mismatch names the part's index and type in the compiler's
// "In instantiation of IndependentPartCheck<k, Part, FirstPart>" note printed with the assertion.
template <std::size_t Index, class Part, class FirstPart>
struct IndependentPartCheck {
  static_assert(std::is_same_v<typename Part::scalar_type, typename FirstPart::scalar_type>,
                "osbi::Independent<Parts...>: part k, k = the first template argument of IndependentPartCheck<k, "
                "Part, FirstPart> in the instantiation note, has a scalar_type different from part 0's; all parts of a "
                "product prior share one scalar_type (see osbi/prior/independent.hpp)");
  static_assert(
      std::is_same_v<typename Part::execution_space, typename FirstPart::execution_space>,
      "osbi::Independent<Parts...>: part k, k = the first template argument of IndependentPartCheck<k, "
      "Part, FirstPart> in the instantiation note, has an execution_space different from part 0's; all parts of "
      "a product prior share one execution_space (see osbi/prior/independent.hpp)");
  static constexpr bool value = true;
};

template <class... Parts, std::size_t... Index>
constexpr bool independent_parts_agree(std::index_sequence<Index...>) {
  if constexpr (sizeof...(Parts) == 0) {
    return true; // Independent's own static_assert reports the empty list
  } else {
    using First = std::tuple_element_t<0, std::tuple<Parts...>>;
    return (IndependentPartCheck<Index, Parts, First>::value && ...);
  }
}

} // namespace detail

/*
 * Independent<Parts...> — p(θ) = Π_k p_k(θ_[k]), θ_[k] the k-th block of dim(p_k) consecutive
 * columns, in the order of Parts. Models Prior whenever every part does.
 *
 *   Independent(parts...)   CTAD: Independent(BoxUniform<float>(...), Gaussian<float>::diagonal(...)).
 *                           Requires at least one part; all parts share scalar_type and execution_space
 *                           (static_assert naming the part index otherwise).
 *   dim()                   Σ_k dim(p_k).
 *   sample                  part k draws with rng.split(k) into a temporary contiguous N × dim(p_k)
 *                           Matrix that is then copied into its column block: parts never share
 *                           counters, and part k's block equals p_k.sample(space, rng.split(k), ·).
 *   log_prob                Σ_k p_k.log_prob(θ_[k]) (each block copied into a contiguous temporary, as
 *                           parts take LayoutRight views); −∞ if any part is −∞, NaN if any is NaN.
 *   support()               the parts' bounds concatenated.
 *   part<k>(), parts()      the parts.
 * Temporaries are allocated per call; all kernels are enqueued on `space`.
 */
template <Prior... Parts>
class Independent {
  static_assert(sizeof...(Parts) > 0, "osbi::Independent<Parts...>: needs at least one part "
                                      "(see osbi/prior/independent.hpp)");
  static_assert(detail::independent_parts_agree<Parts...>(std::index_sequence_for<Parts...>{}));

  using FirstPart = std::tuple_element_t<0, std::tuple<Parts..., void>>;

public:
  using scalar_type = typename FirstPart::scalar_type;
  using execution_space = typename FirstPart::execution_space;
  static constexpr std::size_t part_count = sizeof...(Parts);

  explicit Independent(Parts... parts) : m_parts(std::move(parts)...) {
    std::size_t offset = 0;
    std::size_t k = 0;
    std::apply(
        [&](const auto&... part) { ((m_offsets[k++] = offset, offset += static_cast<std::size_t>(part.dim())), ...); },
        m_parts);
    m_dim = offset;
  }

  std::size_t dim() const { return m_dim; }

  template <std::size_t Index>
  const auto& part() const {
    return std::get<Index>(m_parts);
  }
  const std::tuple<Parts...>& parts() const { return m_parts; }

  /// First column of part k's block.
  std::size_t offset(std::size_t part_index) const { return m_offsets[part_index]; }

  SupportBounds support() const {
    SupportBounds bounds;
    std::apply(
        [&](const auto&... part) {
          (
              [&] {
                const SupportBounds part_bounds = part.support();
                bounds.lower.insert(bounds.lower.end(), part_bounds.lower.begin(), part_bounds.lower.end());
                bounds.upper.insert(bounds.upper.end(), part_bounds.upper.begin(), part_bounds.upper.end());
              }(),
              ...);
        },
        m_parts);
    return bounds;
  }

  void sample(const execution_space& space, BatchRandom rng, const Matrix<scalar_type, execution_space>& theta) const {
    require<DimensionMismatch>(theta.extent(1) == dim(), "osbi::Independent", "sample: theta has ", theta.extent(1),
                               " columns, expected dim() = ", dim());
    sample_parts(space, rng, theta, std::index_sequence_for<Parts...>{});
  }

  void log_prob(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& theta,
                const Vector<scalar_type, execution_space>& out) const {
    require<DimensionMismatch>(theta.extent(1) == dim(), "osbi::Independent", "log_prob: theta has ", theta.extent(1),
                               " columns, expected dim() = ", dim());
    require<DimensionMismatch>(out.extent(0) == theta.extent(0), "osbi::Independent", "log_prob: out has ", out.extent(0),
                               " entries but theta has ", theta.extent(0), " rows");
    Kokkos::parallel_for(
        label("prior", "Independent", "log_prob_zero"), Kokkos::RangePolicy<execution_space>(space, 0, out.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) { out(i) = scalar_type(0); });
    log_prob_parts(space, theta, out, std::index_sequence_for<Parts...>{});
  }

private:
  using MatrixType = Matrix<scalar_type, execution_space>;
  using VectorType = Vector<scalar_type, execution_space>;

  // Implementation below, public only because nvcc's extended lambdas cannot live in private member
  // functions.
public:
  template <std::size_t... Index>
  void sample_parts(const execution_space& space, BatchRandom rng, const MatrixType& theta,
                    std::index_sequence<Index...>) const {
    (sample_part<Index>(space, rng, theta), ...);
  }

  template <std::size_t Index>
  void sample_part(const execution_space& space, BatchRandom rng, const MatrixType& theta) const {
    const auto& part = std::get<Index>(m_parts);
    const std::size_t rows = theta.extent(0);
    const std::size_t width = static_cast<std::size_t>(part.dim());
    const std::size_t offset = m_offsets[Index];
    MatrixType block(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("prior", "Independent", "sample_block")),
                     rows, width);
    part.sample(space, rng.split(static_cast<std::uint32_t>(Index)), block);
    Kokkos::parallel_for(
        label("prior", "Independent", "sample_scatter"), Kokkos::RangePolicy<execution_space>(space, 0, rows),
        KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t j = 0; j < width; ++j)
            theta(i, offset + j) = block(i, j);
        });
  }

  template <std::size_t... Index>
  void log_prob_parts(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& theta,
                      const VectorType& out, std::index_sequence<Index...>) const {
    (log_prob_part<Index>(space, theta, out), ...);
  }

  template <std::size_t Index>
  void log_prob_part(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& theta,
                     const VectorType& out) const {
    const auto& part = std::get<Index>(m_parts);
    const std::size_t rows = theta.extent(0);
    const std::size_t width = static_cast<std::size_t>(part.dim());
    const std::size_t offset = m_offsets[Index];
    MatrixType block(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("prior", "Independent", "log_prob_block")),
                     rows, width);
    VectorType part_out(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("prior", "Independent", "log_prob_part")),
                        rows);
    Kokkos::parallel_for(
        label("prior", "Independent", "log_prob_gather"), Kokkos::RangePolicy<execution_space>(space, 0, rows),
        KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t j = 0; j < width; ++j)
            block(i, j) = theta(i, offset + j);
        });
    part.log_prob(space, block, part_out);
    Kokkos::parallel_for(
        label("prior", "Independent", "log_prob_accumulate"), Kokkos::RangePolicy<execution_space>(space, 0, rows),
        KOKKOS_LAMBDA(const std::size_t i) { out(i) += part_out(i); });
  }

private:
  std::tuple<Parts...> m_parts;
  std::array<std::size_t, sizeof...(Parts)> m_offsets{};
  std::size_t m_dim = 0;
};

} // namespace osbi
