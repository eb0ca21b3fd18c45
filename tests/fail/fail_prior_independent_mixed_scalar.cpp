// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: IndependentPartCheck<k, Part, FirstPart> in the instantiation note, has a scalar_type different
/// \brief Parts of an osbi::Independent must share one scalar_type; the assertion names the part's index.
#include <osbi/prior/box_uniform.hpp>
#include <osbi/prior/independent.hpp>

#include <vector>

int main() {
  const osbi::Independent product(osbi::BoxUniform<double>(std::vector<double>{0}, std::vector<double>{1}),
                                  osbi::BoxUniform<float>(std::vector<double>{0}, std::vector<double>{1}));
  return static_cast<int>(product.dim());
}
