// SPDX-License-Identifier: BSD-3-Clause
/// \brief .npy round trips for every dtype and edge shape, byte-for-byte agreement with numpy.save,
/// numpy reading our files, and a DataError (never a crash or a silent misread) for every corruption.
#include <osbi/io/npy.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <support/files.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace fs = std::filesystem;

// numpy is a Debian package for the system interpreter; the python3 first on PATH may lack it.
const char* const python = "/usr/bin/python3";

using osbi::testing::contains;
using osbi::testing::read_bytes;
using osbi::testing::ScratchDirectory;
using osbi::testing::write_bytes;

// Element k of a test array: distinct values, with the edge values of T among the first few.
template <class T>
std::vector<T> test_values(std::size_t count) {
  std::vector<T> values(count);
  for (std::size_t k = 0; k < count; ++k)
    values[k] = static_cast<T>(static_cast<double>(k % 100) * 1.5 - 7.0);
  if constexpr (std::is_floating_point_v<T>) {
    const T specials[] = {std::numeric_limits<T>::quiet_NaN(), -T(0), std::numeric_limits<T>::infinity(),
                          std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::max()};
    for (std::size_t k = 0; k < count && k < std::size(specials); ++k)
      values[k] = specials[k];
  } else {
    const T specials[] = {std::numeric_limits<T>::min(), std::numeric_limits<T>::max()};
    for (std::size_t k = 0; k < count && k < std::size(specials); ++k)
      values[k] = specials[k];
  }
  return values;
}

// Runs a Python snippet with numpy; argv[1] is `directory`. Returns the exit status.
int run_python(const std::string& code, const fs::path& directory) {
  BOOST_REQUIRE_MESSAGE(fs::exists(python), python << " is missing: apt-get install python3-numpy");
  const std::string command = std::string(python) + " -c '" + code + "' '" + directory.string() + "'";
  return std::system(command.c_str());
}

// Expects read_npy<T>(path) to throw DataError whose message contains every one of `parts`.
template <class T>
void expect_data_error(const fs::path& path, const std::vector<std::string>& parts, const std::string& context) {
  try {
    const auto array = osbi::read_npy<T>(path);
    BOOST_ERROR(context << ": read " << array.data.size() << " elements from a corrupt file");
  } catch (const osbi::DataError& error) {
    const std::string message = error.what();
    for (const std::string& part : parts)
      BOOST_TEST(contains(message, part), context << ": \"" << message << "\" lacks \"" << part << "\"");
  }
}

using Elements = std::tuple<float, double, std::int32_t, std::int64_t, std::uint8_t>;

} // namespace

BOOST_AUTO_TEST_SUITE(npy)

