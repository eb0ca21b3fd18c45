// SPDX-License-Identifier: BSD-3-Clause
/// \brief NumPy .npy files: write (atomically) and read float, double, int32, int64 and uint8 arrays.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>

#include <Kokkos_Core.hpp>

#include <bit>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

/*
 * The format (numpy/lib/format.py, "NEP 1"): the magic "\x93NUMPY", a major and a minor version
 * byte, the header length (uint16 little-endian in 1.0; uint32 in 2.0 and 3.0), then an ASCII
 * (3.0: UTF-8) Python dict literal such as
 *     {'descr': '<f8', 'fortran_order': False, 'shape': (7, 5), }
 * padded with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes, then the
 * raw elements in C order. osbi writes version 1.0, little-endian, C order, byte for byte as numpy.save;
 * it reads 1.0, 2.0 and 3.0 of the five element types below and rejects everything else with a
 * DataError that says what was expected and what was found.
 */
namespace osbi {

static_assert(std::endian::native == std::endian::little,
              "osbi/io/npy.hpp reads and writes little-endian data with memcpy: a big-endian host needs byte swaps");

/// Element types osbi writes and reads, with their numpy type strings.
template <class T>
struct NpyType;
template <>
struct NpyType<float> {
  static constexpr std::string_view descr = "<f4";
  static constexpr std::string_view name = "float32";
};
template <>
struct NpyType<double> {
  static constexpr std::string_view descr = "<f8";
  static constexpr std::string_view name = "float64";
};
template <>
struct NpyType<std::int32_t> {
  static constexpr std::string_view descr = "<i4";
  static constexpr std::string_view name = "int32";
};
template <>
struct NpyType<std::int64_t> {
  static constexpr std::string_view descr = "<i8";
  static constexpr std::string_view name = "int64";
};
template <>
struct NpyType<std::uint8_t> {
  static constexpr std::string_view descr = "|u1"; // numpy writes '|' (no byte order) for one-byte types
  static constexpr std::string_view name = "uint8";
};

template <class T>
concept NpyElement = requires {
  NpyType<T>::descr;
  NpyType<T>::name;
};

/// An array read from a .npy file: its shape (empty for a 0-d array) and its elements in C order.
template <NpyElement T>
struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<T> data;

  std::size_t rank() const { return shape.size(); }
  /// Element (i, j) of a rank-2 array.
  const T& operator()(std::size_t i, std::size_t j) const { return data[i * shape[1] + j]; }
};

namespace detail {

inline constexpr char npy_magic[] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
inline constexpr std::size_t npy_magic_size = sizeof(npy_magic);

/// Product of the extents, or a DataError (raised by `part`) if it overflows size_t bytes of T.
inline std::size_t npy_element_count(const std::vector<std::size_t>& shape, std::size_t element_size,
                                     std::string_view part, const std::string& path) {
  std::size_t count = 1;
  for (std::size_t extent : shape) {
    if (extent != 0 && count > std::numeric_limits<std::size_t>::max() / element_size / extent)
      throw DataError(part, osbi::detail::concat(path, ": the shape's element count overflows"));
    count *= extent;
  }
  return count;
}

inline std::string npy_shape_text(const std::vector<std::size_t>& shape) {
  std::string text = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k) text += ", ";
    text += std::to_string(shape[k]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

/// The 1.0 preamble and header for (descr, shape), padded to a multiple of 64 bytes exactly as
/// numpy.save (>= 1.23) pads it: spaces leaving room for the first extent to grow to 21 digits,
/// then up to the next multiple of 64 with the final '\n', so our files are byte-for-byte numpy's.
inline std::string npy_header(std::string_view descr, const std::vector<std::size_t>& shape) {
  constexpr std::size_t growth_axis_max_digits = 21; // numpy.lib.format.GROWTH_AXIS_MAX_DIGITS
  std::string dict = "{'descr': '";
  dict.append(descr).append("', 'fortran_order': False, 'shape': ").append(npy_shape_text(shape)).append(", }");
  if (!shape.empty()) dict.append(growth_axis_max_digits - std::to_string(shape[0]).size(), ' ');
  const std::size_t preamble = npy_magic_size + 2 + 2;
  const std::size_t unpadded = preamble + dict.size() + 1; // + '\n'
  const std::size_t padded = (unpadded + 63) / 64 * 64;
  dict.append(padded - unpadded, ' ').push_back('\n');
  const std::size_t header_length = dict.size();
  require<InvalidArgument>(header_length <= 0xFFFF, "osbi::write_npy", "a header of ", header_length,
                           " bytes does not fit format 1.0 (at most 65535)");
  std::string out(npy_magic, npy_magic_size);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header_length & 0xFF));
  out.push_back(static_cast<char>(header_length >> 8));
  return out + dict;
}

