#pragma once
// Private to twin_actors: the context shared by the node's actors and the
// messages they exchange. All messages are local (never serialized), hence
// whitelisted as unsafe message types; cluster messages get inspect().

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <caf/all.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "read_cache.hpp"
#include "twin/actors/core.hpp"
#include "twin/actors/fabric.hpp"
#include "twin/actors/node.hpp"
#include "twin/model/registry.hpp"
#include "twin/persistence/store.hpp"
#include "twin/transport/change_bus.hpp"

namespace twin::actors::detail {

/// Calls its function exactly once: explicitly, or with `unavailable` when
/// the last copy is destroyed unanswered (e.g. the message died in the
/// mailbox of a crashed twin), so an HTTP client never hangs.
class reply_once {
public:
  explicit reply_once(reply_fn f) : fn_(std::move(f)) {}
  ~reply_once() {
    if (fn_)
      fn_(make_error(errc::unavailable,
                     "the twin stopped before answering; retry"));
  }
  reply_once(const reply_once&) = delete;
  reply_once& operator=(const reply_once&) = delete;
  void operator()(expected<json> r) {
    if (auto f = std::exchange(fn_, nullptr))
      f(std::move(r));
  }

private:
  reply_fn fn_;
};
using reply_ptr = std::shared_ptr<reply_once>;

/// Metrics of the actor layer (prometheus-cpp objects are thread-safe).
struct node_metrics {
  explicit node_metrics(prometheus::Registry& r);
  prometheus::Gauge& active_twins;
  prometheus::Family<prometheus::Counter>& commands;
  /// commands{command, outcome} resolved once: [kind][rejected?]. Family::Add
  /// takes a lock and hashes labels, too slow for every command.
  prometheus::Counter* command_counters[7][2] = {};
  prometheus::Counter& command_counter(std::size_t kind, bool rejected) {
    return *command_counters[kind][rejected ? 1 : 0];
  }
  prometheus::Counter& rejected_device_data;
  prometheus::Counter& alerts;
  prometheus::Counter& passivations;
  prometheus::Counter& restarts;
  prometheus::Counter& rehydrations;
  prometheus::Gauge& store_commits;
  prometheus::Gauge& store_requests;
  prometheus::Gauge& store_failures;
  prometheus::Gauge& store_bytes;
  prometheus::Gauge& store_memtables;
};

/// Everything the actors share; owned by the node, outlives the actors.
struct node_context {
  node_options options;
  persistence::store* store = nullptr;
  model::registry* models = nullptr;
  transport::change_bus* bus = nullptr;
  node_metrics* metrics = nullptr;
  read_cache* reads = nullptr;
  std::atomic<std::size_t> active{0};
  std::atomic<std::uint64_t> event_seq{0};
  std::string source_prefix = "/twins/";
  /// All regions, set once after spawning (read-only afterwards).
  std::vector<caf::actor> regions;
};

/// A command for a twin, routed by shard.
struct twin_command {
  std::string twin;
  core::command cmd;
  reply_ptr reply;
};

/// A read of a twin's durable state.
struct twin_read {
  std::string twin;
  reply_ptr reply;
};

/// The store's verdict on a twin's in-flight write.
struct write_done {
  status result = ok();
};

/// Region -> twin: go away when idle.
struct passivate_now {};

/// Twin -> region: this actor (`actor`, its CAF id) of twin `twin` has
/// terminated, for `reason` (none or normal: passivated). Sent from the
/// twin's on_exit on every termination; takes the place of a monitor.
struct twin_exited {
  caf::actor_id actor = 0;
  std::string twin;
  caf::error reason;
};

/// Twin -> region: I hold nothing worth keeping (e.g. the twin does not
/// exist); passivate me through the normal handshake.
struct passivate_me {
  std::string twin;
};

/// Node -> region: passivate every twin, then stop.
struct shutdown_region {};

/// Region -> region: the node is over its cap and the sender had no twin
/// to passivate; passivate one of yours or pass it on (at most `hops` more).
struct shed_load {
  std::size_t hops = 0;
};

/// Region timer.
struct region_tick {};

/// Calls a function exactly once: explicitly, or when the last copy is
/// destroyed uncalled (the message carrying it died with a stopped actor),
/// so whoever waits on it is never left hanging.
class call_once_guard {
public:
  explicit call_once_guard(std::function<void()> f) : fn_(std::move(f)) {}
  ~call_once_guard() { (*this)(); }
  call_once_guard(const call_once_guard&) = delete;
  call_once_guard& operator=(const call_once_guard&) = delete;
  void operator()() {
    if (auto f = std::exchange(fn_, nullptr))
      f();
  }

private:
  std::function<void()> fn_;
};

/// Node -> region: passivate every twin in memory now and call `done` once
/// all of them have stopped (after the shard's read-cache entries are
/// dropped). node::release_shard.
struct release_twins {
  std::shared_ptr<call_once_guard> done;
};

/// Region: restart a crashed twin after its backoff.
struct respawn_twin {
  std::string twin;
};

/// Spawns the region actor of `shard`.
caf::actor spawn_region(caf::actor_system& sys, node_context* ctx,
                        std::size_t shard);

/// Spawns the actor of twin `id` for region `parent`; it rehydrates from
/// snapshot + journal tail before handling its first message, and tells
/// the region twin_exited when it terminates.
caf::actor spawn_twin(caf::event_based_actor* parent, node_context* ctx,
                      std::string id);

/// Publishes an alert (already durable) to the bus and counts it.
void publish_alert(node_context& ctx, const json& stored_alert);

} // namespace twin::actors::detail

CAF_BEGIN_TYPE_ID_BLOCK(twin_fabric, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::twin_command))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::twin_read))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::write_done))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::passivate_now))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::region_tick))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::shed_load))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::shutdown_region))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::passivate_me))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::respawn_twin))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::release_twins))
  CAF_ADD_TYPE_ID(twin_fabric, (twin::actors::detail::twin_exited))
CAF_END_TYPE_ID_BLOCK(twin_fabric)

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::twin_command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::twin_read)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::write_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::passivate_now)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::region_tick)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::shed_load)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::shutdown_region)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::passivate_me)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::respawn_twin)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::release_twins)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(twin::actors::detail::twin_exited)