BOOST_AUTO_TEST_CASE_TEMPLATE(round_trips_every_dtype_and_edge_shape, T, Elements) {
  ScratchDirectory scratch;
  const std::vector<std::vector<std::size_t>> shapes = {{0, 3}, {1, 1}, {7, 5}, {6}, {0}, {}, {2, 3, 4}};
  for (const auto& shape : shapes) {
    std::size_t count = 1;
    for (std::size_t extent : shape)
      count *= extent;
    const std::vector<T> values = test_values<T>(count);
    const fs::path path = scratch.path / "array.npy";
    osbi::write_npy(path, values.data(), shape);

    const osbi::NpyArray<T> array = osbi::read_npy<T>(path);
    BOOST_TEST(array.shape == shape);
    BOOST_REQUIRE(array.data.size() == count);
    if (count > 0)
      BOOST_TEST(std::memcmp(array.data.data(), values.data(), count * sizeof(T)) == 0); // NaN, -0 bit for bit

    // numpy's layout: the data starts at a multiple of 64 right after the header's '\n'.
    const std::string bytes = read_bytes(path);
    BOOST_REQUIRE(bytes.size() >= count * sizeof(T) + 64);
    const std::size_t data_offset = bytes.size() - count * sizeof(T);
    BOOST_TEST(data_offset % 64 == 0u);
    BOOST_TEST(bytes[data_offset - 1] == '\n');
    BOOST_TEST(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    const std::size_t header_length =
        static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    BOOST_TEST(header_length + 10 == data_offset);
  }
}

BOOST_AUTO_TEST_CASE(writes_views_of_any_layout_in_c_order) {
  ScratchDirectory scratch;
  using Space = Kokkos::DefaultExecutionSpace;
  osbi::Matrix<double, Space> matrix("osbi::test::matrix", 7, 5);
  Kokkos::View<float**, Kokkos::LayoutLeft, Kokkos::HostSpace> left("osbi::test::left", 4, 3);
  Kokkos::View<std::int64_t*, Space::memory_space> vector("osbi::test::vector", 9);
  auto matrix_host = Kokkos::create_mirror_view(matrix);
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t j = 0; j < 5; ++j)
      matrix_host(i, j) = 10.0 * static_cast<double>(i) + static_cast<double>(j);
  Kokkos::deep_copy(matrix, matrix_host);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      left(i, j) = static_cast<float>(10 * i + j);
  Kokkos::parallel_for(
      "osbi::test::fill", Kokkos::RangePolicy<Space>(0, 9), KOKKOS_LAMBDA(const int k) { vector(k) = -3 * k; });
  Kokkos::fence();

  osbi::write_npy(scratch.path / "matrix.npy", osbi::ConstMatrix<double, Space>(matrix));
  osbi::write_npy(scratch.path / "left.npy", left);
  osbi::write_npy(scratch.path / "vector.npy", vector);
  // Columns 1..3 of the matrix: a strided view.
  const auto block = Kokkos::subview(matrix, Kokkos::ALL, std::make_pair(1, 4));
  osbi::write_npy(scratch.path / "block.npy", block);
  const auto column = Kokkos::subview(matrix, Kokkos::ALL, 2);
  osbi::write_npy(scratch.path / "column.npy", column);

  const auto matrix_read = osbi::read_npy<double>(scratch.path / "matrix.npy");
  BOOST_TEST(matrix_read.shape == std::vector<std::size_t>({7, 5}));
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t j = 0; j < 5; ++j)
      BOOST_TEST(matrix_read(i, j) == 10.0 * i + j);
  const auto left_read = osbi::read_npy<float>(scratch.path / "left.npy");
  BOOST_TEST(left_read.shape == std::vector<std::size_t>({4, 3}));
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      BOOST_TEST(left_read(i, j) == static_cast<float>(10 * i + j));
  const auto vector_read = osbi::read_npy<std::int64_t>(scratch.path / "vector.npy");
  BOOST_TEST(vector_read.shape == std::vector<std::size_t>({9}));
  for (std::size_t k = 0; k < 9; ++k)
    BOOST_TEST(vector_read.data[k] == -3 * static_cast<std::int64_t>(k));
  const auto block_read = osbi::read_npy<double>(scratch.path / "block.npy");
  BOOST_TEST(block_read.shape == std::vector<std::size_t>({7, 3}));
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      BOOST_TEST(block_read(i, j) == 10.0 * i + (j + 1));
  const auto column_read = osbi::read_npy<double>(scratch.path / "column.npy");
  BOOST_TEST(column_read.shape == std::vector<std::size_t>({7}));
  for (std::size_t i = 0; i < 7; ++i)
    BOOST_TEST(column_read.data[i] == 10.0 * i + 2);
}

BOOST_AUTO_TEST_CASE(rewrites_atomically_and_leaves_no_temporary_files) {
  ScratchDirectory scratch;
  const fs::path path = scratch.path / "summary.npy";
  const std::vector<double> first(12, 1.0), second(3, 2.0);
  osbi::write_npy(path, first.data(), {3, 4});
  osbi::write_npy(path, second.data(), {3});
  const auto array = osbi::read_npy<double>(path);
  BOOST_TEST(array.shape == std::vector<std::size_t>({3}));
  BOOST_TEST(array.data == second);
  std::size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(scratch.path)) {
    ++entries;
    BOOST_TEST(entry.path().filename() == "summary.npy");
  }
  BOOST_TEST(entries == 1u);

  // A directory that does not exist: the error names the path, and nothing is created.
  const fs::path missing = scratch.path / "no_such_directory" / "x.npy";
  try {
    osbi::write_npy(missing, second.data(), {3});
    BOOST_FAIL("write_npy wrote into a missing directory");
  } catch (const osbi::Error& error) {
    BOOST_TEST(contains(error.what(), missing.string()), error.what());
  }
  BOOST_TEST(!fs::exists(missing));
  BOOST_CHECK_THROW(osbi::write_npy(path, static_cast<const double*>(nullptr), {2}), osbi::InvalidArgument);
  BOOST_TEST(osbi::read_npy<double>(path).data == second); // the failed writes left the old file alone
}