/// Writes bytes to `path` through a temporary file in the same directory and a rename, so readers
/// see the old file or the complete new one, never a part (a crash leaves at most a stray
/// "<name>.tmp-*" file). Not fsync'ed: durability across a power loss is the checkpoint code's job.
inline void write_file_atomically(const std::filesystem::path& path, const std::string& header, const char* data,
                                  std::size_t data_bytes) {
  std::random_device entropy;
  const std::uint64_t suffix = (static_cast<std::uint64_t>(entropy()) << 32) ^ entropy();
  std::filesystem::path temporary = path;
  temporary += osbi::detail::concat(".tmp-", std::hex, suffix);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out)
      throw Error("osbi::write_npy",
                  osbi::detail::concat("cannot open '", temporary.string(), "' to write '", path.string(), "'"));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (data_bytes) out.write(data, static_cast<std::streamsize>(data_bytes));
    out.close();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw Error("osbi::write_npy", osbi::detail::concat("writing '", temporary.string(), "' (for '", path.string(),
                                                    "') failed, e.g. the disk is full"));
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw Error("osbi::write_npy", osbi::detail::concat("cannot rename '", temporary.string(), "' to '", path.string(),
                                                  "': ", error.message()));
  }
}

/// A cursor over the header dict text; every parse error is a DataError naming the file.
class NpyHeaderParser {
public:
  NpyHeaderParser(std::string_view text, const std::string& path) : m_text(text), m_path(path) {}

  void skip_space() {
    while (m_position < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_position])))
      ++m_position;
  }
  bool at_end() {
    skip_space();
    return m_position == m_text.size();
  }
  bool accept(char c) {
    skip_space();
    if (m_position < m_text.size() && m_text[m_position] == c) {
      ++m_position;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(osbi::detail::concat("expected '", c, "'"));
  }
  std::string string_literal() {
    skip_space();
    if (m_position >= m_text.size() || (m_text[m_position] != '\'' && m_text[m_position] != '"'))
      fail("expected a quoted string");
    const char quote = m_text[m_position++];
    const std::size_t end = m_text.find(quote, m_position);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(m_text.substr(m_position, end - m_position));
    m_position = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair<std::string_view, bool>{"True", true}, {"False", false}}) {
      if (m_text.substr(m_position, word.size()) == word) {
        m_position += word.size();
        return value;
      }
    }
    fail("expected True or False");
  }
  std::size_t integer() {
    skip_space();
    std::size_t value = 0, digits = 0;
    while (m_position < m_text.size() && std::isdigit(static_cast<unsigned char>(m_text[m_position]))) {
      const std::size_t digit = static_cast<std::size_t>(m_text[m_position++] - '0');
      if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) fail("an extent overflows size_t");
      value = value * 10 + digit;
      ++digits;
    }
    if (m_position < m_text.size() && m_text[m_position] == 'L') ++m_position; // Python 2 longs
    if (digits == 0) fail("expected a non-negative integer");
    return value;
  }
  /// "(a, b, ...)", "(a,)" or "()".
  std::vector<std::size_t> shape() {
    std::vector<std::size_t> extents;
    expect('(');
    if (accept(')')) return extents;
    while (true) {
      extents.push_back(integer());
      if (accept(')')) return extents;
      expect(',');
      if (accept(')')) return extents;
    }
  }
  [[noreturn]] void fail(std::string_view what) const {
    const std::size_t shown = m_text.find_last_not_of(" \n") + 1; // 0 when all blank
    throw DataError("osbi::read_npy", osbi::detail::concat(m_path, ": bad header (", what, " at character ", m_position,
                                                     " of \"", m_text.substr(0, shown), "\")"));
  }

private:
  std::string_view m_text;
  const std::string& m_path;
  std::size_t m_position = 0;
};

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
};

