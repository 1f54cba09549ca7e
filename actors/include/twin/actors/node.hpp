#pragma once
// A fabric node on the embedded default: one process owning every shard,
// RocksDB as its store. Implements the `fabric` port on top of an actor
// system with one shard-region actor per shard and one actor per hot twin.
//
// Ownership: the node owns the actor system, the store, the model registry,
// the change bus and the metrics registry. The fabric methods may be called
// from any thread; replies come back on CAF worker threads or the store's
// writer thread.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "twin/actors/fabric.hpp"
#include "twin/persistence/store.hpp"

namespace twin::actors {

struct node_options {
  /// Directory for all durable state (RocksDB lives in DIR/db). Required.
  std::string data_dir;
  /// Number of shards S (fixed for the life of a data dir). Default 64.
  std::size_t shards = 64;
  /// Cap on twin actors in memory; the least recently used idle twins are
  /// passivated beyond it. Default 100,000.
  std::size_t max_active_twins = 100000;
  /// A twin idle this long is passivated. Default 5 minutes.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{5}};
  /// A snapshot is written every N events of a twin. Default 50.
  std::size_t snapshot_every = 50;
  /// CAF scheduler threads. Default 0: the number of cores less one (at
  /// least one), leaving a core to the store writer and the MQTT client.
  std::size_t threads = 0;
  /// Twin documents of recently read twins kept for reads without actor
  /// hops (only durable states; 0 disables). Default 10,000.
  std::size_t read_cache_entries = 10000;
  /// CAF scheduler policy: "sharing" (default; one queue, workers woken by
  /// a condition variable) or "stealing" (work stealing with polling).
  std::string scheduler_policy = "sharing";
  /// fsync every group commit. Default true.
  bool sync = true;
  /// Checks a behaviour spec before it is attached (twin-node plugs in the
  /// behaviour runtime's parser, so REST clients get field-level 400s);
  /// empty: only the core's checks (kind, model DTMI).
  std::function<status(const std::string& name, const json& spec)> behaviour_validator;
  /// Test hook passed to the store: fails group commits on demand.
  std::function<status()> fault_injector;
  /// History retention per tier (defaults: raw 30 d, 1 min 1 y, 1 h 7 y).
  persistence::retention_policy history_retention;
  /// History checkpoint period (see persistence::store_options); 0: only by
  /// sample count and at close.
  std::chrono::milliseconds history_checkpoint_interval{5000};
  /// Now in ms since the epoch for history retention and queries (tests
  /// inject it); empty: the system clock.
  std::function<std::int64_t()> clock;
  /// Called after a twin write is durable locally and before its commands
  /// are answered (cluster mode: produce to the changelog). Gets a copy of
  /// the committed request's twin writes (one twin, its events with
  /// revisions, snapshot, index entry, samples); must call done exactly
  /// once, from any thread; a non-ok status fails the write as a store
  /// failure would (the twin restarts from durable state, its callers get
  /// the error). Empty: answer at once (single node).
  ///
  /// Runs on the store's writer thread, inside its durable callback: it
  /// must not block (hand the records to the producer and return). A twin
  /// has one write in flight, so its next write reaches the hook only after
  /// `done`: per twin the hook sees revisions in order, without gaps. If
  /// `done` is dropped uncalled the write fails with unavailable. After a
  /// failure the write stays durable locally (it is not rolled back): the
  /// local journal is then ahead of the changelog for that twin.
  std::function<void(std::vector<persistence::twin_write> committed,
                     std::function<void(status)> done)>
    replicate;
};

class node final : public fabric {
public:
  /// Opens the store, loads the models and starts the actors. Errors: the
  /// store's (data dir in use: unavailable; unreadable: storage_failure).
  static expected<std::unique_ptr<node>> start(node_options options);

  /// Stops accepting, drains in-flight writes, stops the actors, closes the
  /// store. Idempotent.
  void stop();
  ~node() override;

