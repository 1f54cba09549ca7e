#pragma once
// Big-endian 64-bit integers for RocksDB keys (byte order = numeric order).
// Private to twin_persistence.

#include <cstdint>

namespace twin::persistence::detail {

inline void put_be64(char* out, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

inline std::uint64_t get_be64(const char* in) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

} // namespace twin::persistence::detail
