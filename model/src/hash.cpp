#include "twin/hash.hpp"

namespace twin {

std::uint32_t kafka_murmur2(std::string_view key) noexcept {
  const std::uint32_t seed = 0x9747b28cu;
  const std::uint32_t m = 0x5bd1e995u;
  const int r = 24;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  auto length = static_cast<std::uint32_t>(key.size());
  std::uint32_t h = seed ^ length;
  std::uint32_t length4 = length / 4;
  for (std::uint32_t i = 0; i < length4; ++i) {
    std::uint32_t i4 = i * 4;
    std::uint32_t k = static_cast<std::uint32_t>(data[i4])
                      | (static_cast<std::uint32_t>(data[i4 + 1]) << 8)
                      | (static_cast<std::uint32_t>(data[i4 + 2]) << 16)
                      | (static_cast<std::uint32_t>(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length % 4) {
    case 3: h ^= static_cast<std::uint32_t>(data[(length & ~3u) + 2]) << 16;
      [[fallthrough]];
    case 2: h ^= static_cast<std::uint32_t>(data[(length & ~3u) + 1]) << 8;
      [[fallthrough]];
    case 1: h ^= static_cast<std::uint32_t>(data[length & ~3u]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

} // namespace twin
