// A shard region: routes messages to the twins of one shard, spawning them
// on demand, passivating idle ones (idle timeout, node-wide cap) and
// restarting crashed ones with backoff (the shard's supervisor).
//
// Passivation handshake: the region marks the entry `stopping` and sends
// passivate_now; messages for that twin are buffered in the region until
// the old actor's exit notice (twin_exited) arrives, then handed to a
// fresh actor that rehydrates from the store. So no message is lost and no two actors of one
// twin ever run at once.

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "runtime.hpp"
#include "twin/actors/sharding.hpp"

namespace twin::actors::detail {

namespace {

using clock = std::chrono::steady_clock;

/// One per twin in memory (or on its way in or out): 32 bytes, it is part
/// of the memory per hot twin.
struct entry {
  caf::actor handle;
  clock::time_point last_used;
  /// Messages held while the twin's previous actor stops; null when none.
  std::unique_ptr<std::vector<caf::message>> buffered;
  unsigned restarts = 0;
  bool stopping = false;

  bool has_buffered() const noexcept { return buffered && !buffered->empty(); }
  void buffer(caf::message msg) {
    if (!buffered)
      buffered = std::make_unique<std::vector<caf::message>>();
    buffered->push_back(std::move(msg));
  }
  /// Sends what was buffered to the (new) actor.
  void replay(caf::event_based_actor* self) {
    if (!buffered)
      return;
    for (auto& m : *buffered)
      self->send(handle, std::move(m));
    buffered.reset();
  }
};

/// A release_shard in progress: the twin actors it still waits for.
struct release_waiter {
  std::unordered_set<caf::actor_id> pending;
  std::shared_ptr<call_once_guard> done;
};

struct region_state {
  node_context* ctx = nullptr;
  std::size_t shard = 0;
  std::unordered_map<std::string, entry> twins;
  std::vector<release_waiter> releases;
  bool shutting_down = false;
  static inline const char* name = "shard-region";
};

using region_ptr = caf::stateful_actor<region_state>*;

void start_twin(region_ptr self, const std::string& id, entry& e) {
  auto& s = self->state;
  e.handle = spawn_twin(self, s.ctx, id);
  e.stopping = false;
  auto n = ++s.ctx->active;
  s.ctx->metrics->active_twins.Set(static_cast<double>(n));
}

void begin_passivation(region_ptr self, entry& e) {
  if (e.stopping || !e.handle)
    return;
  auto& s = self->state;
  e.stopping = true;
  auto n = --s.ctx->active;
  s.ctx->metrics->active_twins.Set(static_cast<double>(n));
  self->send(e.handle, passivate_now{});
  s.ctx->metrics->passivations.Increment();
}

/// Keeps the node under its cap by passivating this region's least
/// recently used twins. `active` counts the twins of all regions that are
/// in memory and not being passivated. A region with nothing to give asks
/// the next region (the cap is node-wide), so the cap holds up to the
/// twins still on their way out.
void enforce_cap(region_ptr self, const std::string& keep,
                 std::size_t hops_left) {
  auto& s = self->state;
  auto cap = s.ctx->options.max_active_twins;
  while (s.ctx->active.load() > cap) {
    entry* oldest = nullptr;
    for (auto& [id, e] : s.twins)
      if (!e.stopping && e.handle && id != keep
          && (oldest == nullptr || e.last_used < oldest->last_used))
        oldest = &e;
    if (oldest == nullptr) {
      if (hops_left > 0 && s.ctx->regions.size() > 1) {
        auto next = (s.shard + 1) % s.ctx->regions.size();
        self->send(s.ctx->regions[next], shed_load{hops_left - 1});
      }
      return;
    }
    begin_passivation(self, *oldest);
  }
}

/// The twins a release waited for are gone: forget the shard's cached
/// documents (no actor of theirs can fill the cache any more), then tell.
void finish_release(region_ptr self, release_waiter& w) {
  auto& s = self->state;
  auto shards = static_cast<std::uint32_t>(s.ctx->options.shards);
  auto shard = s.shard;
  s.ctx->reads->invalidate_if([shards, shard](const std::string& id) {
    return shard_of(id, shards) == shard;
  });
  (*w.done)();
}

void route(region_ptr self, const std::string& id, caf::message msg) {
  auto& s = self->state;
  if (s.shutting_down)
    return; // dropping `msg` answers its client with a retryable 503
  auto [it, inserted] = s.twins.try_emplace(id);
  auto& e = it->second;
  e.last_used = clock::now();
  if (e.stopping) {
    e.buffer(std::move(msg));
    return;
  }
  if (!e.handle) {
    start_twin(self, id, e);
    enforce_cap(self, id, s.ctx->regions.size());
  }
  self->send(e.handle, std::move(msg));
}

} // namespace

caf::actor spawn_region(caf::actor_system& sys, node_context* ctx,
                        std::size_t shard) {
  // Arguments go through spawn, not a capture: CAF 0.17 dereferences a null
  // tuple pointer for argument-less function actors (UBSan reports it).
  auto fn = [](region_ptr self, node_context* ctx,
               std::size_t shard) -> caf::behavior {
    self->state.ctx = ctx;
    self->state.shard = shard;
    auto on_exited = [self](twin_exited& dm) {
      auto& s = self->state;
      for (auto r = s.releases.begin(); r != s.releases.end();) {
        r->pending.erase(dm.actor);
        if (r->pending.empty()) {
          finish_release(self, *r);
          r = s.releases.erase(r);
        } else {
          ++r;
        }
      }
      auto it = s.twins.find(dm.twin);
      // Only the entry's current actor counts (an older one's late news
      // is not about the actor now serving the twin).
      if (it == s.twins.end() || !it->second.handle
          || it->second.handle.id() != dm.actor)
        return;
      auto& id = it->first;
      auto& e = it->second;
      if (!e.stopping) {
        // It stopped by itself (a failed write or rehydration).
        auto n = --s.ctx->active;
        s.ctx->metrics->active_twins.Set(static_cast<double>(n));
      }
      e.handle = nullptr;
      bool crashed = dm.reason && dm.reason != caf::exit_reason::normal;
      if (crashed) {
        s.ctx->metrics->restarts.Increment();
        ++e.restarts;
      } else {
        e.restarts = 0;
      }
      if (!e.has_buffered() || s.shutting_down) {
        s.twins.erase(it);
        if (s.shutting_down && s.twins.empty())
          self->quit();
        return;
      }
      if (crashed) {
        // Back off before rehydrating a twin that keeps failing.
        auto delay = std::chrono::milliseconds{
          std::min<long>(5000, 25L << std::min(e.restarts, 8u))};
        e.stopping = true;
        self->delayed_send(self, delay, respawn_twin{id});
        return;
      }
      e.stopping = false;
      start_twin(self, id, e);
      e.replay(self);
    };
    auto tick = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds{100}, ctx->options.idle_timeout / 4);
    self->delayed_send(self, tick, region_tick{});
    return {
      on_exited,
      [self](twin_command& msg) {
        auto id = msg.twin;
        route(self, id, caf::make_message(std::move(msg)));
      },
      [self](twin_read& msg) {
        auto id = msg.twin;
        route(self, id, caf::make_message(std::move(msg)));
      },
      [self](shutdown_region) {
        auto& s = self->state;
        s.shutting_down = true;
        for (auto it = s.twins.begin(); it != s.twins.end();) {
          if (!it->second.handle) {
            it = s.twins.erase(it); // waiting for a respawn: nothing to stop
          } else {
            begin_passivation(self, it->second);
            ++it;
          }
        }
        if (s.twins.empty())
          self->quit();
      },
      [self](release_twins& msg) {
        auto& s = self->state;
        release_waiter w;
        w.done = std::move(msg.done);
        for (auto& [id, e] : s.twins) {
          if (!e.handle)
            continue; // waiting for a crash respawn: not in memory
          w.pending.insert(e.handle.id());
          begin_passivation(self, e); // no-op if already stopping
        }
        if (w.pending.empty())
          finish_release(self, w);
        else
          s.releases.push_back(std::move(w));
      },
      [self](shed_load& msg) {
        enforce_cap(self, std::string{}, msg.hops);
      },
      [self](passivate_me& msg) {
        auto& s = self->state;
        auto it = s.twins.find(msg.twin);
        if (it != s.twins.end())
          begin_passivation(self, it->second);
      },
      [self](respawn_twin& msg) {
        auto& s = self->state;
        auto it = s.twins.find(msg.twin);
        if (it == s.twins.end() || it->second.handle)
          return;
        auto& e = it->second;
        start_twin(self, msg.twin, e);
        e.replay(self);
      },
      [self, tick](region_tick) {
        auto& s = self->state;
        if (s.shutting_down)
          return;
        auto idle = s.ctx->options.idle_timeout;
        auto now = clock::now();
        for (auto& [id, e] : s.twins)
          if (e.handle && !e.stopping && now - e.last_used >= idle)
            begin_passivation(self, e);
        self->delayed_send(self, tick, region_tick{});
      },
    };
  };
  return sys.spawn(fn, ctx, shard);
}

} // namespace twin::actors::detail
