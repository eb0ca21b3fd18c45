// SPDX-License-Identifier: BSD-3-Clause
/// \brief Checkpoint container: named, typed, shaped, CRC-32-checked sections, written atomically and durably, read strictly.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
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
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

/*
 * File format, version 1 (all integers little-endian):
 *
 *   offset  bytes  field
 *   0       8      magic "OSBICKPT"
 *   8       4      u32 format version (1). Readers reject newer versions, naming both.
 *   12      4      u32 flags, 0 (reserved)
 *   16      8      u64 section count
 *   24      8      u64 T, the byte length of the section table
 *   32      8      u64 the byte length of the whole file
 *   40      T      section table, one entry per section, in payload order:
 *                    u32 name length L (1 .. 4096), L bytes of name (UTF-8, unique in the file),
 *                    u8 element type (CheckpointType), u8 rank R (0 .. 8), u16 zero,
 *                    R × u64 extents (C order), u64 payload byte length, u32 CRC-32 of the payload
 *   40+T    4      u32 CRC-32 of bytes [0, 40+T): header and table
 *   44+T    ...    the payloads, back to back in table order; nothing after the last one.
 *
 * A payload holds product(extents) elements in C order (rank 0: one element); its byte length must
 * be exactly that times the element size. `bytes` sections (strings) have rank 1.
 *
 * The reader checks, before exposing anything: magic, version, that the header and table fit in the
 * file, the header CRC, the declared file length against the actual one (truncation, trailing
 * garbage), every table entry (name, type, rank, extents × element size = length, duplicates), that
 * the lengths add up, and every payload CRC. Every failure is a DataError naming the file and what
 * was expected and found; nothing is read outside the file's bytes.
 *
 * The writer replaces the target atomically and durably: it writes a temporary file in the same
 * directory, fsyncs it, renames it over the target and fsyncs the directory. A crash leaves the old
 * checkpoint or the new one, plus at most a stray "<name>.tmp-*" file, never a mixture.
 *
 * This header is the container only. What a part stores in it lives with the part:
 * io/parameter_checkpoint.hpp (a flat parameter vector), optim/optimizer_checkpoint.hpp (optimizer
 * and schedule state, parameters + optimizer as one training state), buffer/buffer_checkpoint.hpp.
 */
