#pragma once
// Gorilla-style compression of one time series chunk (Pelkonen et al.,
// "Gorilla: A Fast, Scalable, In-Memory Time Series Database", VLDB 2015):
// delta-of-delta timestamps and XOR-ed doubles in one bitstream. Pure code,
// no RocksDB; used by the store's history (docs/adr/0008-history-chunks.md).
//
// Chunk bytes (little-endian header, then the bitstream, MSB first):
//   u8  kind (1 numeric, 2 string)
//   u32 count
//   i64 min_time_ms, i64 max_time_ms
//   bits: sample 1: time as 64 raw bits; value (numeric: 64 raw bits)
//         sample n>1: delta-of-delta of the time (zigzag, prefix code
//         '0' | '10'+7 | '110'+9 | '1110'+12 | '11110'+32 | '11111'+64 bits)
//         numeric value: XOR with the previous value's bits,
//           '0' (equal) | '10' + meaningful bits inside the previous window
//           | '11' + 5 bits leading zeros + 6 bits (length-1) + bits
//         string value: 32 bits length, then the bytes
//
// Timestamps may go backwards (late samples: negative deltas are just
// larger zigzag codes), NaN and infinities keep their exact bits.
//
// Thread-safety: none; an encoder belongs to one owner (the store's writer
// thread, under the history mutex).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace twin::persistence::gorilla {

/// Appends bits MSB first; keeps up to 64 bits in a register.
class bit_writer {
public:
  /// Writes the low `n` bits of `v` (n <= 64). Inline for the usual case,
  /// bits that fit in the accumulator (a call per field was 4-5 % of a
  /// node's ingest CPU).
  void write(std::uint64_t v, unsigned n) noexcept {
    if (n < 64 - acc_bits_) {
      acc_ = (acc_ << n) | (v & ((std::uint64_t{1} << n) - 1));
      acc_bits_ += n;
      return;
    }
    write_slow(v, n);
  }
  void write_bit(bool b) noexcept { write(b ? 1u : 0u, 1); }
  /// Bits written so far.
  std::size_t bit_count() const noexcept { return buf_.size() * 8 + acc_bits_; }
  /// Appends every bit written so far to `out`, the last byte zero-padded.
  void append_to(std::string& out) const;
  void reserve(std::size_t bytes) { buf_.reserve(bytes); }
  /// Forgets every bit, keeps the buffer's capacity.
  void clear() noexcept {
    buf_.clear();
    acc_ = 0;
    acc_bits_ = 0;
  }

private:
  /// Fills the accumulator, flushes it, keeps the rest.
  void write_slow(std::uint64_t v, unsigned n) noexcept;

  std::string buf_;
  std::uint64_t acc_ = 0;
  unsigned acc_bits_ = 0;
};

/// Reads bits MSB first; reading past the end sets failed() and yields 0.
class bit_reader {
public:
  bit_reader(const char* data, std::size_t size) noexcept
    : data_(reinterpret_cast<const unsigned char*>(data)), bits_(size * 8) {}
  std::uint64_t read(unsigned n) noexcept;
  bool read_bit() noexcept { return read(1) != 0; }
  bool failed() const noexcept { return failed_; }

private:
  const unsigned char* data_;
  std::size_t bits_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

enum class chunk_kind : std::uint8_t { numeric = 1, string = 2 };

inline constexpr std::size_t chunk_header_size = 1 + 4 + 8 + 8;

/// Builds one chunk. A numeric chunk takes only append(t, double), a string
/// chunk only append(t, string_view).
class chunk_encoder {
public:
  explicit chunk_encoder(chunk_kind kind = chunk_kind::numeric) noexcept
    : kind_(kind) {}
  chunk_kind kind() const noexcept { return kind_; }
  void append(std::int64_t time_ms, double value) noexcept;
  void append(std::int64_t time_ms, std::string_view value) noexcept;
  std::uint32_t count() const noexcept { return count_; }
  std::int64_t min_time() const noexcept { return min_time_; }
  std::int64_t max_time() const noexcept { return max_time_; }
  /// Encoded size so far (header included), in bytes.
  std::size_t size() const noexcept {
    return chunk_header_size + (bits_.bit_count() + 7) / 8;
  }
  /// Appends the chunk bytes (header and bitstream) to `out`.
  void serialize(std::string& out) const;
  void reserve(std::size_t bytes) { bits_.reserve(bytes); }
  /// Starts a new, empty chunk of `kind`, keeping the buffer's capacity.
  void clear(chunk_kind kind) noexcept {
    bits_.clear();
    kind_ = kind;
    count_ = 0;
    min_time_ = max_time_ = prev_time_ = prev_delta_ = 0;
    prev_bits_ = 0;
    prev_lead_ = prev_trail_ = 0;
    window_ = false;
  }

private:
  void append_time(std::int64_t time_ms) noexcept;

  chunk_kind kind_;
  bit_writer bits_;
  std::uint32_t count_ = 0;
  std::int64_t min_time_ = 0, max_time_ = 0;
  std::int64_t prev_time_ = 0, prev_delta_ = 0;
  std::uint64_t prev_bits_ = 0;
  unsigned prev_lead_ = 0, prev_trail_ = 0;
  bool window_ = false; // prev_lead_/prev_trail_ hold a window
};

/// Header of an encoded chunk; false if `chunk` is too short or of an
/// unknown kind.
struct chunk_header {
  chunk_kind kind = chunk_kind::numeric;
  std::uint32_t count = 0;
  std::int64_t min_time = 0, max_time = 0;
};
bool read_header(std::string_view chunk, chunk_header& out) noexcept;

/// Decodes every sample of `chunk` in the order appended: numeric chunks
/// call on_number, string chunks on_string. Returns false (after calling
/// back for the samples decoded so far) if the chunk is malformed.
bool decode(std::string_view chunk,
            const std::function<void(std::int64_t, double)>& on_number,
            const std::function<void(std::int64_t, std::string_view)>& on_string);

} // namespace twin::persistence::gorilla
