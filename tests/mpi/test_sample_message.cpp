// SPDX-License-Identifier: BSD-3-Clause
/// \brief The sample message's bytes: rows, metadata and failures come back as written; a truncated, foreign or
/// mismatched message is a DataError naming what is wrong.
#include <osbi/mpi/sample_message.hpp>

#include <osbi/core/error.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

namespace {

using osbi::mpi::FailureCounts;
using osbi::mpi::MessageKind;

std::vector<std::byte> two_rows_and_a_failure() {
  osbi::mpi::MessageWriter<float> writer(2, 3);
  const std::vector<float> theta0{1.5f, -2.f}, x0{0.f, 1.f, 2.f}, theta1{3.f, 4.f}, x1{-1.f, -2.f, 1e30f};
  writer.add_row(theta0, x0, osbi::SampleInfo{7, 0.25, -1.5});
  // A failure reported between two rows: the message still holds the rows, then the failures.
  const std::vector<osbi::online::FailureRecord> records{{41, osbi::online::FailureKind::threw, {0.5, 0.25}, "solver diverged"}};
  writer.add_failures(FailureCounts{2, 1, 0}, records);
  writer.add_row(theta1, x1, osbi::SampleInfo{8, 0.5, -2.5});
  return writer.take(MessageKind::samples, 5);
}

} // namespace

BOOST_AUTO_TEST_SUITE(mpi_sample_message)

BOOST_AUTO_TEST_CASE(rows_metadata_and_failures_round_trip) {
  const auto bytes = two_rows_and_a_failure();
  const auto message = osbi::mpi::decode_message<float>(bytes, 2, 3);
  BOOST_TEST(message.header.sequence == 5u);
  BOOST_TEST(message.header.rows == 2u);
  BOOST_TEST((message.theta == std::vector<float>{1.5f, -2.f, 3.f, 4.f}));
  BOOST_TEST((message.x == std::vector<float>{0.f, 1.f, 2.f, -1.f, -2.f, 1e30f}));
  BOOST_TEST(message.info[1].generation == 8u);
  BOOST_TEST(message.info[1].simulation_seconds == 0.5);
  BOOST_TEST(message.info[0].proposal_log_prob == -1.5);
  BOOST_TEST((message.header.failures == FailureCounts{2, 1, 0}));
  BOOST_TEST_REQUIRE(message.failures.size() == 1u);
  BOOST_TEST(message.failures[0].simulation == 41u);
  BOOST_TEST((message.failures[0].theta == std::vector<double>{0.5, 0.25}));
  BOOST_TEST(message.failures[0].message == "solver diverged");
}

BOOST_AUTO_TEST_CASE(end_message_carries_the_totals) {
  osbi::mpi::MessageWriter<double> writer(1, 1);
  const auto bytes = writer.take(MessageKind::end, 9, 1234, FailureCounts{1, 2, 3});
  const auto message = osbi::mpi::decode_message<double>(bytes, 1, 1);
  BOOST_TEST((message.header.kind == MessageKind::end));
  BOOST_TEST(message.header.total_rows == 1234u);
  BOOST_TEST(message.header.total_failures.total() == 6u);
  BOOST_TEST(message.theta.empty());
}

BOOST_AUTO_TEST_CASE(a_bad_message_is_a_data_error) {
  const auto bytes = two_rows_and_a_failure();
  const std::span<const std::byte> all(bytes);
  // Every truncation, including one inside the header.
  for (const std::size_t keep : {std::size_t{0}, std::size_t{10}, sizeof(osbi::mpi::MessageHeader), bytes.size() - 1})
    BOOST_CHECK_THROW(osbi::mpi::decode_message<float>(all.first(keep), 2, 3), osbi::DataError);
  // Bytes after the contents.
  auto longer = bytes;
  longer.push_back(std::byte{0});
  BOOST_CHECK_THROW(osbi::mpi::decode_message<float>(longer, 2, 3), osbi::DataError);
  // Another shape or scalar than the learner's.
  BOOST_CHECK_THROW(osbi::mpi::decode_message<float>(bytes, 3, 2), osbi::DataError);
  BOOST_CHECK_THROW(osbi::mpi::decode_message<double>(bytes, 2, 3), osbi::DataError);
  // Not an osbi message.
  auto foreign = bytes;
  foreign[0] = std::byte{0x42};
  BOOST_CHECK_THROW(osbi::mpi::decode_message<float>(foreign, 2, 3), osbi::DataError);
  // A header that claims more rows than the message holds.
  auto inflated = bytes;
  osbi::mpi::MessageHeader header;
  std::memcpy(&header, inflated.data(), sizeof header);
  header.rows = 1'000'000;
  std::memcpy(inflated.data(), &header, sizeof header);
  BOOST_CHECK_THROW(osbi::mpi::decode_message<float>(inflated, 2, 3), osbi::DataError);
}

BOOST_AUTO_TEST_SUITE_END()
