#pragma once
// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): the hash
// behind the fabric's shard placement (actors::shard_of, ADR 0005) and the
// Kafka partitioner (kafka::partition_for), kept in one place so that the
// two can never disagree.

#include <cstdint>
#include <string_view>

namespace twin {

/// MurmurHash2 with seed 0x9747b28c, 4-byte little-endian blocks, tail bytes
/// XORed in from the highest, 13/15 finalization; all mod 2^32.
std::uint32_t kafka_murmur2(std::string_view key) noexcept;

/// (murmur2(key) & 0x7fffffff) % n: what Java clients and librdkafka's
/// murmur2 partitioners pick for a non-empty key.
inline std::uint32_t murmur2_partition(std::string_view key, std::uint32_t n) noexcept {
  return (kafka_murmur2(key) & 0x7fffffffu) % n;
}

} // namespace twin