BOOST_AUTO_TEST_CASE(rejects_every_corruption_with_a_data_error) {
  ScratchDirectory scratch;
  const fs::path good = scratch.path / "good.npy", bad = scratch.path / "bad.npy";
  const std::vector<double> values = test_values<double>(35);
  osbi::write_npy(good, values.data(), {7, 5});
  const std::string bytes = read_bytes(good);
  BOOST_REQUIRE(bytes.size() == 128u + 35u * 8u);
  const std::size_t header_end = 128;

  for (std::size_t k = 0; k < 6; ++k) {
    std::string flipped = bytes;
    flipped[k] = static_cast<char>(flipped[k] ^ 0x20);
    write_bytes(bad, flipped);
    expect_data_error<double>(bad, {bad.string(), "not a .npy file"}, "magic byte " + std::to_string(k));
  }

  std::string version = bytes;
  version[6] = '\x09';
  write_bytes(bad, version);
  expect_data_error<double>(bad, {"unsupported .npy version 9.0"}, "version 9.0");

  // Truncated: in the magic, the version, the header length, the header, at the end of the header,
  // inside the first element, and one byte short of the end.
  for (std::size_t size : {std::size_t{0}, std::size_t{3}, std::size_t{7}, std::size_t{9}, std::size_t{10},
                           std::size_t{40}, header_end - 1, header_end, header_end + 3, bytes.size() - 1}) {
    write_bytes(bad, bytes.substr(0, size));
    expect_data_error<double>(bad, {bad.string(), "truncated"}, "truncated to " + std::to_string(size) + " bytes");
  }

  write_bytes(bad, bytes + "x");
  expect_data_error<double>(bad, {"1 bytes of trailing garbage"}, "one trailing byte");

  expect_data_error<float>(good, {"dtype '<f8' found, expected '<f4' (float32)"}, "double read as float");
  expect_data_error<std::int64_t>(good, {"'<f8' found, expected '<i8' (int64)"}, "double read as int64");
  expect_data_error<std::uint8_t>(good, {"'<f8' found, expected '|u1' (uint8)"}, "double read as uint8");

  // The file with `from` replaced by `to` in the header text, re-padded to the same header length.
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string header = bytes.substr(10, header_end - 10);
    const std::size_t at = header.find(from);
    BOOST_REQUIRE(at != std::string::npos);
    header.replace(at, from.size(), to);
    header.erase(header.find_last_not_of(" \n") + 1);
    BOOST_REQUIRE(header.size() < header_end - 10);
    header.append(header_end - 11 - header.size(), ' ').push_back('\n');
    return bytes.substr(0, 10) + header + bytes.substr(header_end);
  };
  write_bytes(bad, edited("False", "True "));
  expect_data_error<double>(bad, {"fortran_order is True"}, "fortran_order True");
  write_bytes(bad, edited("'<f8'", "'>f8'"));
  expect_data_error<double>(bad, {"'>f8' found, expected '<f8'"}, "big-endian");
  write_bytes(bad, edited("'shape'", "'shope'"));
  expect_data_error<double>(bad, {"bad header", "unexpected or repeated key 'shope'"}, "unknown key");
  write_bytes(bad, edited("{", "["));
  expect_data_error<double>(bad, {"bad header", "expected '{'"}, "not a dict");
  write_bytes(bad, edited("(7, 5)", "(7, 6)"));
  expect_data_error<double>(bad, {"truncated data", "(7, 6)", "needs 336 bytes, the file has 280"}, "shape too large");
  write_bytes(bad, edited("(7, 5)", "(7,)"));
  expect_data_error<double>(bad, {"224 bytes of trailing garbage", "(7,)"}, "shape too small");
  // A shape whose element count overflows, and a huge but valid one: rejected before any allocation.
  write_bytes(bad, edited("(7, 5)", "(9999999999999999, 9999)"));
  expect_data_error<double>(bad, {"overflows"}, "overflowing shape");
  write_bytes(bad, edited("(7, 5)", "(99999999999,)"));
  expect_data_error<double>(bad, {"truncated data"}, "huge shape");

  expect_data_error<double>(scratch.path / "missing.npy", {"cannot open", (scratch.path / "missing.npy").string()},
                            "missing file");
}

