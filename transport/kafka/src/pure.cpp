// The parts of twin_kafka that need no librdkafka: murmur2 partitioning and
// the offset tracker.
#include <twin/kafka/kafka.hpp>

namespace twin::kafka {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), which
// librdkafka's murmur2 partitioners reproduce: MurmurHash2 with seed
// 0x9747b28c, 4-byte little-endian blocks, the tail bytes XORed in from the
// highest, then the usual 13/15 finalization. All arithmetic mod 2^32.
std::uint32_t murmur2(std::string_view key) noexcept {
  constexpr std::uint32_t seed = 0x9747b28cu;
  constexpr std::uint32_t m = 0x5bd1e995u;
  constexpr int r = 24;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  const std::size_t length = key.size();
  std::uint32_t h = seed ^ static_cast<std::uint32_t>(length);
  const std::size_t blocks = length / 4;
  for (std::size_t i = 0; i < blocks; ++i) {
    const unsigned char* p = data + 4 * i;
    std::uint32_t k = static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
                      (static_cast<std::uint32_t>(p[2]) << 16) |
                      (static_cast<std::uint32_t>(p[3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const unsigned char* tail = data + 4 * blocks;
  switch (length & 3) {
  case 3:
    h ^= static_cast<std::uint32_t>(tail[2]) << 16;
    [[fallthrough]];
  case 2:
    h ^= static_cast<std::uint32_t>(tail[1]) << 8;
    [[fallthrough]];
  case 1:
    h ^= static_cast<std::uint32_t>(tail[0]);
    h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

std::int32_t partition_for(std::string_view key, std::int32_t partitions) noexcept {
  if (partitions <= 0)
    return 0;
  return static_cast<std::int32_t>((murmur2(key) & 0x7fffffffu) %
                                   static_cast<std::uint32_t>(partitions));
}

void offset_tracker::started(std::int64_t offset) {
  if (offset <= last_started_)
    return;
  last_started_ = offset;
  pending_.insert(offset);
}

void offset_tracker::done(std::int64_t offset) { pending_.erase(offset); }

std::int64_t offset_tracker::committable() const {
  if (last_started_ < 0)
    return -1;
  return pending_.empty() ? last_started_ + 1 : *pending_.begin();
}

std::size_t offset_tracker::in_flight() const { return pending_.size(); }

} // namespace twin::kafka
