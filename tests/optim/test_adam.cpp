// SPDX-License-Identifier: BSD-3-Clause
/// \brief Adam and AdamW against a hand-written double reference of the published update (and PyTorch
/// when it is installed), option and shape validation, backend agreement, state round trips, and a
/// least-squares fit through the dense kernels that must reach a stated loss.
#include <osbi/optim/adam.hpp>
#include <osbi/optim/clip.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/optim/schedule.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/nn/kernels/activation.hpp>
#include <osbi/nn/kernels/dense.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <sys/wait.h>

namespace {

namespace fs = std::filesystem;
namespace optim = osbi::optim;

static_assert(optim::Optimizer<optim::Adam<float, Kokkos::Serial>>);
static_assert(optim::Optimizer<optim::AdamW<double, Kokkos::DefaultExecutionSpace>>);
static_assert(!optim::Optimizer<int>);

using Space = Kokkos::DefaultExecutionSpace;

// The test problem: 7 parameters (a zero, negatives, one large), three gradient vectors (a zero
// gradient exercises ε, a sign change the moments).
const std::vector<double> initial_parameters = {0.5, -1.25, 0.0, 3.0, -0.001, 2.5, 100.0};
const std::vector<std::vector<double>> gradient_sequence = {
    {0.1, -0.2, 0.0, 4.0, 1e-3, -0.5, 2.0},
    {-0.3, -0.1, 0.0, 2.0, 2e-3, 0.5, -7.0},
    {0.05, 0.4, 1e-6, -1.0, -1e-3, 0.25, 0.5},
};

// The published rule (Kingma & Ba, Algorithm 1, as PyTorch's docs write it, ε outside the bias-
// corrected square root), in double, independent of the kernel.
struct ReferenceAdam {
  double lr, beta1, beta2, epsilon, weight_decay;
  bool decoupled;
  std::vector<double> parameters, m, v;
  int t = 0;

  void step(const std::vector<double>& gradient) {
    ++t;
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      double g = gradient[i];
      if (decoupled)
        parameters[i] -= lr * weight_decay * parameters[i];
      else
        g += weight_decay * parameters[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(beta1, t));
      const double v_hat = v[i] / (1 - std::pow(beta2, t));
      parameters[i] -= lr * m_hat / (std::sqrt(v_hat) + epsilon);
    }
  }
};

template <class Scalar, class ExecutionSpace>
osbi::Vector<Scalar, ExecutionSpace> make_vector(const std::vector<double>& values, const std::string& name) {
  osbi::Vector<Scalar, ExecutionSpace> view(name, values.size());
  auto host = Kokkos::create_mirror_view(view);
  for (std::size_t i = 0; i < values.size(); ++i) host(i) = static_cast<Scalar>(values[i]);
  Kokkos::deep_copy(view, host);
  return view;
}

template <class ViewType>
std::vector<double> to_vector(const ViewType& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  std::vector<double> values(host.extent(0));
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(host(i));
  return values;
}

// Runs `steps` steps of optimizer Opt on the test problem; returns the parameters.
template <class Opt>
std::vector<double> run_problem(const typename Opt::options_type& options, int steps) {
  using Scalar = typename Opt::scalar_type;
  using ExecutionSpace = typename Opt::execution_space;
  const ExecutionSpace space;
  auto parameters = make_vector<Scalar, ExecutionSpace>(initial_parameters, "osbi::test::parameters");
  Opt optimizer(initial_parameters.size(), options);
  for (int s = 0; s < steps; ++s) {
    const auto gradients = make_vector<Scalar, ExecutionSpace>(gradient_sequence[s], "osbi::test::gradients");
    optimizer.step(space, parameters, gradients);
  }
  space.fence();
  BOOST_TEST(optimizer.step_count() == static_cast<std::uint64_t>(steps));
  return to_vector(parameters);
}

// |ours − reference| within tolerance · max(1, |reference|), element by element.
void check_close(const std::vector<double>& ours, const std::vector<double>& reference, double tolerance,
                 const std::string& context) {
  BOOST_REQUIRE_EQUAL(ours.size(), reference.size());
  for (std::size_t i = 0; i < ours.size(); ++i)
    BOOST_TEST(std::abs(ours[i] - reference[i]) <= tolerance * std::max(1.0, std::abs(reference[i])),
               context << ": parameter " << i << " is " << ours[i] << ", reference " << reference[i]);
}

