// SPDX-License-Identifier: BSD-3-Clause
/// \brief Checkpoint container: CRC-32 known answer, round trips of every type and shape, a DataError for
/// every corruption (each flipped byte, each truncation, trailing garbage, versions, duplicates, bad
/// tables, wrong type/shape on get) and atomic replacement. The adapters are tested with their parts:
/// test_parameter_checkpoint.cpp, tests/optim/test_optimizer_checkpoint.cpp, tests/buffer/test_buffer_state.cpp.
#include <osbi/io/checkpoint.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <support/files.hpp>

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <sys/resource.h>

namespace {

namespace fs = std::filesystem;
using Space = Kokkos::DefaultExecutionSpace;

using osbi::testing::contains;
using osbi::testing::read_bytes;
using osbi::testing::ScratchDirectory;
using osbi::testing::write_bytes;

std::uint64_t get_le(const std::string& bytes, std::size_t offset, std::size_t size) {
  std::uint64_t value = 0;
  for (std::size_t k = size; k-- > 0;) value = (value << 8) | static_cast<unsigned char>(bytes[offset + k]);
  return value;
}

void set_le(std::string& bytes, std::size_t offset, std::size_t size, std::uint64_t value) {
  for (std::size_t k = 0; k < size; ++k) bytes[offset + k] = static_cast<char>((value >> (8 * k)) & 0xFF);
}

// The end of the section table (where the header CRC sits) of a well-formed file.
std::size_t table_end(const std::string& bytes) { return 40 + static_cast<std::size_t>(get_le(bytes, 24, 8)); }

// After patching the header or table: a valid header CRC again, so the reader reaches the deeper checks.
void fix_header_crc(std::string& bytes) {
  const std::size_t end = table_end(bytes);
  set_le(bytes, end, 4, osbi::crc32(std::string_view(bytes.data(), end)));
}

// Expects CheckpointReader(path) to throw DataError whose message has the path and every one of `parts`.
void expect_data_error(const fs::path& path, const std::vector<std::string>& parts, const std::string& context) {
  try {
    const osbi::CheckpointReader reader(path);
    BOOST_ERROR(context << ": a corrupt file was accepted (" << reader.sections().size() << " sections)");
  } catch (const osbi::DataError& error) {
    const std::string message = error.what();
    BOOST_TEST(contains(message, path.string()), context << ": \"" << message << "\" lacks the path");
    for (const std::string& part : parts)
      BOOST_TEST(contains(message, part), context << ": \"" << message << "\" lacks \"" << part << "\"");
  }
}

template <class Function>
void expect_get_error(Function function, const std::vector<std::string>& parts, const std::string& context) {
  try {
    function();
    BOOST_ERROR(context << ": accepted");
  } catch (const osbi::DataError& error) {
    for (const std::string& part : parts)
      BOOST_TEST(contains(error.what(), part), context << ": \"" << error.what() << "\" lacks \"" << part << "\"");
  }
}

// Element k of a test array: distinct values, with the edge values of T first.
template <class T>
std::vector<T> test_values(std::size_t count) {
  std::vector<T> values(count);
  for (std::size_t k = 0; k < count; ++k) values[k] = static_cast<T>(static_cast<double>(k % 100) * 1.5 + 3.0);
  std::vector<T> specials;
  if constexpr (std::is_floating_point_v<T>)
    specials = {std::numeric_limits<T>::quiet_NaN(), -T(0), -std::numeric_limits<T>::infinity(),
                std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::max()};
  else
    specials = {std::numeric_limits<T>::min(), std::numeric_limits<T>::max()};
  for (std::size_t k = 0; k < count && k < specials.size(); ++k) values[k] = specials[k];
  return values;
}

// A small file with every region: 5 sections, one of each kind, one empty.
osbi::CheckpointWriter sample_writer() {
  osbi::CheckpointWriter writer;
  const std::vector<float> parameters = {1.0f, -2.0f, 3.5f, 0.0f, 1e-3f};
  writer.add_array("parameters", parameters.data(), {5});
  const std::vector<double> matrix = {1, 2, 3, 4, 5, 6};
  writer.add_array("matrix", matrix.data(), {2, 3});
  writer.add_scalar("count", std::uint64_t{42});
  writer.add_string("label", "adam");
  writer.add_array<std::int64_t>("empty", nullptr, {0});
  return writer;
}

using Elements = std::tuple<float, double, std::int64_t, std::uint64_t, std::uint8_t>;

} // namespace

BOOST_AUTO_TEST_SUITE(checkpoint)

