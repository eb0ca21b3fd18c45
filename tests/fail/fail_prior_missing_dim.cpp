// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: Prior<Parts>
/// \brief A part without dim() cannot enter osbi::Independent: its `Prior... Parts` head names the requirement.
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/independent.hpp>
#include <osbi/prior/prior.hpp>

namespace {

struct NoDim {
  using scalar_type = double;
  using execution_space = osbi::DefaultExecutionSpace;
  void sample(const execution_space&, osbi::BatchRandom, const osbi::Matrix<double, execution_space>&) const {}
  void log_prob(const execution_space&, const osbi::ConstMatrix<double, execution_space>&,
                const osbi::Vector<double, execution_space>&) const {}
  osbi::SupportBounds support() const { return osbi::SupportBounds::unbounded(1); }
};

} // namespace

int main() {
  osbi::Independent<NoDim> product(NoDim{});
  return static_cast<int>(sizeof(product));
}