template <class Mode>
std::vector<double> reference_run(const optim::AdamOptions<Mode>& options, int steps) {
  ReferenceAdam reference{options.learning_rate,
                          options.beta1,
                          options.beta2,
                          options.epsilon,
                          options.weight_decay,
                          std::is_same_v<Mode, optim::DecoupledWeightDecay>,
                          initial_parameters,
                          std::vector<double>(initial_parameters.size(), 0.0),
                          std::vector<double>(initial_parameters.size(), 0.0)};
  for (int s = 0; s < steps; ++s) reference.step(gradient_sequence[s]);
  return reference.parameters;
}

// Float tracks the double reference to float rounding of the parameters; double to a few ulps.
template <class Scalar>
constexpr double tolerance = std::is_same_v<Scalar, float> ? 2e-6 : 1e-13;

// PyTorch from the Debian package (the python3 first on PATH may be another interpreter).
const char* const python = "/usr/bin/python3";

// Exit status of a PyTorch script that could not import torch (one interpreter start, not two).
constexpr int no_torch = 3;
const char* const torch_import = "import sys\ntry:\n    import torch\nexcept ImportError:\n    sys.exit(3)\n";

// Runs `code` with argv[1] = `output`; returns the exit status, or no_torch if python3 is missing.
int run_torch_script(const std::string& code, const fs::path& output) {
  if (!fs::exists(python)) return no_torch;
  const fs::path script = output.string() + ".py";
  std::ofstream(script) << torch_import << code;
  const int status = std::system((std::string(python) + " '" + script.string() + "' '" + output.string() + "'").c_str());
  fs::remove(script);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string python_list(const std::vector<double>& values) {
  std::ostringstream text;
  text.precision(17);
  text << "[";
  for (double value : values) text << value << ",";
  return text.str() + "]";
}

using Scalars = std::tuple<float, double>;

} // namespace

BOOST_AUTO_TEST_SUITE(adam)

BOOST_AUTO_TEST_CASE(first_step_without_decay_is_lr_times_the_sign_of_the_gradient) {
  // t = 1: m̂ = g, v̂ = g², so θ₁ = θ₀ − lr·g/(|g| + ε): worked out by hand, no reference code.
  optim::AdamOptions<> options;
  options.learning_rate = 0.01;
  const auto ours = run_problem<optim::Adam<double, Space>>(options, 1);
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const double g = gradient_sequence[0][i];
    const double expected = initial_parameters[i] - 0.01 * g / (std::abs(g) + 1e-8);
    BOOST_TEST(std::abs(ours[i] - expected) <= 1e-15 * std::max(1.0, std::abs(expected)), "parameter " << i);
  }
  BOOST_TEST(ours[2] == 0.0); // g = 0: no move at all
}