inline NpyHeader parse_npy_header(std::string_view text, const std::string& path) {
  NpyHeaderParser parser(text, path);
  NpyHeader header;
  bool has_descr = false, has_fortran_order = false, has_shape = false;
  parser.expect('{');
  while (!parser.accept('}')) {
    const std::string key = parser.string_literal();
    parser.expect(':');
    if (key == "descr" && !has_descr) {
      parser.skip_space();
      header.descr = parser.string_literal(); // a structured dtype (a list) fails here: not supported
      has_descr = true;
    } else if (key == "fortran_order" && !has_fortran_order) {
      header.fortran_order = parser.boolean();
      has_fortran_order = true;
    } else if (key == "shape" && !has_shape) {
      header.shape = parser.shape();
      has_shape = true;
    } else {
      parser.fail(osbi::detail::concat("unexpected or repeated key '", key, "'"));
    }
    if (!parser.accept(',')) {
      parser.expect('}');
      break;
    }
  }
  if (!parser.at_end()) parser.fail("text after the closing '}'");
  if (!(has_descr && has_fortran_order && has_shape))
    parser.fail("the keys 'descr', 'fortran_order' and 'shape' must all be present");
  return header;
}

template <class T>
bool npy_descr_matches(std::string_view descr) {
  if (descr == NpyType<T>::descr) return true;
  // One-byte types have no byte order: numpy writes '|u1' but accepts '<u1' and '=u1'.
  if constexpr (sizeof(T) == 1)
    return descr.size() == 3 && (descr[0] == '<' || descr[0] == '=') && descr.substr(1) == NpyType<T>::descr.substr(1);
  return false;
}

/// Copies a host-accessible rank-1 or rank-2 view into a C-order vector (gathering element by
/// element when the view is not LayoutRight-contiguous).
template <class HostView>
std::vector<typename HostView::non_const_value_type> npy_gather_c_order(const HostView& view) {
  using T = typename HostView::non_const_value_type;
  std::vector<T> values;
  if constexpr (HostView::rank == 1) {
    values.resize(view.extent(0));
    for (std::size_t i = 0; i < view.extent(0); ++i)
      values[i] = view(i);
  } else {
    values.resize(view.extent(0) * view.extent(1));
    for (std::size_t i = 0; i < view.extent(0); ++i)
      for (std::size_t j = 0; j < view.extent(1); ++j)
        values[i * view.extent(1) + j] = view(i, j);
  }
  return values;
}

} // namespace detail

/// Writes data[0 .. product(shape)) (C order) as a .npy file (format 1.0, little-endian), replacing
/// `path` atomically. shape {} is a 0-d array of one element. Throws osbi::Error naming the path
/// if the file cannot be written; InvalidArgument for a null pointer with a non-empty shape.
template <NpyElement T>
void write_npy(const std::filesystem::path& path, const T* data, const std::vector<std::size_t>& shape) {
  const std::size_t count = detail::npy_element_count(shape, sizeof(T), "osbi::write_npy", path.string());
  require<InvalidArgument>(data != nullptr || count == 0, "osbi::write_npy", "'", path.string(),
                           "': data is a null pointer but the shape ", detail::npy_shape_text(shape), " has ", count,
                           " elements");
  detail::write_file_atomically(path, detail::npy_header(NpyType<T>::descr, shape), reinterpret_cast<const char*>(data),
                                count * sizeof(T));
}

/// Writes a rank-1 or rank-2 Kokkos::View of any layout and memory space (copied to the host first;
/// fence the space that fills it before calling). Rank-2 views are written in C order (row i of
/// the view is row i of the array) whatever their layout.
template <class ViewType>
requires(compat::is_view_v<ViewType> && (ViewType::rank == 1 || ViewType::rank == 2) &&
         NpyElement<typename ViewType::non_const_value_type>) void write_npy(const std::filesystem::path& path,
                                                                             const ViewType& view) {
  using T = typename ViewType::non_const_value_type;
  std::vector<std::size_t> shape;
  for (std::size_t r = 0; r != ViewType::rank; ++r)
    shape.push_back(view.extent(r));
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  using HostView = std::remove_const_t<decltype(host)>;
  const bool c_contiguous =
      host.span_is_contiguous() &&
      (ViewType::rank == 1 || std::is_same_v<typename HostView::array_layout, Kokkos::LayoutRight>)&&host.span() ==
          host.size();
  if (c_contiguous) {
    write_npy(path, host.data(), shape);
  } else {
    const std::vector<T> values = detail::npy_gather_c_order(host);
    write_npy(path, values.data(), shape);
  }
}

