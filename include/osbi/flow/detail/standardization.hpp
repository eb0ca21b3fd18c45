// SPDX-License-Identifier: BSD-3-Clause
/// \brief FlowStandardization: the fixed z-scoring of θ and x around an autoregressive flow (MAF, NSF).
#pragma once

#include <osbi/flow/detail/checks.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace osbi::detail {

/// output(i, j) = (input(broadcast ? 0 : i, j) − mean(j)) / deviation(j) over output's rows and mean's size.
/// (A free function: nvcc refuses device lambdas inside private members.)
template <class Scalar, class ExecutionSpace>
void flow_z_score(const ExecutionSpace& space, const std::string& kernel_label,
                  const ConstMatrix<Scalar, ExecutionSpace>& input, const ConstVector<Scalar, ExecutionSpace>& mean,
                  const ConstVector<Scalar, ExecutionSpace>& deviation, bool broadcast,
                  const Matrix<Scalar, ExecutionSpace>& output) {
  const std::size_t rows = output.extent(0), columns = mean.extent(0);
  Kokkos::parallel_for(
      kernel_label, Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {rows, columns}),
      KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
        output(i, j) = (input(broadcast ? 0 : i, j) - mean(j)) / deviation(j);
      });
}

/*
 * FlowStandardization — the z-scoring of a conditional flow:
 *
 *   y₀ = (θ − θ_mean) / θ_std     an affine transform of the flow (standardize; unstandardize inverts it),
 *                                 whose log-determinant log_det() = −Σ_j log θ_std_j counts in log q
 *   c  = (x − x_mean) / x_std     the fixed embedding of the context (embed)
 *
 * It starts as the identity. set() checks its arguments as the owning flow's set_standardization
 * documents (its messages name that member and the owner's part) and replaces the device vectors
 * (never writes into them), so a copy keeps the values it had. Views and kernels are labelled
 * "osbi::flow::<Part>::<step>" with the owner's part (e.g. "osbi::flow::ConditionalMAF::embed"), so profiles
 * still group them by flow.
 */
template <class Scalar, class ExecutionSpace>
class FlowStandardization {
public:
  /// The identity on theta_dim and context_dim coordinates; `part` names the owner (a string literal).
  FlowStandardization(const char* part, std::size_t theta_dim, std::size_t context_dim)
      : m_part(part), m_theta_dim(theta_dim), m_context_dim(context_dim) {
    set(std::vector<double>(theta_dim, 0.0), std::vector<double>(theta_dim, 1.0), std::vector<double>(context_dim, 0.0),
        std::vector<double>(context_dim, 1.0));
  }

  /// Standard deviations finite and > 0, means finite; sizes theta_dim and context_dim.
  void set(const std::vector<double>& theta_mean, const std::vector<double>& theta_std,
           const std::vector<double>& x_mean, const std::vector<double>& x_std) {
    require_extent(theta_mean.size(), m_theta_dim, m_part, "set_standardization: theta_mean's size (theta_dim)");
    require_extent(theta_std.size(), m_theta_dim, m_part, "set_standardization: theta_std's size (theta_dim)");
    require_extent(x_mean.size(), m_context_dim, m_part, "set_standardization: x_mean's size (context_dim)");
    require_extent(x_std.size(), m_context_dim, m_part, "set_standardization: x_std's size (context_dim)");
    check_finite(theta_mean, theta_std, "theta");
    check_finite(x_mean, x_std, "x");
    m_theta_mean = to_device(theta_mean, "theta_mean");
    m_theta_std = to_device(theta_std, "theta_std");
    m_x_mean = to_device(x_mean, "x_mean");
    m_x_std = to_device(x_std, "x_std");
    double log_det = 0.0;
    for (double deviation : theta_std)
      log_det -= std::log(deviation);
    m_log_det = log_det;
  }

  ConstVector<Scalar, ExecutionSpace> theta_mean() const { return m_theta_mean; }
  ConstVector<Scalar, ExecutionSpace> theta_std() const { return m_theta_std; }
  ConstVector<Scalar, ExecutionSpace> x_mean() const { return m_x_mean; }
  ConstVector<Scalar, ExecutionSpace> x_std() const { return m_x_std; }
  /// log |∂y₀/∂θ| = −Σ_j log θ_std_j, in double.
  double log_det() const { return m_log_det; }

  /// context = (x − x_mean) / x_std over context's rows; with `broadcast` every row uses x's row 0.
  void embed(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x, bool broadcast,
             const Matrix<Scalar, ExecutionSpace>& context) const {
    flow_z_score<Scalar>(space, step_label("embed"), x, m_x_mean, m_x_std, broadcast, context);
  }

  /// y = (θ − θ_mean) / θ_std over y's rows.
  void standardize(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                   const Matrix<Scalar, ExecutionSpace>& y) const {
    flow_z_score<Scalar>(space, step_label("standardize"), theta, m_theta_mean, m_theta_std, false, y);
  }

  /// θ = y·θ_std + θ_mean over θ's rows.
  void unstandardize(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& y,
                     const Matrix<Scalar, ExecutionSpace>& theta) const {
    const Matrix<Scalar, ExecutionSpace> output = theta;
    const ConstVector<Scalar, ExecutionSpace> mean = m_theta_mean, deviation = m_theta_std;
    const ConstMatrix<Scalar, ExecutionSpace> input = y;
    const std::size_t rows = output.extent(0);
    Kokkos::parallel_for(
        step_label("unstandardize"),
        Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {rows, m_theta_dim}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
          output(i, j) = input(i, j) * deviation(j) + mean(j);
        });
  }

private:
  std::string step_label(std::string_view step) const { return flow_label(m_part, step); }

  void check_finite(const std::vector<double>& mean, const std::vector<double>& deviation, const char* name) const {
    for (std::size_t j = 0; j < mean.size(); ++j) {
      require(std::isfinite(mean[j]), m_part, "set_standardization: ", name, "_mean[", j, "] = ", mean[j],
              " must be finite");
      require(std::isfinite(deviation[j]) && deviation[j] > 0.0, m_part, "set_standardization: ", name, "_std[", j,
              "] = ", deviation[j], " must be finite and > 0");
    }
  }

  Vector<Scalar, ExecutionSpace> to_device(const std::vector<double>& values, const char* name) const {
    Vector<Scalar, ExecutionSpace> device(step_label(name), values.size());
    auto host = Kokkos::create_mirror_view(device);
    for (std::size_t j = 0; j < values.size(); ++j)
      host(j) = static_cast<Scalar>(values[j]);
    Kokkos::deep_copy(device, host);
    return device;
  }

  const char* m_part;
  std::size_t m_theta_dim, m_context_dim;
  Vector<Scalar, ExecutionSpace> m_theta_mean, m_theta_std, m_x_mean, m_x_std;
  double m_log_det = 0.0;
};

} // namespace osbi::detail
