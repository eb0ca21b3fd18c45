// SPDX-License-Identifier: BSD-3-Clause
/// \brief Error messages name the part and both values.
#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(require_formats_part_and_values) {
  try {
    osbi::require(1.0 < 1.0, "BoxUniform", "low[", 2, "] = ", 1.0, " must be < high[", 2, "] = ", 1.0);
    BOOST_FAIL("require did not throw");
  } catch (const osbi::InvalidArgument& error) {
    BOOST_TEST(std::string(error.what()) == "BoxUniform: low[2] = 1 must be < high[2] = 1");
    BOOST_TEST(error.part() == "BoxUniform");
  }
  BOOST_CHECK_NO_THROW(osbi::require(true, "Part", "never shown"));
}

BOOST_AUTO_TEST_CASE(require_extent_reports_both_sizes) {
  try {
    osbi::require_extent(3, 4, "Gaussian", "theta's column count");
    BOOST_FAIL("require_extent did not throw");
  } catch (const osbi::DimensionMismatch& error) {
    BOOST_TEST(std::string(error.what()) == "Gaussian: theta's column count has 3, expected 4");
  }
  BOOST_CHECK_NO_THROW(osbi::require_extent(4, 4, "Gaussian", "theta"));
}

BOOST_AUTO_TEST_CASE(labels_follow_the_convention) {
  BOOST_TEST(osbi::label("prior", "BoxUniform", "sample") == "osbi::prior::BoxUniform::sample");
}

BOOST_AUTO_TEST_SUITE_END()
