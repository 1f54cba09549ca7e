#pragma once
// A bounded cache of the latest *durable* document of recently read twins,
// so a GET is answered on the caller's thread without three thread hops
// through the region and the twin actor (the hops, not the work, dominated
// the REST read path on a 2-core machine: see docs/adr/0007).
//
// Consistency: only a twin's own actor writes its entry. It invalidates the
// entry when a write becomes durable (before releasing the replies of that
// write) and fills it with the document it answers a read with, at the
// moment that reply is released (i.e. when everything before it is
// durable). Per twin these happen in order on the actor, so the cache never
// holds a state that is older than an acknowledged write, nor one that is
// not yet durable. Entries carry the revision; a fill never replaces a newer
// revision.
//
// Threads: any. 64 mutex-sharded maps; each shard holds at most
// capacity/64 entries and evicts an arbitrary one beyond that.

#include <array>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "twin/actors/fabric.hpp"

namespace twin::actors::detail {

class read_cache {
public:
  explicit read_cache(std::size_t capacity)
    : per_shard_(capacity / shards == 0 ? 1 : capacity / shards),
      enabled_(capacity > 0) {
  }

  /// The cached document (serialized once, when it was filled).
  std::shared_ptr<const twin_body> find(const std::string& id) {
    if (!enabled_)
      return nullptr;
    auto& s = shard(id);
    std::lock_guard g{s.mtx};
    auto it = s.map.find(id);
    return it == s.map.end() ? nullptr : it->second;
  }

  void fill(const std::string& id, std::uint64_t revision,
            const nlohmann::json& doc) {
    if (!enabled_)
      return;
    auto body = std::make_shared<const twin_body>(twin_body{doc.dump(), revision});
    auto& s = shard(id);
    std::lock_guard g{s.mtx};
    auto it = s.map.find(id);
    if (it != s.map.end()) {
      if (it->second->revision <= revision)
        it->second = std::move(body);
      return;
    }
    if (s.map.size() >= per_shard_)
      s.map.erase(s.map.begin());
    s.map.emplace(id, std::move(body));
  }

  void invalidate(const std::string& id) {
    if (!enabled_)
      return;
    auto& s = shard(id);
    std::lock_guard g{s.mtx};
    s.map.erase(id);
  }

  /// Drops every entry whose id `pred` selects (node::release_shard: the
  /// twins of one fabric shard, spread over all of the cache's maps).
  template <class Pred>
  void invalidate_if(Pred&& pred) {
    if (!enabled_)
      return;
    for (auto& s : shards_) {
      std::lock_guard g{s.mtx};
      for (auto it = s.map.begin(); it != s.map.end();)
        it = pred(it->first) ? s.map.erase(it) : std::next(it);
    }
  }

private:
  static constexpr std::size_t shards = 64;
  struct shard_t {
    std::mutex mtx;
    std::unordered_map<std::string, std::shared_ptr<const twin_body>> map;
  };
  shard_t& shard(const std::string& id) {
    return shards_[std::hash<std::string>{}(id) % shards];
  }
  std::array<shard_t, shards> shards_;
  std::size_t per_shard_;
  bool enabled_;
};

} // namespace twin::actors::detail