namespace osbi {

static_assert(std::endian::native == std::endian::little,
              "osbi/io/checkpoint.hpp stores payloads with memcpy: a big-endian host needs byte swaps");

// ---------------------------------------------------------------------------------------------- CRC-32

namespace detail {

inline constexpr std::array<std::uint32_t, 256> crc32_table = [] {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}();

} // namespace detail

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320; zlib's crc32 and PNG's), table-driven.
/// Chains like zlib: crc32(b, crc32(a)) == crc32 of a followed by b. (One signature on purpose: a
/// pointer-and-length overload would silently take crc32("text", previous) as a length.)
inline std::uint32_t crc32(std::string_view bytes, std::uint32_t previous = 0) {
  std::uint32_t c = previous ^ 0xFFFFFFFFu;
  for (const char byte : bytes) c = detail::crc32_table[(c ^ static_cast<unsigned char>(byte)) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// ------------------------------------------------------------------------------------ element types

/// Element type code of a section (stored as one byte).
enum class CheckpointType : std::uint8_t { f32 = 1, f64 = 2, i64 = 3, u64 = 4, u8 = 5, bytes = 6 };

inline std::string_view checkpoint_type_name(CheckpointType type) {
  switch (type) {
  case CheckpointType::f32: return "f32";
  case CheckpointType::f64: return "f64";
  case CheckpointType::i64: return "i64";
  case CheckpointType::u64: return "u64";
  case CheckpointType::u8: return "u8";
  case CheckpointType::bytes: return "bytes";
  }
  return "unknown";
}

template <class T>
struct CheckpointTypeOf;
template <>
struct CheckpointTypeOf<float> : std::integral_constant<CheckpointType, CheckpointType::f32> {};
template <>
struct CheckpointTypeOf<double> : std::integral_constant<CheckpointType, CheckpointType::f64> {};
template <>
struct CheckpointTypeOf<std::int64_t> : std::integral_constant<CheckpointType, CheckpointType::i64> {};
template <>
struct CheckpointTypeOf<std::uint64_t> : std::integral_constant<CheckpointType, CheckpointType::u64> {};
template <>
struct CheckpointTypeOf<std::uint8_t> : std::integral_constant<CheckpointType, CheckpointType::u8> {};

/// Element types of numeric sections.
template <class T>
concept CheckpointElement = requires { CheckpointTypeOf<T>::value; };

/// A numeric section read back: its shape (empty for a scalar) and its elements in C order.
template <CheckpointElement T>
struct CheckpointArray {
  std::vector<std::size_t> shape;
  std::vector<T> data;
};

/// One entry of the section table.
struct CheckpointSection {
  std::string name;
  CheckpointType type = CheckpointType::u8;
  std::vector<std::size_t> shape;
  std::size_t offset = 0; ///< of the payload in the file
  std::size_t byte_length = 0;
  std::uint32_t crc = 0;
};

namespace detail {

inline constexpr char checkpoint_magic[8] = {'O', 'S', 'B', 'I', 'C', 'K', 'P', 'T'};
inline constexpr std::uint32_t checkpoint_version = 1;
inline constexpr std::size_t checkpoint_fixed_header = 40;
inline constexpr std::size_t checkpoint_max_name = 4096;
inline constexpr std::size_t checkpoint_max_rank = 8;
/// The smallest table entry: name length, a one-byte name, type, rank, reserved, byte length, CRC.
inline constexpr std::size_t checkpoint_min_entry = 4 + 1 + 1 + 1 + 2 + 8 + 4;

inline std::size_t checkpoint_element_size(CheckpointType type) {
  switch (type) {
  case CheckpointType::f32: return 4;
  case CheckpointType::f64: return 8;
  case CheckpointType::i64: return 8;
  case CheckpointType::u64: return 8;
  case CheckpointType::u8: return 1;
  case CheckpointType::bytes: return 1;
  }
  return 0;
}

inline std::string checkpoint_shape_text(const std::vector<std::size_t>& shape) {
  std::string text = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) text += (k ? ", " : "") + std::to_string(shape[k]);
  return text + ")";
}

/// Number of elements of `shape`, or false if it times element_size overflows size_t.
inline bool checkpoint_element_count(const std::vector<std::size_t>& shape, std::size_t element_size,
                                     std::size_t& count) {
  count = 1;
  for (std::size_t extent : shape) {
    if (extent != 0 && count > std::numeric_limits<std::size_t>::max() / element_size / extent) return false;
    count *= extent;
  }
  return true;
}

inline void append_u8(std::string& out, std::uint8_t value) { out.push_back(static_cast<char>(value)); }
inline void append_u16(std::string& out, std::uint16_t value) {
  for (int k = 0; k < 2; ++k) out.push_back(static_cast<char>((value >> (8 * k)) & 0xFFu));
}
inline void append_u32(std::string& out, std::uint32_t value) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((value >> (8 * k)) & 0xFFu));
}
inline void append_u64(std::string& out, std::uint64_t value) {
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>((value >> (8 * k)) & 0xFFu));
}

/// Little-endian reads from a byte range [position, end) of the file's bytes; reading past `end`
/// is a DataError that names what was being read.
class CheckpointCursor {
public:
  CheckpointCursor(const std::string& bytes, std::size_t position, std::size_t end, const std::string& path)
      : m_bytes(bytes), m_position(position), m_end(end), m_path(path) {}

  std::uint64_t unsigned_integer(std::size_t size, std::string_view what) {
    need(size, what);
    std::uint64_t value = 0;
    for (std::size_t k = size; k-- > 0;) value = (value << 8) | static_cast<unsigned char>(m_bytes[m_position + k]);
    m_position += size;
    return value;
  }
  std::string text(std::size_t size, std::string_view what) {
    need(size, what);
    std::string value = m_bytes.substr(m_position, size);
    m_position += size;
    return value;
  }
  std::size_t position() const { return m_position; }

private:
  void need(std::size_t size, std::string_view what) const {
    if (size > m_end - m_position)
      throw DataError("osbi::CheckpointReader",
                      osbi::detail::concat(m_path, ": the section table ends inside ", what, " (needs bytes ",
                                           m_position, "..", m_position + size, ", the table ends at ", m_end, ")"));
  }
  const std::string& m_bytes;
  std::size_t m_position;
  std::size_t m_end;
  const std::string& m_path;
};