BOOST_AUTO_TEST_CASE_TEMPLATE(adam_with_l2_weight_decay_matches_the_reference, Scalar, Scalars) {
  optim::AdamOptions<optim::L2WeightDecay> options;
  options.learning_rate = 0.05;
  options.beta1 = 0.8;
  options.beta2 = 0.95;
  options.epsilon = 1e-6;
  options.weight_decay = 0.1;
  for (int steps : {1, 3})
    check_close(run_problem<optim::Adam<Scalar, Space>>(options, steps), reference_run(options, steps),
                tolerance<Scalar>, "Adam, " + std::to_string(steps) + " step(s)");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(adamw_with_decoupled_weight_decay_matches_the_reference, Scalar, Scalars) {
  optim::AdamWOptions options;
  BOOST_TEST(options.weight_decay == 1e-2); // PyTorch's AdamW default
  options.learning_rate = 0.05;
  options.weight_decay = 0.3;
  for (int steps : {1, 3})
    check_close(run_problem<optim::AdamW<Scalar, Space>>(options, steps), reference_run(options, steps),
                tolerance<Scalar>, "AdamW, " + std::to_string(steps) + " step(s)");
  // The two modes differ: decoupled decay is not L2 decay.
  optim::AdamOptions<> l2;
  l2.learning_rate = 0.05;
  l2.weight_decay = 0.3;
  BOOST_TEST(reference_run(options, 3) != reference_run(l2, 3));
}

BOOST_AUTO_TEST_CASE(defaults_are_sbi_and_pytorch_defaults) {
  const optim::AdamOptions<> options;
  BOOST_TEST(options.learning_rate == 5e-4);
  BOOST_TEST(options.beta1 == 0.9);
  BOOST_TEST(options.beta2 == 0.999);
  BOOST_TEST(options.epsilon == 1e-8);
  BOOST_TEST(options.weight_decay == 0.0);
  const optim::Adam<float, Space> optimizer(3);
  BOOST_TEST(optimizer.learning_rate() == 5e-4);
  BOOST_TEST(optimizer.parameter_count() == 3u);
  BOOST_TEST(optimizer.step_count() == 0u);
  BOOST_TEST(to_vector(optimizer.exp_avg()) == std::vector<double>(3, 0.0));
}

BOOST_AUTO_TEST_CASE(matches_pytorch_when_installed) {
  const fs::path output = fs::temp_directory_path() / ("osbi_test_adam_" + std::to_string(std::random_device()()));
  std::string gradients = "[";
  for (const auto& g : gradient_sequence) gradients += python_list(g) + ",";
  gradients += "]";
  const std::string code =
      "P0 = " + python_list(initial_parameters) + "\n"
      "G = " + gradients + "\n"
      "def run(cls, dtype, **kw):\n"
      "    p = torch.tensor(P0, dtype=dtype)\n"
      "    opt = cls([p], foreach=False, **kw)\n"
      "    for g in G:\n"
      "        p.grad = torch.tensor(g, dtype=dtype)\n"
      "        opt.step()\n"
      "    return ' '.join(repr(x) for x in p.tolist())\n"
      "kw = dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)\n"
      "with open(sys.argv[1], 'w') as out:\n"
      "    for name, cls in (('adam', torch.optim.Adam), ('adamw', torch.optim.AdamW)):\n"
      "        for dname, dtype in (('f32', torch.float32), ('f64', torch.float64)):\n"
      "            out.write(name + ' ' + dname + ' ' + run(cls, dtype, **kw) + '\\n')\n";
  const int status = run_torch_script(code, output);
  if (status == no_torch) {
    BOOST_TEST_MESSAGE("PyTorch is not importable by " << python
                                                       << ": skipping the comparison with torch.optim "
                                                          "(apt-get install python3-torch); the hand reference stands");
    return;
  }
  BOOST_REQUIRE_MESSAGE(status == 0, "the PyTorch script failed with status " << status);
  std::map<std::string, std::vector<double>> torch_result;
  std::ifstream in(output);
  std::string name, dtype;
  while (in >> name >> dtype) {
    std::vector<double>& values = torch_result[name + " " + dtype];
    for (std::size_t i = 0; i < initial_parameters.size(); ++i) {
      std::string text;
      in >> text;
      values.push_back(std::stod(text));
    }
  }
  fs::remove(output);
  BOOST_REQUIRE_EQUAL(torch_result.size(), 4u);

  optim::AdamOptions<optim::L2WeightDecay> adam;
  adam.learning_rate = 0.05;
  adam.beta1 = 0.8;
  adam.beta2 = 0.95;
  adam.epsilon = 1e-6;
  adam.weight_decay = 0.1;
  optim::AdamWOptions adamw;
  adamw.learning_rate = adam.learning_rate;
  adamw.beta1 = adam.beta1;
  adamw.beta2 = adam.beta2;
  adamw.epsilon = adam.epsilon;
  adamw.weight_decay = adam.weight_decay;
  // float64: same arithmetic up to a few ulps; float32: torch computes in float too, so the results
  // agree to float rounding (one or two ulps of the parameter).
  check_close(run_problem<optim::Adam<double, Space>>(adam, 3), torch_result["adam f64"], 1e-14, "torch Adam f64");
  check_close(run_problem<optim::AdamW<double, Space>>(adamw, 3), torch_result["adamw f64"], 1e-14, "torch AdamW f64");
  check_close(run_problem<optim::Adam<float, Space>>(adam, 3), torch_result["adam f32"], 3e-7, "torch Adam f32");
  check_close(run_problem<optim::AdamW<float, Space>>(adamw, 3), torch_result["adamw f32"], 3e-7, "torch AdamW f32");
  // And torch agrees with our hand reference (the oracle of the other tests).
  check_close(torch_result["adam f64"], reference_run(adam, 3), 1e-13, "torch vs hand reference");
}

BOOST_AUTO_TEST_CASE(rejects_options_outside_their_domain) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  struct Case {
    const char* field;
    double value;
  };
  const Case cases[] = {{"learning_rate", 0.0}, {"learning_rate", -1e-3}, {"learning_rate", nan},
                        {"learning_rate", inf}, {"beta1", -0.1},          {"beta1", 1.0},
                        {"beta1", nan},         {"beta2", 1.0},           {"beta2", -1e-9},
                        {"epsilon", 0.0},       {"epsilon", -1e-8},       {"epsilon", inf},
                        {"weight_decay", -0.1}, {"weight_decay", nan},    {"weight_decay", inf}};
  for (const Case& c : cases) {
    optim::AdamOptions<> options;
    if (std::string(c.field) == "learning_rate") options.learning_rate = c.value;
    if (std::string(c.field) == "beta1") options.beta1 = c.value;
    if (std::string(c.field) == "beta2") options.beta2 = c.value;
    if (std::string(c.field) == "epsilon") options.epsilon = c.value;
    if (std::string(c.field) == "weight_decay") options.weight_decay = c.value;
    try {
      optim::Adam<float, Space> optimizer(4, options);
      BOOST_ERROR(c.field << " = " << c.value << " was accepted");
    } catch (const osbi::InvalidArgument& error) {
      BOOST_TEST(std::string(error.what()).find(c.field) != std::string::npos, error.what());
    }
  }
  optim::AdamW<float, Space> optimizer(4);
  BOOST_CHECK_THROW(optimizer.set_learning_rate(-1.0), osbi::InvalidArgument);
  BOOST_CHECK_THROW(optimizer.set_learning_rate(nan), osbi::InvalidArgument);
  optimizer.set_learning_rate(0.0); // a schedule may reach zero
  BOOST_TEST(optimizer.learning_rate() == 0.0);
}

