// SPDX-License-Identifier: BSD-3-Clause
/// \brief 2-D fields as tokens: Patchify cuts a height × width × channels field into patch × patch tiles (ViT), and
/// PatchEmbedding projects each tile to a token; specs nn::Patchify and nn::PatchEmbedding.
#pragma once

#include <osbi/nn/dense.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/nn/tokenwise.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace osbi::nn {

/// A field's grid and the tile size: height × width points of `channels` numbers, row-major (y, x, channel),
/// cut into patch × patch tiles.
struct FieldShape {
  std::size_t height = 0, width = 0, channels = 1, patch = 1;

  std::size_t size() const { return height * width * channels; }
  std::size_t patches() const { return (height / patch) * (width / patch); }
  std::size_t patch_size() const { return patch * patch * channels; }
};

/*
 * PatchifyLayer — models Layer (layer.hpp); no parameters. A row is a field (FieldShape: row-major y, x, channel);
 * the output is the same numbers reordered into patches() tokens of patch_size() numbers: token (py, px) in
 * row-major order, and inside it (dy, dx, channel) row-major — a Conv2d(channels, D, patch, stride = patch) is
 * Tokenwise<patch_size(), Dense<D>> after it. A permutation: backward scatters the gradient back exactly.
 * height and width must be multiples of patch (DimensionMismatch otherwise).
 */
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
class PatchifyLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  PatchifyLayer(std::size_t input_dim, const FieldShape& shape) : m_shape(shape) {
    require(shape.height > 0 && shape.width > 0 && shape.channels > 0 && shape.patch > 0, part,
            "height, width, channels and patch must all be > 0");
    require<DimensionMismatch>(shape.height % shape.patch == 0 && shape.width % shape.patch == 0, part, "a ",
                               shape.height, " × ", shape.width, " field does not split into ", shape.patch, " × ",
                               shape.patch, " patches");
    require_extent(input_dim, shape.size(), part, "input_dim (height · width · channels)");
  }

  std::size_t input_dim() const { return m_shape.size(); }
  std::size_t output_dim() const { return m_shape.size(); }
  std::size_t parameter_count() const { return 0; }
  const FieldShape& shape() const { return m_shape; }
  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), 0, part, "the bound parameter buffer");
    require_extent(gradients.extent(0), 0, part, "the bound gradient buffer");
  }
  void initialize(const ExecutionSpace&, BatchRandom) {}

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), input_dim(), part, "forward: input's column count (the field's size)");
    require_extent(output.extent(1), output_dim(), part, "forward: output's column count (the field's size)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    m_batch = input.extent(0);
    m_has_forward = true;
    permute<false>(space, input, output);
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, part, "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), output_dim(), part, "backward: grad_output's column count");
    if (grad_input.data() == nullptr) return;
    require_extent(grad_input.extent(0), m_batch, part, "backward: grad_input's row count (the last forward's batch)");
    require_extent(grad_input.extent(1), input_dim(), part, "backward: grad_input's column count");
    permute<true>(space, grad_output, grad_input);
  }

private:
  static constexpr const char* part = "osbi::nn::PatchifyLayer";

  // The kernels below are implementation, public only because nvcc's extended lambdas cannot live in private
  // member functions.
public:
  /// Forward: target(token-ordered) = source(field-ordered); Inverse: the other way round.
  template <bool Inverse>
  void permute(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& source,
               const Matrix<Scalar, ExecutionSpace>& target) const {
    if (source.extent(0) == 0) return;
    const std::size_t width = m_shape.width, channels = m_shape.channels, patch = m_shape.patch;
    const std::size_t patches_across = width / patch, patch_size = m_shape.patch_size(), size = m_shape.size();
    Kokkos::parallel_for(
        "osbi::nn::PatchifyLayer::permute", Kokkos::RangePolicy<ExecutionSpace>(space, 0, source.extent(0)),
        KOKKOS_LAMBDA(const std::size_t row) {
          for (std::size_t k = 0; k < size; ++k) {
            const std::size_t token = k / patch_size, inside = k % patch_size;
            const std::size_t py = token / patches_across, px = token % patches_across;
            const std::size_t dy = inside / (patch * channels), dx = (inside / channels) % patch, c = inside % channels;
            const std::size_t field_index = ((py * patch + dy) * width + px * patch + dx) * channels + c;
            if constexpr (Inverse) target(row, field_index) = source(row, k);
            else target(row, k) = source(row, field_index);
          }
        });
  }

private:
  FieldShape m_shape;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

/// Spec: a Height × Width field of Channels numbers per point cut into Patch × Patch tokens (no parameters).
template <std::size_t Height, std::size_t Width, std::size_t Patch, std::size_t Channels = 1>
struct Patchify {
  static_assert(Height > 0 && Width > 0 && Patch > 0 && Channels > 0 && Height % Patch == 0 && Width % Patch == 0,
                "osbi::nn::Patchify<Height, Width, Patch, Channels>: Patch must divide Height and Width");
  static constexpr FieldShape shape{Height, Width, Channels, Patch};
  template <class Scalar, class ExecutionSpace>
  class layer : public PatchifyLayer<Scalar, ExecutionSpace> {
  public:
    explicit layer(std::size_t input_dim) : PatchifyLayer<Scalar, ExecutionSpace>(input_dim, shape) {}
  };
};

/// Spec: ViT's patch embedding — Patchify, then one linear map from a tile's Patch²·Channels numbers to a
/// TokenWidth-wide token (shared by all tiles): (Height/Patch)·(Width/Patch) tokens.
template <std::size_t Height, std::size_t Width, std::size_t Patch, std::size_t TokenWidth, std::size_t Channels = 1>
using PatchEmbedding =
    Sequential<Patchify<Height, Width, Patch, Channels>, Tokenwise<Patch * Patch * Channels, Dense<TokenWidth>>>;

} // namespace osbi::nn
