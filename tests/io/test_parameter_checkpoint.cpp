// SPDX-License-Identifier: BSD-3-Clause
/// \brief A flat parameter vector in a checkpoint: bit-exact round trip; a length or type mismatch is rejected by name.
#include <osbi/io/parameter_checkpoint.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <support/files.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstring>
#include <filesystem>

namespace {

namespace fs = std::filesystem;
using Space = Kokkos::DefaultExecutionSpace;

using osbi::testing::contains;
using osbi::testing::ScratchDirectory;

} // namespace

BOOST_AUTO_TEST_SUITE(parameter_checkpoint)

BOOST_AUTO_TEST_CASE(parameters_round_trip_and_length_mismatch) {
  ScratchDirectory scratch;
  const fs::path path = scratch.path / "parameters.osbi";
  osbi::Vector<float, Space> parameters("osbi::test::parameters", 30);
  Kokkos::parallel_for(
      "osbi::test::fill", Kokkos::RangePolicy<Space>(0, 30),
      KOKKOS_LAMBDA(const std::size_t i) { parameters(i) = 1.0f / static_cast<float>(i + 1); });
  Kokkos::fence();
  osbi::save_parameters(path, parameters);
  osbi::Vector<float, Space> back("osbi::test::back", 30);
  osbi::load_parameters(path, back);
  auto a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters);
  auto b = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), back);
  BOOST_TEST(std::memcmp(a.data(), b.data(), 30 * sizeof(float)) == 0);
  osbi::Vector<float, Space> wrong("osbi::test::wrong", 31);
  try {
    osbi::load_parameters(path, wrong);
    BOOST_ERROR("31 parameters loaded from a file of 30");
  } catch (const osbi::DimensionMismatch& error) {
    BOOST_TEST((contains(error.what(), "31") && contains(error.what(), "30")), error.what());
  }
  osbi::Vector<double, Space> wrong_type("osbi::test::wrong_type", 30);
  BOOST_CHECK_THROW(osbi::load_parameters(path, wrong_type), osbi::DataError);
}

BOOST_AUTO_TEST_SUITE_END()