BOOST_AUTO_TEST_CASE(rejects_buffers_of_the_wrong_length) {
  const Space space;
  optim::Adam<float, Space> optimizer(5);
  osbi::Vector<float, Space> five("osbi::test::five", 5), six("osbi::test::six", 6);
  const auto expect = [&](const osbi::Vector<float, Space>& parameters, const osbi::Vector<float, Space>& gradients,
                          const std::string& sizes) {
    try {
      optimizer.step(space, parameters, gradients);
      BOOST_ERROR("a step with " << sizes << " was accepted");
    } catch (const osbi::DimensionMismatch& error) {
      const std::string message = error.what();
      BOOST_TEST((message.find("6") != std::string::npos && message.find("5") != std::string::npos), message);
    }
  };
  expect(six, six, "6 parameters for 5");
  expect(five, six, "6 gradients for 5 parameters");
  BOOST_TEST(optimizer.step_count() == 0u); // nothing happened
  optim::Adam<float, Space> empty(0);
  empty.step(space, osbi::Vector<float, Space>(), osbi::Vector<float, Space>()); // zero parameters: a no-op step
  BOOST_TEST(empty.step_count() == 1u);
}

BOOST_AUTO_TEST_CASE(serial_and_openmp_give_identical_bits) {
  const std::size_t n = 20011;
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 40).at(0);
  std::vector<std::vector<double>> gradients(5, std::vector<double>(n));
  std::vector<double> start(n);
  for (std::size_t i = 0; i < n; ++i) {
    osbi::RowRandom row = rng.row(i);
    start[i] = row.normal();
    for (auto& g : gradients) g[i] = row.normal(0.0, 3.0);
  }
  const auto run = [&](auto space) {
    using ExecutionSpace = decltype(space);
    auto parameters = make_vector<float, ExecutionSpace>(start, "osbi::test::parameters");
    optim::AdamOptions<> options;
    options.learning_rate = 1e-2;
    options.weight_decay = 0.05;
    optim::Adam<float, ExecutionSpace> optimizer(n, options);
    for (const auto& g : gradients)
      optimizer.step(space, parameters, make_vector<float, ExecutionSpace>(g, "osbi::test::gradients"));
    space.fence();
    return std::make_tuple(to_vector(parameters), to_vector(optimizer.exp_avg()), to_vector(optimizer.exp_avg_sq()));
  };
  const auto serial = run(Kokkos::Serial());
#if defined(KOKKOS_ENABLE_OPENMP)
  const auto openmp = run(Kokkos::OpenMP());
  BOOST_TEST((serial == openmp));
#endif
  const auto repeated = run(Kokkos::Serial());
  BOOST_TEST((serial == repeated));
}

