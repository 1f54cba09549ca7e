#pragma once
// Stable placement of twins into shards. The hash is Kafka's murmur2 (as in
// the Java client's default partitioner: toPositive(murmur2(key)) % S), so
// that in a cluster the shard of a twin equals the telemetry-topic partition
// a Java or librdkafka (murmur2_random) producer picks for key = twin id.

#include <cstdint>
#include <string_view>

#include "twin/hash.hpp"

namespace twin::actors {

/// Kafka's murmur2 of `key` (seed 0x9747b28c): twin/hash.hpp.
using twin::kafka_murmur2;

/// The shard (0..shards-1) of a twin. Precondition: shards > 0.
std::uint32_t shard_of(std::string_view twin_id, std::uint32_t shards) noexcept;

} // namespace twin::actors