/// Gathers a host-accessible view of rank 0..3 into C order.
template <class HostView, class T>
void checkpoint_gather(const HostView& view, T* out) {
  if constexpr (HostView::rank == 0) {
    out[0] = view();
  } else if constexpr (HostView::rank == 1) {
    for (std::size_t i = 0; i < view.extent(0); ++i) out[i] = view(i);
  } else if constexpr (HostView::rank == 2) {
    for (std::size_t i = 0; i < view.extent(0); ++i)
      for (std::size_t j = 0; j < view.extent(1); ++j) *out++ = view(i, j);
  } else {
    for (std::size_t i = 0; i < view.extent(0); ++i)
      for (std::size_t j = 0; j < view.extent(1); ++j)
        for (std::size_t k = 0; k < view.extent(2); ++k) *out++ = view(i, j, k);
  }
}

/// Scatters C-order elements into a host-accessible view of rank 0..3.
template <class HostView, class T>
void checkpoint_scatter(const T* in, const HostView& view) {
  if constexpr (HostView::rank == 0) {
    view() = in[0];
  } else if constexpr (HostView::rank == 1) {
    for (std::size_t i = 0; i < view.extent(0); ++i) view(i) = in[i];
  } else if constexpr (HostView::rank == 2) {
    for (std::size_t i = 0; i < view.extent(0); ++i)
      for (std::size_t j = 0; j < view.extent(1); ++j) view(i, j) = *in++;
  } else {
    for (std::size_t i = 0; i < view.extent(0); ++i)
      for (std::size_t j = 0; j < view.extent(1); ++j)
        for (std::size_t k = 0; k < view.extent(2); ++k) view(i, j, k) = *in++;
  }
}

/// A view the checkpoint code can copy from or into: rank 0..3, numeric element type.
template <class ViewType>
concept CheckpointView = compat::is_view_v<ViewType> && (ViewType::rank <= 3) &&
                         CheckpointElement<typename ViewType::non_const_value_type>;

inline std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