  void create_twin(const request_context& ctx, const std::string& id,
                   json body, reply_fn reply) override;
  void get_twin(const request_context& ctx, const std::string& id,
                reply_fn reply) override;
  std::shared_ptr<const twin_body>
  cached_twin(const request_context& ctx, const std::string& id) override;
  void patch_twin(const request_context& ctx, const std::string& id,
                  json merge_patch, std::optional<std::uint64_t> if_match,
                  reply_fn reply) override;
  void ingest(const request_context& ctx, const std::string& id, json body,
              reply_fn reply) override;
  void ingest_data(const request_context& ctx, const std::string& id,
                   device_data data, reply_fn reply) override;
  void set_connectivity(const request_context& ctx, const std::string& id,
                        connectivity_update u, reply_fn reply) override;
  void history(const request_context& ctx, const std::string& id,
               history_request q, reply_fn reply) override;
  void attach_behaviour(const request_context& ctx, const std::string& id,
                        const std::string& name, json spec, reply_fn reply) override;
  void detach_behaviour(const request_context& ctx, const std::string& id,
                        const std::string& name, reply_fn reply) override;
  void raise_alert(const request_context& ctx, json alert, reply_fn reply) override;
  void transition(const request_context& ctx, const std::string& id,
                  json body, reply_fn reply) override;
  void lineage(const request_context& ctx, const std::string& id,
               const std::string& property,
               const std::optional<std::string>& at, reply_fn reply) override;
  void list_twins(const request_context& ctx, list_query q,
                  reply_fn reply) override;
  void add_models(const request_context& ctx, json body,
                  reply_fn reply) override;
  void list_models(const request_context& ctx, reply_fn reply) override;
  void get_model(const request_context& ctx, const std::string& dtmi,
                 reply_fn reply) override;
  void delete_model(const request_context& ctx, const std::string& dtmi,
                    reply_fn reply) override;
  void list_audit(const request_context& ctx, std::uint64_t from,
                  std::size_t limit, reply_fn reply) override;
  void verify_audit(const request_context& ctx, reply_fn reply) override;
  void list_alerts(const request_context& ctx, std::uint64_t from,
                   std::size_t limit, reply_fn reply) override;
  expected<std::unique_ptr<subscription>>
  subscribe(const request_context& ctx,
            std::function<void(const json&)> on_event) override;
  expected<std::unique_ptr<subscription>>
  subscribe_filtered(const request_context& ctx, transport::change_bus::interest interest,
                     std::function<void(const json&)> on_event) override;
  json health() override;
  prometheus::Registry& metrics() override;

  // -- cluster hooks (not part of the fabric port) ------------------------------

  /// Drops every twin of `shard` from memory (passivates them through the
  /// normal handshake after their in-flight writes finish) and forgets
  /// cached documents of that shard; `done` runs once all of them are gone
  /// (any thread). The region stays and rehydrates twins from the store on
  /// their next message. Used when the cluster gives the shard to another
  /// node, and before serving a shard restored from the changelog.
  ///
  /// Waits for the twin actors in memory when the call reaches the region;
  /// a message for the shard arriving meanwhile starts a fresh actor (from
  /// the store) that is not waited for: stop routing to the shard first.
  /// `done` always runs exactly once (also if the node is stopping, then
  /// possibly before the twins are gone). shard >= shard_count(): `done`
  /// runs at once.
  void release_shard(std::size_t shard, std::function<void()> done);
  /// The store (cluster restore writes twin writes and truncations through
  /// it directly; the node must not hold any twin of the shard in memory
  /// meanwhile).
  persistence::store& store();
  /// Idempotent model import (models replicated from another node):
  /// validates the set like add_models, stores the models not yet present,
  /// skips those already present with the same id (no error), audits
  /// "model.replicate" (principal "cluster", only when something was
  /// stored). Synchronous. Takes an array of DTDL interface documents (or
  /// one). Answers like add_models' errors (model_violation, bad_request,
  /// the store's).
  status import_models(const json& documents_array);
  /// S, the number of shards (node_options::shards).
  std::size_t shard_count() const;

  struct impl;

private:
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace twin::actors