BOOST_AUTO_TEST_CASE(state_round_trip_continues_bit_identically) {
  const Space space;
  optim::AdamWOptions options;
  options.learning_rate = 0.02;
  optim::AdamW<float, Space> original(initial_parameters.size(), options);
  auto parameters = make_vector<float, Space>(initial_parameters, "osbi::test::parameters");
  original.step(space, parameters, make_vector<float, Space>(gradient_sequence[0], "osbi::test::g"));
  original.set_learning_rate(0.01);

  // A copy of the state (state() hands out live buffers), loaded into a fresh optimizer.
  auto saved = original.state();
  for (auto& [name, buffer] : saved.buffers) {
    osbi::Vector<float, Space> copy("osbi::test::copy", buffer.extent(0));
    Kokkos::deep_copy(copy, buffer);
    buffer = copy;
  }
  BOOST_TEST(saved.kind == "AdamW");
  BOOST_TEST(saved.counters.at("step") == 1u);
  optim::AdamW<float, Space> restored(initial_parameters.size());
  restored.load_state(space, saved);
  BOOST_TEST(restored.learning_rate() == 0.01);
  BOOST_TEST(restored.step_count() == 1u);

  osbi::Vector<float, Space> parameters_copy("osbi::test::parameters_copy", parameters.extent(0));
  Kokkos::deep_copy(parameters_copy, parameters);
  for (int s = 1; s < 3; ++s) {
    const auto g = make_vector<float, Space>(gradient_sequence[s], "osbi::test::g");
    original.step(space, parameters, g);
    restored.step(space, parameters_copy, g);
  }
  space.fence();
  BOOST_TEST(to_vector(parameters) == to_vector(parameters_copy));
  BOOST_TEST(to_vector(original.exp_avg_sq()) == to_vector(restored.exp_avg_sq()));

  // Rejected states leave the optimizer as it was.
  optim::Adam<float, Space> plain(initial_parameters.size());
  BOOST_CHECK_THROW(plain.load_state(space, saved), osbi::DataError); // kind AdamW into Adam
  auto wrong_size = saved;
  wrong_size.buffers["exp_avg"] = osbi::Vector<float, Space>("osbi::test::short", 3);
  BOOST_CHECK_THROW(restored.load_state(space, wrong_size), osbi::DimensionMismatch);
  auto missing = saved;
  missing.reals.erase("beta2");
  BOOST_CHECK_THROW(restored.load_state(space, missing), osbi::DataError);
  auto bad_beta = saved;
  bad_beta.reals["beta1"] = 1.5;
  BOOST_CHECK_THROW(restored.load_state(space, bad_beta), osbi::DataError);
  BOOST_TEST(restored.step_count() == 3u);
  BOOST_TEST(restored.options().beta1 == 0.9);
}

