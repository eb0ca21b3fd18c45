// SPDX-License-Identifier: BSD-3-Clause
/// \brief TrainingBatch's metadata checks: check_batch names the part and the field whose size is wrong, require_metadata
/// names the loss that needs the fields the data source did not provide.
#include <osbi/loss/batch.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Batch = osbi::TrainingBatch<float, Space>;
using Index = Kokkos::View<std::uint64_t*, Space::memory_space>;

/// Four rows of θ (2 wide) and x (3 wide), with weights and every metadata field.
Batch full_batch(std::size_t rows = 4) {
  Batch batch;
  batch.theta = osbi::Matrix<float, Space>("theta", rows, 2);
  batch.x = osbi::Matrix<float, Space>("x", rows, 3);
  batch.weights = osbi::Vector<float, Space>("weights", rows);
  batch.proposal_log_prob = osbi::Vector<double, Space>("proposal_log_prob", rows);
  batch.round = Index("round", rows);
  batch.arrival = Index("arrival", rows);
  batch.uses = Index("uses", rows);
  return batch;
}

/// Calls `call`, which must throw ExceptionType with a message containing every one of `parts`.
template <class ExceptionType>
void expect_error(const std::function<void()>& call, std::initializer_list<std::string> parts) {
  try {
    call();
    BOOST_ERROR("no exception; expected one naming \"" << *parts.begin() << "\"");
  } catch (const ExceptionType& error) {
    const std::string text = error.what();
    for (const std::string& part : parts) BOOST_TEST(text.find(part) != std::string::npos, text << " lacks " << part);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(loss_batch)

BOOST_AUTO_TEST_CASE(accessors) {
  Batch batch = full_batch();
  BOOST_TEST(batch.rows() == 4u);
  BOOST_TEST(batch.weighted());
  BOOST_TEST(batch.has_metadata());
  batch.weights = {};
  batch.proposal_log_prob = {};
  BOOST_TEST(!batch.weighted());
  BOOST_TEST(!batch.has_metadata());
}

BOOST_AUTO_TEST_CASE(check_batch_accepts_a_consistent_batch_with_or_without_optional_fields) {
  BOOST_CHECK_NO_THROW(osbi::check_batch(full_batch(), 2, 3, "MyLoss"));
  Batch bare;
  bare.theta = osbi::Matrix<float, Space>("theta", 5, 2);
  bare.x = osbi::Matrix<float, Space>("x", 5, 3);
  BOOST_CHECK_NO_THROW(osbi::check_batch(bare, 2, 3, "MyLoss"));
}

BOOST_AUTO_TEST_CASE(check_batch_names_the_part_and_the_field_of_a_wrong_size) {
  const auto expect = [](Batch batch, const char* field, const char* sizes) {
    expect_error<osbi::DimensionMismatch>([&] { osbi::check_batch(batch, 2, 3, "MyLoss"); }, {"MyLoss", field, sizes});
  };
  Batch batch = full_batch();
  batch.theta = osbi::Matrix<float, Space>("theta", 4, 3);
  expect(batch, "theta column count", "has 3, expected 2");
  batch = full_batch();
  batch.x = osbi::Matrix<float, Space>("x", 4, 2);
  expect(batch, "x column count", "has 2, expected 3");
  batch = full_batch();
  batch.x = osbi::Matrix<float, Space>("x", 5, 3);
  expect(batch, "x row count", "has 5, expected 4");
  batch = full_batch();
  batch.weights = osbi::Vector<float, Space>("weights", 3);
  expect(batch, "weight count", "has 3, expected 4");
  batch = full_batch();
  batch.proposal_log_prob = osbi::Vector<double, Space>("proposal_log_prob", 5);
  expect(batch, "proposal_log_prob count", "has 5, expected 4");
  batch = full_batch();
  batch.round = Index("round", 3);
  expect(batch, "round count", "has 3, expected 4");
  batch = full_batch();
  batch.arrival = Index("arrival", 1);
  expect(batch, "arrival count", "has 1, expected 4");
  batch = full_batch();
  batch.uses = Index("uses", 7);
  expect(batch, "uses count", "has 7, expected 4");
}

BOOST_AUTO_TEST_CASE(require_metadata_names_the_loss_when_a_field_is_missing) {
  BOOST_CHECK_NO_THROW(osbi::require_metadata(full_batch(), "MyLoss"));
  const char* message = "needs the batch's sample metadata";
  Batch batch = full_batch();
  batch.proposal_log_prob = {};
  expect_error<osbi::InvalidArgument>([&] { osbi::require_metadata(batch, "MyLoss"); }, {"MyLoss", message});
  batch = full_batch();
  batch.round = {};
  expect_error<osbi::InvalidArgument>([&] { osbi::require_metadata(batch, "MyLoss"); }, {"MyLoss", message});
  batch = full_batch();
  batch.arrival = {};
  expect_error<osbi::InvalidArgument>([&] { osbi::require_metadata(batch, "MyLoss"); }, {"MyLoss", message});
  batch = full_batch();
  batch.uses = {};
  expect_error<osbi::InvalidArgument>([&] { osbi::require_metadata(batch, "MyLoss"); }, {"MyLoss", message});
}

BOOST_AUTO_TEST_SUITE_END()
