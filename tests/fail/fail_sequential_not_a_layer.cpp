// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: Position = 1; Spec = [^;]*NotALayerSpec.*is not a LayerSpec
/// \brief A type without a bound layer cannot enter nn::Sequential: the message names LayerSpec and the position.
#include <osbi/core/types.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/sequential.hpp>

namespace {

// Looks like a layer, but is not a spec: no member template layer<Scalar, ExecutionSpace>.
struct NotALayerSpec {
  static constexpr std::size_t output_dim = 4;
};

} // namespace

int main() {
  using Broken = osbi::nn::Sequential<osbi::nn::Dense<8>, NotALayerSpec, osbi::nn::Dense<2>>;
  osbi::nn::bind_t<Broken, double> layer(3);
  return static_cast<int>(layer.output_dim());
}