BOOST_AUTO_TEST_CASE(least_squares_fit_through_the_dense_kernels_reaches_the_stated_loss) {
  // y = A·x + b with x ~ N(0, I): the optimum is (A, b) with loss 0. Adam + cosine schedule +
  // clipping from zero parameters must bring the mean squared error below 1e-8 in 400 steps (the
  // start is about 7; it ends near 1e-11 for every seed tried). Deterministic given the seed.
  using Scalar = float;
  const Space space;
  const std::size_t in = 4, out = 2, batch = 128, steps = 400;
  const double a[out][in] = {{1.0, -2.0, 0.5, 0.0}, {0.3, 0.7, -1.1, 2.0}};
  const double b[out] = {0.25, -1.5};
  osbi::Matrix<Scalar, Space> x("osbi::test::x", batch, in), y("osbi::test::y", batch, out),
      prediction("osbi::test::prediction", batch, out), grad_z("osbi::test::grad_z", batch, out);
  {
    auto host_x = Kokkos::create_mirror_view(x);
    auto host_y = Kokkos::create_mirror_view(y);
    const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 41).at(0);
    for (std::size_t row = 0; row < batch; ++row) {
      osbi::RowRandom generator = rng.row(row);
      for (std::size_t j = 0; j < in; ++j) host_x(row, j) = static_cast<Scalar>(generator.normal());
      for (std::size_t k = 0; k < out; ++k) {
        double sum = b[k];
        for (std::size_t j = 0; j < in; ++j) sum += a[k][j] * static_cast<double>(host_x(row, j));
        host_y(row, k) = static_cast<Scalar>(sum);
      }
    }
    Kokkos::deep_copy(x, host_x);
    Kokkos::deep_copy(y, host_y);
  }
  // One flat buffer: weight (out × in, row-major) then bias, as a network would lay it out.
  const std::size_t count = out * in + out;
  osbi::Vector<Scalar, Space> parameters("osbi::test::parameters", count), gradients("osbi::test::gradients", count);
  const osbi::Matrix<Scalar, Space> weight(parameters.data(), out, in), grad_weight(gradients.data(), out, in);
  const osbi::Vector<Scalar, Space> bias(parameters.data() + out * in, out),
      grad_bias(gradients.data() + out * in, out);
  osbi::nn::kernels::GemmWorkspace<Scalar, Space> workspace;
  optim::AdamOptions<> options;
  options.learning_rate = 0.05;
  optim::Adam<Scalar, Space> optimizer(count, options);
  const optim::CosineAnnealing schedule = optim::CosineAnnealing(0.05, steps, 1e-4).with_warmup(20);

  const auto loss_and_gradient = [&] {
    osbi::nn::kernels::dense_forward(space, x, weight, bias, prediction, workspace);
    const double scale = 2.0 / static_cast<double>(batch * out);
    double loss = 0.0;
    Kokkos::parallel_reduce(
        "osbi::test::residual", Kokkos::RangePolicy<Space>(space, 0, batch),
        KOKKOS_LAMBDA(const std::size_t row, double& sum) {
          for (std::size_t k = 0; k < out; ++k) {
            const Scalar residual = prediction(row, k) - y(row, k);
            grad_z(row, k) = static_cast<Scalar>(scale) * residual;
            sum += static_cast<double>(residual) * residual;
          }
        },
        loss);
    Kokkos::deep_copy(space, gradients, Scalar(0));
    osbi::nn::kernels::dense_backward_parameters(space, grad_z, x, grad_weight, grad_bias, workspace);
    space.fence();
    return loss / static_cast<double>(batch * out);
  };

  const double initial_loss = loss_and_gradient();
  BOOST_TEST(initial_loss > 1.0);
  double loss = initial_loss;
  for (std::size_t step = 0; step < steps; ++step) {
    optim::clip_gradient_norm(space, gradients, 5.0);
    optimizer.set_learning_rate(schedule(optimizer.step_count()));
    optimizer.step(space, parameters, gradients);
    loss = loss_and_gradient();
  }
  BOOST_TEST_MESSAGE("least squares: loss " << initial_loss << " -> " << loss << " in " << steps << " steps");
  BOOST_TEST(loss < 1e-8);
  const auto fitted = to_vector(parameters);
  for (std::size_t k = 0; k < out; ++k) {
    for (std::size_t j = 0; j < in; ++j) BOOST_TEST(std::abs(fitted[k * in + j] - a[k][j]) < 1e-3);
    BOOST_TEST(std::abs(fitted[out * in + k] - b[k]) < 1e-3);
  }
}

BOOST_AUTO_TEST_CASE(the_float_square_root_of_the_update_is_within_three_ulp) {
  // The update's branch-free √v (nn::activation::sqrt_nonnegative) against the double library over every 61st normal float,
  // and its ends: 0 → 0, +∞ → +∞, NaN → NaN; double goes through the library's sqrt exactly.
  double worst = 0;
  float at = 0;
  for (std::uint32_t bits = 0x00800000u; bits < 0x7f800000u; bits += 61) {
    float v;
    std::memcpy(&v, &bits, sizeof v);
    const double exact = std::sqrt(static_cast<double>(v));
    const float nearest = static_cast<float>(exact);
    const double ulp = static_cast<double>(std::nextafter(nearest, std::numeric_limits<float>::infinity()) - nearest);
    const double error = std::abs(static_cast<double>(osbi::nn::activation::sqrt_nonnegative(v)) - exact) / ulp;
    if (error > worst) worst = error, at = v;
  }
  BOOST_TEST_INFO("worst at " << at);
  BOOST_TEST(worst <= 3.0);
  BOOST_TEST(osbi::nn::activation::sqrt_nonnegative(0.0f) == 0.0f);
  BOOST_TEST(osbi::nn::activation::sqrt_nonnegative(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
  BOOST_TEST(std::isnan(osbi::nn::activation::sqrt_nonnegative(std::numeric_limits<float>::quiet_NaN())));
  BOOST_TEST(osbi::nn::activation::sqrt_nonnegative(2.0) == std::sqrt(2.0));
}

BOOST_AUTO_TEST_SUITE_END()