BOOST_AUTO_TEST_CASE(crc32_known_answers) {
  BOOST_TEST(osbi::crc32("123456789") == 0xCBF43926u); // the CRC catalogue's check value
  BOOST_TEST(osbi::crc32("") == 0u);
  BOOST_TEST(osbi::crc32("The quick brown fox jumps over the lazy dog") == 0x414FA339u);
  BOOST_TEST(osbi::crc32("56789", osbi::crc32("1234")) == 0xCBF43926u); // chains like zlib
}

BOOST_AUTO_TEST_CASE_TEMPLATE(round_trips_every_type_and_shape, T, Elements) {
  ScratchDirectory scratch;
  const std::vector<std::vector<std::size_t>> shapes = {{},     {0},       {7},       {0, 3},
                                                        {3, 0}, {2, 3},    {2, 3, 4}, {1, 2, 1, 1, 1, 1, 1, 3}};
  osbi::CheckpointWriter writer;
  std::vector<std::vector<T>> written;
  for (std::size_t s = 0; s < shapes.size(); ++s) {
    std::size_t count = 1;
    for (std::size_t extent : shapes[s]) count *= extent;
    written.push_back(test_values<T>(count));
    writer.add_array("array/" + std::to_string(s), written.back().data(), shapes[s]);
  }
  const fs::path path = scratch.path / "state.osbi";
  writer.write(path);
  BOOST_TEST(fs::file_size(path) == writer.serialize().size());

  const osbi::CheckpointReader reader(path);
  BOOST_TEST(reader.sections().size() == shapes.size());
  for (std::size_t s = 0; s < shapes.size(); ++s) {
    const std::string name = "array/" + std::to_string(s);
    BOOST_TEST(reader.has(name));
    const osbi::CheckpointArray<T> array = reader.get<T>(name, shapes[s]);
    BOOST_TEST(array.shape == shapes[s]);
    BOOST_REQUIRE(array.data.size() == written[s].size());
    if (!written[s].empty()) // NaN and -0 bit for bit
      BOOST_TEST(std::memcmp(array.data.data(), written[s].data(), written[s].size() * sizeof(T)) == 0);
  }
  if constexpr (!std::is_floating_point_v<T>) BOOST_TEST(reader.get_scalar<T>("array/0") == written[0][0]);
  BOOST_TEST(!reader.has("array/99"));
}

BOOST_AUTO_TEST_CASE(round_trips_strings_scalars_and_views_of_any_layout_and_space) {
  ScratchDirectory scratch;
  osbi::CheckpointWriter writer;
  writer.add_string("empty", "");
  const std::string binary("a\0b\xff\n", 5);
  writer.add_string("binary", binary);
  writer.add_scalar("seed", std::uint64_t{0xFFFFFFFFFFFFFFFFull});
  writer.add_scalar("offset", std::int64_t{-5});
  writer.add_scalar("loss", 0.125);

  osbi::Matrix<double, Space> matrix("osbi::test::matrix", 4, 3);
  Kokkos::View<float**, Kokkos::LayoutLeft, Kokkos::HostSpace> left("osbi::test::left", 2, 3);
  Kokkos::View<double, Kokkos::HostSpace> scalar_view("osbi::test::scalar");
  Kokkos::View<std::uint8_t***, Kokkos::HostSpace> cube("osbi::test::cube", 2, 2, 3);
  osbi::Vector<float, Space> vector("osbi::test::vector", 1000);
  {
    auto host = Kokkos::create_mirror_view(matrix);
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t j = 0; j < 3; ++j) host(i, j) = 10.0 * i + j;
    Kokkos::deep_copy(matrix, host);
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t j = 0; j < 3; ++j) left(i, j) = static_cast<float>(10 * i + j);
    scalar_view() = -7.5;
    for (std::size_t i = 0; i < 12; ++i) cube.data()[i] = static_cast<std::uint8_t>(i * 20);
    Kokkos::parallel_for(
        "osbi::test::fill", Kokkos::RangePolicy<Space>(0, 1000),
        KOKKOS_LAMBDA(const std::size_t i) { vector(i) = static_cast<float>(i) * 0.5f; });
    Kokkos::fence();
  }
  writer.add("matrix", matrix);
  writer.add("left", left);
  writer.add("scalar", scalar_view);
  writer.add("cube", cube);
  writer.add("vector", vector);
  const fs::path path = scratch.path / "state.osbi";
  writer.write(path);

  const osbi::CheckpointReader reader(path);
  BOOST_TEST((reader.names() == std::vector<std::string>{"empty", "binary", "seed", "offset", "loss", "matrix", "left",
                                                          "scalar", "cube", "vector"}));
  BOOST_TEST(reader.get_string("empty").empty());
  BOOST_TEST(reader.get_string("binary") == binary);
  BOOST_TEST(reader.get_scalar<std::uint64_t>("seed") == 0xFFFFFFFFFFFFFFFFull);
  BOOST_TEST(reader.get_scalar<std::int64_t>("offset") == -5);
  BOOST_TEST(reader.get_scalar<double>("loss") == 0.125);
  BOOST_TEST((reader.get<float>("left").data == std::vector<float>{0, 1, 2, 10, 11, 12})); // C order
  BOOST_TEST((reader.section("left").shape == std::vector<std::size_t>{2, 3}));
  BOOST_TEST(reader.get_scalar<double>("scalar") == -7.5);
  BOOST_TEST(reader.get<std::uint8_t>("cube", {2, 2, 3}).data[11] == 220);

  // Back into views of other layouts and spaces.
  Kokkos::View<double**, Kokkos::LayoutLeft, Kokkos::HostSpace> matrix_left("osbi::test::matrix_left", 4, 3);
  reader.read_into("matrix", matrix_left);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 3; ++j) BOOST_TEST(matrix_left(i, j) == 10.0 * i + j);
  osbi::Vector<float, Space> vector_back("osbi::test::vector_back", 1000);
  reader.read_into("vector", vector_back);
  auto host_back = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vector_back);
  for (std::size_t i = 0; i < 1000; ++i) BOOST_TEST(host_back(i) == static_cast<float>(i) * 0.5f);
  Kokkos::View<double, Kokkos::HostSpace> scalar_back("osbi::test::scalar_back");
  reader.read_into("scalar", scalar_back);
  BOOST_TEST(scalar_back() == -7.5);
}

