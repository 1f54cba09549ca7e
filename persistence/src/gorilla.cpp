// Gorilla chunk codec. See gorilla.hpp for the bit layout.

#include "twin/persistence/gorilla.hpp"

#include <bit>
#include <cstring>

namespace twin::persistence::gorilla {

namespace {

constexpr std::uint64_t mask(unsigned n) noexcept {
  return n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
}

constexpr std::uint64_t zigzag(std::int64_t v) noexcept {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

constexpr std::int64_t unzigzag(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

// Wrapping arithmetic: deltas of extreme timestamps must not be UB.
constexpr std::int64_t wrap_sub(std::int64_t a, std::int64_t b) noexcept {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a)
                                   - static_cast<std::uint64_t>(b));
}
constexpr std::int64_t wrap_add(std::int64_t a, std::int64_t b) noexcept {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a)
                                   + static_cast<std::uint64_t>(b));
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>(v & 0xff));
    v >>= 8;
  }
}

std::uint64_t get_le(const char* in, int bytes) noexcept {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

// Delta-of-delta prefix classes: (prefix bits, prefix length, payload bits).
struct dod_class {
  std::uint64_t prefix;
  unsigned prefix_len;
  unsigned payload;
};
constexpr dod_class dod_classes[] = {
  {0b10, 2, 7}, {0b110, 3, 9}, {0b1110, 4, 12}, {0b11110, 5, 32}, {0b11111, 5, 64},
};

} // namespace

// -- bits ---------------------------------------------------------------------

void bit_writer::write_slow(std::uint64_t v, unsigned n) noexcept {
  while (n > 0) {
    const unsigned free = 64 - acc_bits_;
    const unsigned take = n < free ? n : free;
    const std::uint64_t part = (v >> (n - take)) & mask(take);
    acc_ = take == 64 ? part : (acc_ << take) | part;
    acc_bits_ += take;
    n -= take;
    if (acc_bits_ == 64) {
      char bytes[8];
      for (int i = 0; i < 8; ++i)
        bytes[i] = static_cast<char>((acc_ >> (56 - i * 8)) & 0xff);
      buf_.append(bytes, 8);
      acc_ = 0;
      acc_bits_ = 0;
    }
  }
}

void bit_writer::append_to(std::string& out) const {
  out.append(buf_);
  if (acc_bits_ == 0)
    return;
  const std::uint64_t aligned = acc_ << (64 - acc_bits_);
  const unsigned bytes = (acc_bits_ + 7) / 8;
  for (unsigned i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((aligned >> (56 - i * 8)) & 0xff));
}

std::uint64_t bit_reader::read(unsigned n) noexcept {
  if (n > bits_ - pos_ || failed_) {
    failed_ = true;
    return 0;
  }
  std::uint64_t v = 0;
  while (n > 0) {
    const unsigned off = pos_ & 7;
    const unsigned avail = 8 - off;
    const unsigned take = n < avail ? n : avail;
    const unsigned byte = data_[pos_ >> 3];
    v = (v << take) | ((byte >> (avail - take)) & mask(take));
    pos_ += take;
    n -= take;
  }
  return v;
}

// -- encoder ------------------------------------------------------------------

void chunk_encoder::append_time(std::int64_t t) noexcept {
  if (count_ == 0) {
    bits_.write(static_cast<std::uint64_t>(t), 64);
    min_time_ = max_time_ = t;
  } else {
    const auto delta = wrap_sub(t, prev_time_);
    const auto zz = zigzag(wrap_sub(delta, prev_delta_));
    if (zz == 0) {
      bits_.write_bit(false);
    } else {
      for (const auto& c : dod_classes) {
        if (c.payload == 64 || zz < (std::uint64_t{1} << c.payload)) {
          bits_.write(c.prefix, c.prefix_len);
          bits_.write(zz, c.payload);
          break;
        }
      }
    }
    prev_delta_ = delta;
    if (t < min_time_)
      min_time_ = t;
    if (t > max_time_)
      max_time_ = t;
  }
  prev_time_ = t;
}