/// Reads a .npy file whose elements are of type T. Throws DataError, with the path and what was
/// expected and found, if the file cannot be opened, its magic or version is not .npy 1.0/2.0/3.0,
/// the header is malformed or truncated, the dtype is not T's (little-endian), fortran_order is
/// True, or the data is shorter or longer than the shape says. Never reads past the end of the file.
template <NpyElement T>
NpyArray<T> read_npy(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("osbi::read_npy", osbi::detail::concat("cannot open '", name, "' for reading"));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (end < 0 || !in) throw DataError("osbi::read_npy", osbi::detail::concat("cannot determine the size of '", name, "'"));
  const std::size_t file_size = static_cast<std::size_t>(end);
  auto read_exactly = [&](char* destination, std::size_t bytes, std::size_t offset, std::string_view what) {
    if (offset + bytes > file_size)
      throw DataError("osbi::read_npy", osbi::detail::concat(name, ": truncated ", what, ": needs bytes ", offset, "..",
                                                       offset + bytes, ", the file has ", file_size));
    if (bytes && !in.read(destination, static_cast<std::streamsize>(bytes)))
      throw DataError("osbi::read_npy", osbi::detail::concat(name, ": reading ", what, " failed"));
  };

  char magic[detail::npy_magic_size + 2];
  read_exactly(magic, sizeof(magic), 0, "preamble (magic and version)");
  if (std::memcmp(magic, detail::npy_magic, detail::npy_magic_size) != 0)
    throw DataError("osbi::read_npy", osbi::detail::concat(name, ": not a .npy file (the first 6 bytes are not "
                                                           "\"\\x93NUMPY\")"));
  const int major = static_cast<unsigned char>(magic[6]), minor = static_cast<unsigned char>(magic[7]);
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    throw DataError("osbi::read_npy", osbi::detail::concat(name, ": unsupported .npy version ", major, ".", minor,
                                                     " (supported: 1.0, 2.0, 3.0)"));
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  unsigned char length_field[4] = {0, 0, 0, 0};
  read_exactly(reinterpret_cast<char*>(length_field), length_bytes, sizeof(magic), "header length");
  std::size_t header_length = 0;
  for (std::size_t k = length_bytes; k-- > 0;)
    header_length = (header_length << 8) | length_field[k];
  const std::size_t header_offset = sizeof(magic) + length_bytes;
  std::string header_text(header_length, '\0');
  read_exactly(header_text.data(), header_length, header_offset, "header");
  const detail::NpyHeader header = detail::parse_npy_header(header_text, name);

  if (!detail::npy_descr_matches<T>(header.descr))
    throw DataError("osbi::read_npy", osbi::detail::concat(name, ": dtype '", header.descr, "' found, expected '",
                                                     NpyType<T>::descr, "' (", NpyType<T>::name, ")"));
  if (header.fortran_order)
    throw DataError("osbi::read_npy", osbi::detail::concat(name, ": fortran_order is True; only C-order arrays are read "
                                                           "(save with numpy.ascontiguousarray)"));
  const std::size_t count = detail::npy_element_count(header.shape, sizeof(T), "osbi::read_npy", name);
  const std::size_t data_offset = header_offset + header_length;
  const std::size_t data_bytes = count * sizeof(T);
  if (file_size - data_offset < data_bytes)
    throw DataError("osbi::read_npy",
                    osbi::detail::concat(name, ": truncated data: shape ", detail::npy_shape_text(header.shape), " of ",
                                         NpyType<T>::name, " needs ", data_bytes, " bytes, the file has ",
                                         file_size - data_offset, " after the header"));
  if (file_size - data_offset > data_bytes)
    throw DataError("osbi::read_npy", osbi::detail::concat(name, ": ", file_size - data_offset - data_bytes,
                                                     " bytes of trailing garbage after the ", data_bytes,
                                                     " bytes of data of shape ", detail::npy_shape_text(header.shape)));
  NpyArray<T> array{header.shape, std::vector<T>(count)};
  read_exactly(reinterpret_cast<char*>(array.data.data()), data_bytes, data_offset, "data");
  return array;
}

} // namespace osbi
