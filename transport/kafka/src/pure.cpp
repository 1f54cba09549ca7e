// The parts of twin_kafka that need no librdkafka: murmur2 partitioning and
// the offset tracker.
#include <twin/kafka/kafka.hpp>

#include "twin/hash.hpp"

namespace twin::kafka {

std::uint32_t murmur2(std::string_view key) noexcept {
  return kafka_murmur2(key); // twin/hash.hpp: one implementation for shards and partitions
}

std::int32_t partition_for(std::string_view key, std::int32_t partitions) noexcept {
  if (partitions <= 0)
    return 0;
  return static_cast<std::int32_t>(
    murmur2_partition(key, static_cast<std::uint32_t>(partitions)));
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