BOOST_AUTO_TEST_CASE(every_flipped_byte_is_detected) {
  ScratchDirectory scratch;
  const std::string good = sample_writer().serialize();
  const std::size_t end = table_end(good);
  const fs::path path = scratch.path / "flipped.osbi";
  for (std::size_t k = 0; k < good.size(); ++k) {
    std::string bad = good;
    bad[k] = static_cast<char>(bad[k] ^ 0x5A);
    write_bytes(path, bad);
    std::vector<std::string> parts;
    if (k < 8)
      parts = {"magic"};
    else if (k < 12)
      parts = {"version"};
    else if (k < 40)
      parts = {"header"}; // the header CRC, or a table length that cannot fit ("corrupt header")
    else if (k < end + 4)
      parts = {"header CRC-32 mismatch"};
    else
      parts = {"payload CRC-32 mismatch"};
    expect_data_error(path, parts, "byte " + std::to_string(k) + " of " + std::to_string(good.size()));
  }
  // The payload message names the section: the last byte is the last of "label" ("empty" has none).
  std::string bad = good;
  bad[good.size() - 1] ^= 1;
  write_bytes(path, bad);
  expect_data_error(path, {"section 'label'", "payload CRC-32 mismatch"}, "last byte");
}

// A checkpoint nested in another's `bytes` section (how an MPI pipeline keeps each learner's part) reads back
// through from_bytes with the same checks as a file: its values, and a flipped byte named with the nested name.
BOOST_AUTO_TEST_CASE(a_nested_checkpoint_reads_back_from_bytes) {
  ScratchDirectory scratch;
  osbi::CheckpointWriter outer;
  outer.add_string("inner", sample_writer().serialize());
  const fs::path path = scratch.path / "outer.osbi";
  outer.write(path);
  const osbi::CheckpointReader file(path);
  const auto inner = osbi::CheckpointReader::from_bytes(file.get_string("inner"), "outer.osbi/inner");
  BOOST_TEST(inner.get_scalar<std::uint64_t>("count") == 42u);
  BOOST_TEST(inner.get<double>("matrix", {2, 3}).data[5] == 6.0);
  BOOST_TEST(inner.get_string("label") == "adam");
  std::string bad = file.get_string("inner");
  bad[bad.size() - 1] ^= 1;
  try {
    (void)osbi::CheckpointReader::from_bytes(bad, "outer.osbi/inner");
    BOOST_ERROR("a corrupt nested checkpoint was accepted");
  } catch (const osbi::DataError& error) {
    const std::string what = error.what();
    BOOST_TEST(what.find("outer.osbi/inner") != std::string::npos);
    BOOST_TEST(what.find("payload CRC-32 mismatch") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(every_truncation_and_trailing_garbage_is_detected) {
  ScratchDirectory scratch;
  const std::string good = sample_writer().serialize();
  const fs::path path = scratch.path / "short.osbi";
  for (std::size_t size = 0; size < good.size(); ++size) {
    write_bytes(path, good.substr(0, size));
    expect_data_error(path, {"truncated"}, "truncated to " + std::to_string(size) + " bytes");
  }
  write_bytes(path, good.substr(0, good.size() - 1));
  expect_data_error(path, {"the header declares " + std::to_string(good.size()) + " bytes",
                           "the file has " + std::to_string(good.size() - 1)},
                    "one byte short");
  write_bytes(path, good + "x");
  expect_data_error(path, {"1 bytes of trailing garbage"}, "one byte of garbage");
  write_bytes(path, good + std::string(100, '\0'));
  expect_data_error(path, {"100 bytes of trailing garbage"}, "100 zero bytes");
  write_bytes(path, good);
  BOOST_CHECK_NO_THROW(osbi::CheckpointReader{path});
  expect_data_error(scratch.path / "missing.osbi", {"cannot open"}, "missing file");
  write_bytes(path, "PK\x03\x04 this is a zip file, not a checkpoint at all; long enough to have a header");
  expect_data_error(path, {"not an osbi checkpoint"}, "foreign file");
}

BOOST_AUTO_TEST_CASE(versions_other_than_ours_are_rejected_by_name) {
  ScratchDirectory scratch;
  const fs::path path = scratch.path / "version.osbi";
  std::string newer = sample_writer().serialize();
  BOOST_TEST(get_le(newer, 8, 4) == 1u);
  set_le(newer, 8, 4, 2);
  fix_header_crc(newer); // a genuine newer file: its CRC is right
  write_bytes(path, newer);
  expect_data_error(path, {"format version 2 is newer", "(version 1)"}, "version 2");
  set_le(newer, 8, 4, 0);
  fix_header_crc(newer);
  write_bytes(path, newer);
  expect_data_error(path, {"invalid format version 0"}, "version 0");
}

BOOST_AUTO_TEST_CASE(inconsistent_tables_with_valid_crcs_are_rejected) {
  ScratchDirectory scratch;
  const fs::path path = scratch.path / "table.osbi";
  const auto patched = [&](auto patch) {
    std::string bytes = sample_writer().serialize();
    patch(bytes);
    fix_header_crc(bytes);
    write_bytes(path, bytes);
  };
  // The first entry ("parameters", f32, rank 1): name length at 40, name at 44, type at 54, rank at 55,
  // reserved at 56, extent at 58.
  patched([](std::string& bytes) { bytes[54] = 9; });
  expect_data_error(path, {"section 0 'parameters'", "unknown element type code 9"}, "type code");
  patched([](std::string& bytes) { bytes[55] = 9; });
  expect_data_error(path, {"rank 9"}, "rank");
  patched([](std::string& bytes) { set_le(bytes, 58, 8, 6); });
  expect_data_error(path, {"shape (6) of f32 does not match its payload length 20"}, "extent");
  patched([](std::string& bytes) { bytes[56] = 1; });
  expect_data_error(path, {"reserved"}, "reserved field");
  patched([](std::string& bytes) { set_le(bytes, 12, 4, 1); });
  expect_data_error(path, {"unknown header flags"}, "flags");
  patched([](std::string& bytes) { set_le(bytes, 16, 8, 6); });
  expect_data_error(path, {"the section table ends inside"}, "one section too many");
  patched([](std::string& bytes) { set_le(bytes, 16, 8, 1000000); });
  expect_data_error(path, {"1000000 sections"}, "absurd section count");
  patched([](std::string& bytes) { set_le(bytes, 16, 8, 4); });
  expect_data_error(path, {"bytes after its last entry"}, "one section too few");
  patched([](std::string& bytes) { set_le(bytes, 40, 4, 0); });
  expect_data_error(path, {"a name of 0 bytes"}, "empty name");
  patched([](std::string& bytes) { set_le(bytes, 40, 4, 0xFFFFFFFFu); });
  expect_data_error(path, {"4294967295 bytes"}, "huge name");
}

BOOST_AUTO_TEST_CASE(duplicate_section_names_are_rejected) {
  ScratchDirectory scratch;
  osbi::CheckpointWriter writer;
  writer.add_scalar("aa", 1.0);
  writer.add_scalar("ab", 2.0);
  BOOST_CHECK_THROW(writer.add_scalar("aa", 3.0), osbi::InvalidArgument); // the writer refuses too
  std::string bytes = writer.serialize();
  const std::size_t at = bytes.find("ab", 40);
  BOOST_REQUIRE(at < table_end(bytes));
  bytes[at + 1] = 'a';
  fix_header_crc(bytes);
  const fs::path path = scratch.path / "duplicate.osbi";
  write_bytes(path, bytes);
  expect_data_error(path, {"duplicate section name 'aa'"}, "duplicate");
}

BOOST_AUTO_TEST_CASE(get_checks_type_shape_and_presence) {
  ScratchDirectory scratch;
  const fs::path path = scratch.path / "sample.osbi";
  sample_writer().write(path);
  const osbi::CheckpointReader reader(path);
  expect_get_error([&] { reader.get<double>("parameters"); }, {path.string(), "'parameters' holds f32, not f64"},
                   "type");
  expect_get_error([&] { reader.get<float>("parameters", {4}); }, {"has shape (5), expected (4)"}, "shape");
  expect_get_error([&] { reader.get_string("parameters"); }, {"holds f32, not bytes"}, "string");
  expect_get_error([&] { reader.get_scalar<double>("matrix"); }, {"has shape (2, 3), expected ()"}, "scalar");
  expect_get_error([&] { reader.get<float>("nope"); }, {"no section 'nope'", "'parameters'", "'label'"}, "missing");
  osbi::Matrix<double, Space> wrong("osbi::test::wrong", 3, 2);
  expect_get_error([&] { reader.read_into("matrix", wrong); }, {"has shape (2, 3), expected (3, 2)"}, "read_into");
  BOOST_TEST(reader.get<std::int64_t>("empty", {0}).data.empty());
  BOOST_TEST(reader.get_string("label") == "adam");
  BOOST_TEST(reader.get_scalar<std::uint64_t>("count") == 42u);
}

BOOST_AUTO_TEST_CASE(writer_validates_names_and_shapes) {
  osbi::CheckpointWriter writer;
  BOOST_CHECK_THROW(writer.add_scalar("", 1.0), osbi::InvalidArgument);
  BOOST_CHECK_THROW(writer.add_scalar(std::string(5000, 'n'), 1.0), osbi::InvalidArgument);
  const float value = 1.0f;
  BOOST_CHECK_THROW(writer.add_array("rank9", &value, {1, 1, 1, 1, 1, 1, 1, 1, 1}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(writer.add_array<float>("null", nullptr, {3}), osbi::InvalidArgument);
  BOOST_TEST(writer.section_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_failed_write_never_replaces_the_existing_checkpoint) {
  ScratchDirectory scratch;
  const fs::path path = scratch.path / "state.osbi";
  sample_writer().write(path);
  const std::string original = read_bytes(path);

  // A write that fails half-way (the file-size limit stops it after 4 KiB, as a full disk would).
  osbi::CheckpointWriter big;
  const std::vector<double> large(100000, 1.0);
  big.add_array("large", large.data(), {large.size()});
  rlimit saved{};
  BOOST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  rlimit limited = saved;
  limited.rlim_cur = 4096;
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  bool threw = false;
  std::string message;
  try {
    big.write(path);
  } catch (const osbi::Error& error) {
    threw = true;
    message = error.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous_handler);
  BOOST_TEST(threw);
  BOOST_TEST(contains(message, path.string()), message);
  BOOST_TEST(read_bytes(path) == original); // the old checkpoint, intact
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(scratch.path)) ++files;
  BOOST_TEST(files == 1u); // the temporary file was removed

  // A directory that does not exist: an Error, nothing created.
  BOOST_CHECK_THROW(sample_writer().write(scratch.path / "missing" / "state.osbi"), osbi::Error);
  BOOST_TEST(!fs::exists(scratch.path / "missing"));

  // A stray temporary file of a crashed writer neither disturbs reading nor writing.
  write_bytes(scratch.path / "state.osbi.tmp-deadbeef", original.substr(0, 30));
  BOOST_CHECK_NO_THROW(osbi::CheckpointReader{path});
  big.write(path); // a successful replacement
  BOOST_TEST(osbi::CheckpointReader(path).has("large"));
  files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(scratch.path)) ++files;
  BOOST_TEST(files == 2u); // the target and the stray file: no temporary of ours left
}

BOOST_AUTO_TEST_SUITE_END()