BOOST_AUTO_TEST_CASE(numpy_reads_what_we_write) {
  ScratchDirectory scratch;
  std::vector<double> f8(35);
  std::vector<float> f4(6);
  std::vector<std::int32_t> i4(4);
  std::vector<std::uint8_t> u1(6);
  for (std::size_t k = 0; k < f8.size(); ++k)
    f8[k] = 0.5 * static_cast<double>(k) - 3.0;
  for (std::size_t k = 0; k < f4.size(); ++k)
    f4[k] = 0.25f * static_cast<float>(k);
  for (std::size_t k = 0; k < i4.size(); ++k)
    i4[k] = static_cast<std::int32_t>(k) - 2;
  for (std::size_t k = 0; k < u1.size(); ++k)
    u1[k] = static_cast<std::uint8_t>(250 + k);
  osbi::write_npy(scratch.path / "f8.npy", f8.data(), {7, 5});
  osbi::write_npy(scratch.path / "f4.npy", f4.data(), {3, 2});
  osbi::write_npy(scratch.path / "i4.npy", i4.data(), {4});
  osbi::write_npy(scratch.path / "u1.npy", u1.data(), {2, 3});
  osbi::write_npy(scratch.path / "i8.npy", static_cast<const std::int64_t*>(nullptr), {0, 3});

  const std::string code = R"(
import sys, numpy as np
d = sys.argv[1] + "/"
def check(name, dtype, expected):
    a = np.load(d + name)
    assert a.dtype == np.dtype(dtype), (name, a.dtype)
    assert a.shape == expected.shape, (name, a.shape)
    assert a.flags["C_CONTIGUOUS"], name
    assert np.array_equal(a, expected), (name, a)
check("f8.npy", "<f8", (np.arange(35) * 0.5 - 3.0).reshape(7, 5))
check("f4.npy", "<f4", (np.arange(6, dtype=np.float32) * 0.25).reshape(3, 2))
check("i4.npy", "<i4", np.arange(4, dtype=np.int32) - 2)
check("u1.npy", "u1", (np.arange(6) + 250).astype(np.uint8).reshape(2, 3))
check("i8.npy", "<i8", np.zeros((0, 3), dtype=np.int64))
)";
  BOOST_TEST(run_python(code, scratch.path) == 0);
}

BOOST_AUTO_TEST_CASE(we_read_what_numpy_writes_and_write_the_same_bytes) {
  ScratchDirectory scratch;
  const std::string code = R"(
import sys, numpy as np
d = sys.argv[1] + "/"
np.save(d + "f8.npy", (np.arange(12) * 0.25).reshape(3, 4))
np.save(d + "f4.npy", np.arange(5, dtype=np.float32) - 2)
np.save(d + "i8.npy", np.arange(7, dtype=np.int64) * -1000000000000)
np.save(d + "i4.npy", np.zeros((0, 3), dtype=np.int32))
np.save(d + "u1.npy", np.arange(6, dtype=np.uint8).reshape(1, 6))
np.save(d + "fortran.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
np.save(d + "big_endian.npy", np.arange(3, dtype=">f8"))
)";
  BOOST_REQUIRE(run_python(code, scratch.path) == 0);
  const fs::path& d = scratch.path;

  const auto f8 = osbi::read_npy<double>(d / "f8.npy");
  BOOST_TEST(f8.shape == std::vector<std::size_t>({3, 4}));
  for (std::size_t k = 0; k < 12; ++k)
    BOOST_TEST(f8.data[k] == 0.25 * k);
  const auto f4 = osbi::read_npy<float>(d / "f4.npy");
  BOOST_TEST(f4.shape == std::vector<std::size_t>({5}));
  for (std::size_t k = 0; k < 5; ++k)
    BOOST_TEST(f4.data[k] == static_cast<float>(k) - 2.0f);
  const auto i8 = osbi::read_npy<std::int64_t>(d / "i8.npy");
  for (std::size_t k = 0; k < 7; ++k)
    BOOST_TEST(i8.data[k] == static_cast<std::int64_t>(k) * -1000000000000);
  const auto i4 = osbi::read_npy<std::int32_t>(d / "i4.npy");
  BOOST_TEST(i4.shape == std::vector<std::size_t>({0, 3}));
  BOOST_TEST(i4.data.empty());
  const auto u1 = osbi::read_npy<std::uint8_t>(d / "u1.npy");
  BOOST_TEST(u1.shape == std::vector<std::size_t>({1, 6}));
  for (std::size_t k = 0; k < 6; ++k)
    BOOST_TEST(u1.data[k] == k);
  expect_data_error<double>(d / "fortran.npy", {"fortran_order is True"}, "numpy's Fortran-order file");
  expect_data_error<double>(d / "big_endian.npy", {"'>f8' found"}, "numpy's big-endian file");

  // Our files are byte-for-byte numpy.save's.
  osbi::write_npy(d / "f8_ours.npy", f8.data.data(), f8.shape);
  osbi::write_npy(d / "f4_ours.npy", f4.data.data(), f4.shape);
  osbi::write_npy(d / "i8_ours.npy", i8.data.data(), i8.shape);
  osbi::write_npy(d / "i4_ours.npy", i4.data.data(), i4.shape);
  osbi::write_npy(d / "u1_ours.npy", u1.data.data(), u1.shape);
  for (const char* name : {"f8", "f4", "i8", "i4", "u1"})
    BOOST_TEST(read_bytes(d / (std::string(name) + "_ours.npy")) == read_bytes(d / (std::string(name) + ".npy")), name);
}

BOOST_AUTO_TEST_SUITE_END()
