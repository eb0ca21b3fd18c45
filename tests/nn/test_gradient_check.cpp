// SPDX-License-Identifier: BSD-3-Clause
/// \brief The gradient checker itself: it passes a correct layer and names each planted mistake.
#include <osbi/nn/layer.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <nn/layer_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <string>

namespace {

using Space = osbi::DefaultExecutionSpace;

enum class Fault {
  none,
  missing_bias_gradient,
  overwrites_parameter_gradient,
  wrong_input_gradient,
  unwritten_input_gradient_row,
  unwritten_output_entry,
  modifies_grad_output,
};

/// y(r, c) = a[c]·x(r, c)² / 2 + b[c], parameters [a | b]: a minimal Layer with one planted fault.
class Faulty {
public:
  using scalar_type = double;
  using execution_space = Space;

  Faulty(std::size_t dim, Fault fault) : m_dim(dim), m_fault(fault) {}
  std::size_t input_dim() const { return m_dim; }
  std::size_t output_dim() const { return m_dim; }
  std::size_t parameter_count() const { return 2 * m_dim; }
  void bind(const osbi::Vector<double, Space>& parameters, const osbi::Vector<double, Space>& gradients) {
    m_parameters = parameters;
    m_gradients = gradients;
  }
  void initialize(const Space& space, osbi::BatchRandom rng) {
    const osbi::Vector<double, Space> p = m_parameters;
    Kokkos::parallel_for(
        "osbi::test::Faulty::initialize", Kokkos::RangePolicy<Space>(space, 0, p.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) { p(i) = rng.row(i).normal(); });
  }
  void forward(const Space& space, const osbi::ConstMatrix<double, Space>& input,
               const osbi::Matrix<double, Space>& output) {
    m_input = input;
    const osbi::Vector<double, Space> p = m_parameters;
    const std::size_t dim = m_dim;
    const bool skip = m_fault == Fault::unwritten_output_entry;
    Kokkos::parallel_for(
        "osbi::test::Faulty::forward", Kokkos::RangePolicy<Space>(space, 0, input.extent(0)),
        KOKKOS_LAMBDA(const std::size_t r) {
          for (std::size_t c = 0; c < dim; ++c) {
            if (skip && r == 0 && c == 0) continue;
            output(r, c) = p(c) * input(r, c) * input(r, c) / 2 + p(dim + c);
          }
        });
  }
  void backward(const Space& space, const osbi::ConstMatrix<double, Space>& grad_output,
                const osbi::Matrix<double, Space>& grad_input) {
    const osbi::Vector<double, Space> p = m_parameters, g = m_gradients;
    const osbi::ConstMatrix<double, Space> x = m_input;
    const osbi::Matrix<double, Space> upstream(const_cast<double*>(grad_output.data()), grad_output.extent(0),
                                               grad_output.extent(1));
    const std::size_t dim = m_dim, batch = x.extent(0);
    const Fault fault = m_fault;
    Kokkos::parallel_for(
        "osbi::test::Faulty::parameters", Kokkos::RangePolicy<Space>(space, 0, dim),
        KOKKOS_LAMBDA(const std::size_t c) {
          double ga = 0, gb = 0;
          for (std::size_t r = 0; r < batch; ++r) {
            ga += upstream(r, c) * x(r, c) * x(r, c) / 2;
            gb += upstream(r, c);
          }
          if (fault == Fault::overwrites_parameter_gradient) {
            g(c) = ga;
            g(dim + c) = gb;
          } else {
            g(c) += ga;
            if (fault != Fault::missing_bias_gradient) g(dim + c) += gb;
          }
        });
    if (grad_input.data() != nullptr)
      Kokkos::parallel_for(
          "osbi::test::Faulty::input", Kokkos::RangePolicy<Space>(space, 0, batch), KOKKOS_LAMBDA(const std::size_t r) {
            if (fault == Fault::unwritten_input_gradient_row && r + 1 == batch) return;
            for (std::size_t c = 0; c < dim; ++c)
              grad_input(r, c) = upstream(r, c) * p(c) * x(r, c) * (fault == Fault::wrong_input_gradient ? 1.01 : 1.0);
          });
    if (fault == Fault::modifies_grad_output) Kokkos::deep_copy(space, upstream, 0.0);
  }

private:
  std::size_t m_dim;
  Fault m_fault;
  osbi::Vector<double, Space> m_parameters, m_gradients;
  osbi::ConstMatrix<double, Space> m_input;
};

static_assert(osbi::nn::Layer<Faulty>);

osbi::testing::GradientCheckReport check(Fault fault) {
  Faulty layer(3, fault);
  const auto input = osbi::testing::layers::to_device<double>(osbi::testing::layers::random_host(4, 3, 301));
  return osbi::testing::check_gradients(Space(), layer, input);
}

bool mentions(const osbi::testing::GradientCheckReport& report, const std::string& text) {
  return report.summary().find(text) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(nn_gradient_check)

BOOST_AUTO_TEST_CASE(passes_a_correct_layer_and_reports_small_errors) {
  const auto report = check(Fault::none);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.inputs_checked == 12u);
  BOOST_TEST(report.parameters_checked == 6u);
  BOOST_TEST(report.worst_input_error < 1e-7);
  BOOST_TEST(report.worst_parameter_error < 1e-7);
}

BOOST_AUTO_TEST_CASE(names_each_planted_mistake) {
  auto report = check(Fault::missing_bias_gradient);
  BOOST_TEST(!report.passed());
  BOOST_TEST(mentions(report, "parameter 3:"), report.summary());
  report = check(Fault::overwrites_parameter_gradient);
  BOOST_TEST(mentions(report, "do not accumulate"), report.summary());
  report = check(Fault::wrong_input_gradient);
  BOOST_TEST(mentions(report, "input entry 0:"), report.summary());
  BOOST_TEST(report.worst_input_error > 1e-3);
  report = check(Fault::unwritten_input_gradient_row);
  BOOST_TEST(mentions(report, "NaN-prefilled grad_input"), report.summary());
  report = check(Fault::unwritten_output_entry);
  BOOST_TEST(mentions(report, "forward left non-finite"), report.summary());
  report = check(Fault::modifies_grad_output);
  BOOST_TEST(mentions(report, "modified grad_output"), report.summary());
}

BOOST_AUTO_TEST_CASE(refuses_mismatched_inputs) {
  Faulty layer(3, Fault::none);
  const auto input = osbi::testing::layers::to_device<double>(osbi::testing::layers::random_host(2, 4, 302));
  const auto report = osbi::testing::check_gradients(Space(), layer, input);
  BOOST_TEST(mentions(report, "4 columns, the layer's input_dim is 3"), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
