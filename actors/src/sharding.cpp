#include "twin/actors/sharding.hpp"

namespace twin::actors {

std::uint32_t shard_of(std::string_view twin_id, std::uint32_t shards) noexcept {
  return murmur2_partition(twin_id, shards);
}

} // namespace twin::actors