void chunk_encoder::append(std::int64_t t, double value) noexcept {
  append_time(t);
  const auto bits = std::bit_cast<std::uint64_t>(value);
  if (count_ == 0) {
    bits_.write(bits, 64);
  } else {
    const auto x = bits ^ prev_bits_;
    if (x == 0) {
      bits_.write_bit(false);
    } else {
      bits_.write_bit(true);
      unsigned lead = static_cast<unsigned>(std::countl_zero(x));
      const unsigned trail = static_cast<unsigned>(std::countr_zero(x));
      if (lead > 31)
        lead = 31; // 5 bits
      if (window_ && lead >= prev_lead_ && trail >= prev_trail_) {
        bits_.write_bit(false);
        bits_.write(x >> prev_trail_, 64 - prev_lead_ - prev_trail_);
      } else {
        const unsigned sig = 64 - lead - trail; // 1..64
        bits_.write_bit(true);
        bits_.write(lead, 5);
        bits_.write(sig - 1, 6);
        bits_.write(x >> trail, sig);
        prev_lead_ = lead;
        prev_trail_ = trail;
        window_ = true;
      }
    }
  }
  prev_bits_ = bits;
  ++count_;
}

void chunk_encoder::append(std::int64_t t, std::string_view value) noexcept {
  append_time(t);
  bits_.write(value.size(), 32);
  for (char c : value)
    bits_.write(static_cast<unsigned char>(c), 8);
  ++count_;
}

void chunk_encoder::serialize(std::string& out) const {
  out.push_back(static_cast<char>(kind_));
  put_le(out, count_, 4);
  put_le(out, static_cast<std::uint64_t>(min_time_), 8);
  put_le(out, static_cast<std::uint64_t>(max_time_), 8);
  bits_.append_to(out);
}

// -- decoder ------------------------------------------------------------------

bool read_header(std::string_view chunk, chunk_header& h) noexcept {
  if (chunk.size() < chunk_header_size)
    return false;
  const auto kind = static_cast<std::uint8_t>(chunk[0]);
  if (kind != 1 && kind != 2)
    return false;
  h.kind = static_cast<chunk_kind>(kind);
  h.count = static_cast<std::uint32_t>(get_le(chunk.data() + 1, 4));
  h.min_time = static_cast<std::int64_t>(get_le(chunk.data() + 5, 8));
  h.max_time = static_cast<std::int64_t>(get_le(chunk.data() + 13, 8));
  return true;
}

bool decode(std::string_view chunk,
            const std::function<void(std::int64_t, double)>& on_number,
            const std::function<void(std::int64_t, std::string_view)>& on_string) {
  chunk_header h;
  if (!read_header(chunk, h))
    return false;
  bit_reader in{chunk.data() + chunk_header_size, chunk.size() - chunk_header_size};
  std::int64_t t = 0, delta = 0;
  std::uint64_t bits = 0;
  unsigned lead = 0, trail = 0;
  std::string text;
  for (std::uint32_t i = 0; i < h.count; ++i) {
    if (i == 0) {
      t = static_cast<std::int64_t>(in.read(64));
    } else {
      std::uint64_t zz = 0;
      if (in.read_bit()) {
        unsigned ones = 1;
        while (ones < 5 && in.read_bit())
          ++ones;
        // ones = number of leading 1 bits of the prefix (its 0 consumed)
        zz = in.read(dod_classes[ones - 1].payload);
      }
      delta = wrap_add(delta, unzigzag(zz));
      t = wrap_add(t, delta);
    }
    if (h.kind == chunk_kind::numeric) {
      if (i == 0) {
        bits = in.read(64);
      } else if (in.read_bit()) {
        if (in.read_bit()) {
          lead = static_cast<unsigned>(in.read(5));
          const auto sig = static_cast<unsigned>(in.read(6)) + 1;
          if (lead + sig > 64)
            return false;
          trail = 64 - lead - sig;
        }
        const unsigned sig = 64 - lead - trail;
        bits ^= in.read(sig) << trail;
      }
      if (in.failed())
        return false;
      if (on_number)
        on_number(t, std::bit_cast<double>(bits));
    } else {
      const auto len = in.read(32);
      if (in.failed() || len > chunk.size())
        return false;
      text.resize(len);
      for (std::size_t k = 0; k < len; ++k)
        text[k] = static_cast<char>(in.read(8));
      if (in.failed())
        return false;
      if (on_string)
        on_string(t, text);
    }
  }
  return true;
}

} // namespace twin::persistence::gorilla
