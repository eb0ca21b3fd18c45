// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: CanEvaluateLogProb
/// \brief A prior without log_prob is not an osbi::Prior: osbi::sample rejects it, naming the requirement.
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/prior.hpp>

#include <cstddef>

namespace {

struct NoLogProb {
  using scalar_type = double;
  using execution_space = osbi::DefaultExecutionSpace;
  std::size_t dim() const { return 1; }
  void sample(const execution_space&, osbi::BatchRandom, const osbi::Matrix<double, execution_space>&) const {}
  osbi::SupportBounds support() const { return osbi::SupportBounds::unbounded(1); }
};

} // namespace

int main() {
  osbi::RandomStream rng(1);
  const auto theta = osbi::sample(NoLogProb{}, rng, 10);
  return static_cast<int>(theta.extent(0));
}