/// Writes all of `bytes` to the file descriptor, retrying on EINTR and short writes; false (errno
/// set) on failure.
inline bool write_all(int descriptor, const char* bytes, std::size_t size) {
  while (size > 0) {
    const ::ssize_t written = ::write(descriptor, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

} // namespace detail

// ---------------------------------------------------------------------------------------------- writer

/// Collects named sections (copies of the data, taken when added) and writes them as one checkpoint.
class CheckpointWriter {
public:
  /// A numeric array of the given C-order shape ({} for a scalar) from host memory. InvalidArgument
  /// for an empty, over-long or repeated name, a rank above 8 or a null pointer with elements.
  template <CheckpointElement T>
  void add_array(std::string name, const T* data, const std::vector<std::size_t>& shape) {
    std::size_t count = 0;
    require(shape.size() <= detail::checkpoint_max_rank, "osbi::CheckpointWriter", "section '", name, "': rank ",
            shape.size(), " exceeds ", detail::checkpoint_max_rank);
    require(detail::checkpoint_element_count(shape, sizeof(T), count), "osbi::CheckpointWriter", "section '", name,
            "': the element count of shape ", detail::checkpoint_shape_text(shape), " overflows");
    require(data != nullptr || count == 0, "osbi::CheckpointWriter", "section '", name, "': null data for shape ",
            detail::checkpoint_shape_text(shape));
    std::string payload(count * sizeof(T), '\0');
    if (count) std::memcpy(payload.data(), data, payload.size());
    add_section(std::move(name), CheckpointTypeOf<T>::value, shape, std::move(payload));
  }

  /// A copy of a view of rank 0..3 in any memory space and layout, stored in C order. The copy is
  /// taken now (Kokkos::deep_copy, which fences): fence the space that fills the view first.
  template <class ViewType>
  requires detail::CheckpointView<ViewType>
  void add(std::string name, const ViewType& view) {
    using T = typename ViewType::non_const_value_type;
    std::vector<std::size_t> shape;
    for (std::size_t r = 0; r != ViewType::rank; ++r) shape.push_back(view.extent(r));
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
    std::vector<T> values(host.size());
    detail::checkpoint_gather(host, values.data());
    add_array(std::move(name), values.data(), shape);
  }

  /// A rank-0 section holding one value.
  template <CheckpointElement T>
  void add_scalar(std::string name, T value) {
    add_array(std::move(name), &value, {});
  }

  /// A `bytes` section (rank 1) holding the text as is.
  void add_string(std::string name, std::string_view text) {
    add_section(std::move(name), CheckpointType::bytes, {text.size()}, std::string(text));
  }

  bool has(std::string_view name) const { return m_index.count(std::string(name)) != 0; }
  std::size_t section_count() const { return m_sections.size(); }

  /// The whole file as bytes (what write() stores).
  std::string serialize() const {
    std::string table;
    for (const Section& section : m_sections) {
      detail::append_u32(table, static_cast<std::uint32_t>(section.name.size()));
      table += section.name;
      detail::append_u8(table, static_cast<std::uint8_t>(section.type));
      detail::append_u8(table, static_cast<std::uint8_t>(section.shape.size()));
      detail::append_u16(table, 0);
      for (std::size_t extent : section.shape) detail::append_u64(table, extent);
      detail::append_u64(table, section.payload.size());
      detail::append_u32(table, crc32(section.payload));
    }
    std::size_t payload_bytes = 0;
    for (const Section& section : m_sections) payload_bytes += section.payload.size();
    const std::size_t file_bytes = detail::checkpoint_fixed_header + table.size() + 4 + payload_bytes;
    std::string out(detail::checkpoint_magic, sizeof(detail::checkpoint_magic));
    detail::append_u32(out, detail::checkpoint_version);
    detail::append_u32(out, 0);
    detail::append_u64(out, m_sections.size());
    detail::append_u64(out, table.size());
    detail::append_u64(out, file_bytes);
    out += table;
    detail::append_u32(out, crc32(out));
    out.reserve(file_bytes);
    for (const Section& section : m_sections) out += section.payload;
    return out;
  }

  /// Replaces `path` atomically and durably (see the format comment). Throws osbi::Error naming the
  /// path and the system's reason if any step fails; the temporary file is removed then, and an
  /// existing checkpoint at `path` is left as it was.
  void write(const std::filesystem::path& path) const {
    const std::string bytes = serialize();
    std::random_device entropy;
    const std::uint64_t suffix = (static_cast<std::uint64_t>(entropy()) << 32) ^ entropy();
    std::filesystem::path temporary = path;
    temporary += osbi::detail::concat(".tmp-", std::hex, suffix);
    const std::string target = path.string(), temp = temporary.string();
    const auto fail = [&](std::string_view what, int error) {
      ::unlink(temp.c_str());
      throw Error("osbi::CheckpointWriter", osbi::detail::concat(what, " '", temp, "' (for '", target, "'): ",
                                                           detail::errno_text(error)));
    };
    const int descriptor = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (descriptor < 0)
      throw Error("osbi::CheckpointWriter", osbi::detail::concat("cannot create '", temp, "' to write '", target,
                                                           "': ", detail::errno_text(errno)));
    if (!detail::write_all(descriptor, bytes.data(), bytes.size())) {
      const int error = errno;
      ::close(descriptor);
      fail("writing", error);
    }
    if (::fsync(descriptor) != 0) {
      const int error = errno;
      ::close(descriptor);
      fail("fsync of", error);
    }
    if (::close(descriptor) != 0) fail("closing", errno);
    if (::rename(temp.c_str(), target.c_str()) != 0) fail("renaming", errno);
    // The rename is durable once the directory entry is: fsync the directory (best effort on file
    // systems that refuse it; the data itself is already on disk).
    std::filesystem::path directory = path.parent_path();
    if (directory.empty()) directory = ".";
    const int directory_descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_descriptor >= 0) {
      ::fsync(directory_descriptor);
      ::close(directory_descriptor);
    }
  }

private:
  struct Section {
    std::string name;
    CheckpointType type;
    std::vector<std::size_t> shape;
    std::string payload;
  };

  void add_section(std::string name, CheckpointType type, std::vector<std::size_t> shape, std::string payload) {
    require(!name.empty() && name.size() <= detail::checkpoint_max_name, "osbi::CheckpointWriter", "a section name must have 1 to ",
            detail::checkpoint_max_name, " bytes, '", name.substr(0, 64), "' has ", name.size());
    require(!has(name), "osbi::CheckpointWriter", "a section named '", name, "' was already added");
    m_index.emplace(name, m_sections.size());
    m_sections.push_back(Section{std::move(name), type, std::move(shape), std::move(payload)});
  }

  std::vector<Section> m_sections;
  std::unordered_map<std::string, std::size_t> m_index;
};

// ---------------------------------------------------------------------------------------------- reader

/// A checkpoint file read into memory and validated completely by the constructor (see the format
/// comment); then sections are looked up by name, with their type and shape checked.
class CheckpointReader {
public:
  explicit CheckpointReader(const std::filesystem::path& path) : m_path(path.string()) {
    load_bytes(path);
    parse();
  }

  /// Same as the constructor.
  static CheckpointReader read(const std::filesystem::path& path) { return CheckpointReader(path); }

  /// A checkpoint held in memory (what CheckpointWriter::serialize gave, e.g. one nested in a `bytes` section),
  /// validated as a file is; `name` stands for the path in messages.
  static CheckpointReader from_bytes(std::string bytes, std::string name) {
    CheckpointReader reader;
    reader.m_path = std::move(name);
    reader.m_bytes = std::move(bytes);
    reader.parse();
    return reader;
  }

  const std::string& path() const { return m_path; }
  bool has(std::string_view name) const { return m_index.count(std::string(name)) != 0; }
  /// Section names in file order.
  std::vector<std::string> names() const {
    std::vector<std::string> names;
    for (const CheckpointSection& section : m_sections) names.push_back(section.name);
    return names;
  }
  const std::vector<CheckpointSection>& sections() const { return m_sections; }

  /// The table entry of `name`; DataError listing the sections if there is none.
  const CheckpointSection& section(std::string_view name) const {
    const auto found = m_index.find(std::string(name));
    if (found == m_index.end()) {
      std::string list;
      for (const CheckpointSection& section : m_sections) list += (list.empty() ? "'" : ", '") + section.name + "'";
      throw DataError("osbi::CheckpointReader", osbi::detail::concat(m_path, ": no section '", name, "' (it has ",
                                                               m_sections.size(), ": ", list, ")"));
    }
    return m_sections[found->second];
  }

  /// Section `name` as elements of T; DataError if its element type is not T's.
  template <CheckpointElement T>
  CheckpointArray<T> get(std::string_view name) const {
    const CheckpointSection& entry = typed_section(name, CheckpointTypeOf<T>::value);
    CheckpointArray<T> array{entry.shape, std::vector<T>(entry.byte_length / sizeof(T))};
    if (entry.byte_length) std::memcpy(array.data.data(), m_bytes.data() + entry.offset, entry.byte_length);
    return array;
  }

  /// Section `name` as elements of T of exactly `shape`; DataError naming both shapes otherwise.
  template <CheckpointElement T>
  CheckpointArray<T> get(std::string_view name, const std::vector<std::size_t>& shape) const {
    check_shape(typed_section(name, CheckpointTypeOf<T>::value), shape);
    return get<T>(name);
  }

  /// The value of a rank-0 section.
  template <CheckpointElement T>
  T get_scalar(std::string_view name) const {
    return get<T>(name, {}).data[0];
  }

  /// The text of a `bytes` section.
  std::string get_string(std::string_view name) const {
    const CheckpointSection& entry = typed_section(name, CheckpointType::bytes);
    return m_bytes.substr(entry.offset, entry.byte_length);
  }

  /// Copies section `name` into an existing view of rank 0..3 (any memory space and layout), whose
  /// element type and extents must equal the section's (DataError naming both otherwise). Fences.
  template <class ViewType>
  requires detail::CheckpointView<ViewType>
  void read_into(std::string_view name, const ViewType& view) const {
    using T = typename ViewType::non_const_value_type;
    static_assert(!std::is_const_v<typename ViewType::value_type>, "read_into needs a view of non-const elements");
    std::vector<std::size_t> shape;
    for (std::size_t r = 0; r != ViewType::rank; ++r) shape.push_back(view.extent(r));
    const CheckpointArray<T> array = get<T>(name, shape);
    const auto host = Kokkos::create_mirror_view(Kokkos::HostSpace(), view);
    detail::checkpoint_scatter(array.data.data(), host);
    Kokkos::deep_copy(view, host);
  }

private:
  CheckpointReader() = default;

  [[noreturn]] void fail(const std::string& message) const {
    throw DataError("osbi::CheckpointReader", m_path + ": " + message);
  }

  const CheckpointSection& typed_section(std::string_view name, CheckpointType type) const {
    const CheckpointSection& entry = section(name);
    if (entry.type != type)
      fail(osbi::detail::concat("section '", name, "' holds ", checkpoint_type_name(entry.type), ", not ",
                                checkpoint_type_name(type)));
    return entry;
  }

  void check_shape(const CheckpointSection& entry, const std::vector<std::size_t>& shape) const {
    if (entry.shape != shape)
      fail(osbi::detail::concat("section '", entry.name, "' has shape ", detail::checkpoint_shape_text(entry.shape),
                                ", expected ", detail::checkpoint_shape_text(shape)));
  }

  void load_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open the file for reading");
    in.seekg(0, std::ios::end);
    const std::streamoff end = in.tellg();
    in.seekg(0, std::ios::beg);
    if (end < 0 || !in) fail("cannot determine the file's size");
    m_bytes.resize(static_cast<std::size_t>(end));
    if (!m_bytes.empty() && !in.read(m_bytes.data(), static_cast<std::streamsize>(m_bytes.size())))
      fail(osbi::detail::concat("reading ", m_bytes.size(), " bytes failed (did the file shrink while being read?)"));
  }

  std::uint64_t fixed_field(std::size_t offset, std::size_t size) const {
    std::uint64_t value = 0;
    for (std::size_t k = size; k-- > 0;) value = (value << 8) | static_cast<unsigned char>(m_bytes[offset + k]);
    return value;
  }

  void parse() {
    const std::size_t size = m_bytes.size();
    constexpr std::size_t magic_size = sizeof(detail::checkpoint_magic);
    // Magic first, on as many bytes as there are, so a foreign or empty file gets the right message.
    if (size == 0) fail("the file is empty (truncated: a checkpoint has at least 44 bytes)");
    if (std::memcmp(m_bytes.data(), detail::checkpoint_magic, std::min(size, magic_size)) != 0)
      fail("not an osbi checkpoint: the first bytes are not the magic \"OSBICKPT\"");
    if (size < magic_size + 4)
      fail(osbi::detail::concat("truncated header: the file has ", size, " bytes, the fixed header needs ",
                                detail::checkpoint_fixed_header));
    const std::uint64_t version = fixed_field(8, 4);
    if (version == 0) fail("invalid format version 0");
    if (version > detail::checkpoint_version)
      fail(osbi::detail::concat("format version ", version, " is newer than this osbi reads (version ",
                                detail::checkpoint_version, "): written by a newer osbi?"));
    if (size < detail::checkpoint_fixed_header)
      fail(osbi::detail::concat("truncated header: the file has ", size, " bytes, the fixed header needs ",
                                detail::checkpoint_fixed_header));
    const std::uint64_t flags = fixed_field(12, 4);
    const std::uint64_t section_count = fixed_field(16, 8);
    const std::uint64_t table_bytes = fixed_field(24, 8);
    const std::uint64_t declared_size = fixed_field(32, 8);
    if (table_bytes > size - detail::checkpoint_fixed_header || size - detail::checkpoint_fixed_header - table_bytes < 4)
      fail(osbi::detail::concat("truncated (or corrupt header): the header, a section table of ", table_bytes,
                                " bytes and the header CRC do not fit in the file's ", size, " bytes"));
    const std::size_t table_end = detail::checkpoint_fixed_header + static_cast<std::size_t>(table_bytes);
    const std::uint32_t stored_crc = static_cast<std::uint32_t>(fixed_field(table_end, 4));
    const std::uint32_t computed_crc = crc32(std::string_view(m_bytes.data(), table_end));
    if (stored_crc != computed_crc)
      fail(osbi::detail::concat("header CRC-32 mismatch: stored 0x", std::hex, stored_crc, ", computed 0x",
                                computed_crc, std::dec, " over bytes 0..", table_end,
                                " (the header or section table is corrupt)"));
    if (flags != 0) fail(osbi::detail::concat("unknown header flags 0x", std::hex, flags));
    if (declared_size > size)
      fail(osbi::detail::concat("truncated: the header declares ", declared_size, " bytes, the file has ", size));
    if (declared_size < size)
      fail(osbi::detail::concat(size - declared_size, " bytes of trailing garbage after the ", declared_size,
                                " bytes the header declares"));
    if (section_count > table_bytes / detail::checkpoint_min_entry)
      fail(osbi::detail::concat("the header declares ", section_count, " sections, but a table of ", table_bytes,
                                " bytes holds at most ", table_bytes / detail::checkpoint_min_entry));

    detail::CheckpointCursor cursor(m_bytes, detail::checkpoint_fixed_header, table_end, m_path);
    std::size_t offset = table_end + 4;
    for (std::uint64_t k = 0; k < section_count; ++k) {
      CheckpointSection entry;
      const std::string which = osbi::detail::concat("the name length of section ", k);
      const std::uint64_t name_length = cursor.unsigned_integer(4, which);
      if (name_length == 0 || name_length > detail::checkpoint_max_name)
        fail(osbi::detail::concat("section ", k, " has a name of ", name_length, " bytes (1 to ",
                                  detail::checkpoint_max_name, " allowed)"));
      entry.name = cursor.text(static_cast<std::size_t>(name_length), osbi::detail::concat("the name of section ", k));
      const std::string about = osbi::detail::concat("section ", k, " '", entry.name, "'");
      const std::uint64_t type = cursor.unsigned_integer(1, "the type of " + about);
      if (type < 1 || type > 6) fail(osbi::detail::concat(about, " has the unknown element type code ", type));
      entry.type = static_cast<CheckpointType>(type);
      const std::uint64_t rank = cursor.unsigned_integer(1, "the rank of " + about);
      if (rank > detail::checkpoint_max_rank)
        fail(osbi::detail::concat(about, " has rank ", rank, " (at most ", detail::checkpoint_max_rank, ")"));
      if (entry.type == CheckpointType::bytes && rank != 1)
        fail(osbi::detail::concat(about, " holds bytes with rank ", rank, " (must be 1)"));
      if (cursor.unsigned_integer(2, "the reserved field of " + about) != 0)
        fail(osbi::detail::concat(about, " has a non-zero reserved field"));
      for (std::uint64_t r = 0; r < rank; ++r) {
        const std::uint64_t extent = cursor.unsigned_integer(8, "the extents of " + about);
        if (extent > std::numeric_limits<std::size_t>::max()) fail(about + " has an extent beyond size_t");
        entry.shape.push_back(static_cast<std::size_t>(extent));
      }
      const std::uint64_t byte_length = cursor.unsigned_integer(8, "the payload length of " + about);
      entry.crc = static_cast<std::uint32_t>(cursor.unsigned_integer(4, "the payload CRC of " + about));
      const std::size_t element_size = detail::checkpoint_element_size(entry.type);
      std::size_t count = 0;
      if (!detail::checkpoint_element_count(entry.shape, element_size, count) || count * element_size != byte_length)
        fail(osbi::detail::concat(about, ": shape ", detail::checkpoint_shape_text(entry.shape), " of ",
                                  checkpoint_type_name(entry.type), " does not match its payload length ", byte_length));
      if (byte_length > size - offset)
        fail(osbi::detail::concat(about, ": payload of ", byte_length, " bytes at offset ", offset,
                                  " runs past the end of the file (", size, " bytes)"));
      entry.offset = offset;
      entry.byte_length = static_cast<std::size_t>(byte_length);
      offset += entry.byte_length;
      if (!m_index.emplace(entry.name, m_sections.size()).second)
        fail(osbi::detail::concat("duplicate section name '", entry.name, "' (sections ", m_index[entry.name], " and ",
                                  k, ")"));
      m_sections.push_back(std::move(entry));
    }
    if (cursor.position() != table_end)
      fail(osbi::detail::concat("the section table has ", table_end - cursor.position(),
                                " bytes after its last entry"));
    if (offset != size)
      fail(osbi::detail::concat("the payloads end at byte ", offset, ", the file at ", size));
    for (const CheckpointSection& entry : m_sections) {
      const std::uint32_t computed = crc32(std::string_view(m_bytes.data() + entry.offset, entry.byte_length));
      if (computed != entry.crc)
        fail(osbi::detail::concat("section '", entry.name, "': payload CRC-32 mismatch (stored 0x", std::hex,
                                  entry.crc, ", computed 0x", computed, std::dec, "): the data is corrupt"));
    }
  }

  std::string m_path;
  std::string m_bytes;
  std::vector<CheckpointSection> m_sections;
  std::unordered_map<std::string, std::size_t> m_index;
};

} // namespace osbi
