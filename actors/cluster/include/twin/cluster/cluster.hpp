#pragma once
// Cluster mode: twins sharded over nodes on Kafka (ADR 0011).
//
// A cluster_node is the fabric port of one node in a cluster. It wraps the
// local node (actors::node, which holds every shard's region but serves
// only the shards this node owns) and:
//
//  - joins one Kafka consumer group on the telemetry topic: the partitions
//    assigned to it are the shards it owns (shard = partition);
//  - restores a gained shard's twins from the changelog before serving it,
//    and drops a revoked shard's twins after flushing;
//  - produces device data from any ingest path to the telemetry topic keyed
//    by twin id and applies what it consumes, committing offsets only when
//    the update is durable (locally and in the changelog); redeliveries are
//    skipped by the twin's last applied offset (core::twin_state);
//  - replicates every committed twin write to the changelog (the node's
//    replicate hook, see `replicator`) before it is answered;
//  - announces itself (signed) on the cluster topic and routes commands for
//    twins it does not own to their owner over CAF remote actors on mutual
//    TLS, checking the peer's certificate identity against the announced id.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "twin/actors/fabric.hpp"
#include "twin/actors/node.hpp"
#include "twin/error.hpp"
#include "twin/persistence/store.hpp"
#include "twin/security/node_identity.hpp"

namespace twin::cluster {

struct cluster_options {
  /// This node's id; must equal its certificate's CN.
  std::string node_id;
  /// Kafka bootstrap servers.
  std::string bootstrap;
  /// Passed through to librdkafka after our defaults (SASL_SSL, ...).
  std::vector<std::pair<std::string, std::string>> kafka_settings;
  /// Topic names: PREFIX + telemetry | changelog | events | cluster.
  std::string topic_prefix = "twin.";
  /// Consumer group of the nodes.
  std::string group = "twin-fabric";
  /// The mTLS listener for node-to-node requests (port 0: any free port).
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 0;
  /// host:port peers connect to; empty: listen_host:actual port.
  std::string advertise;
  /// This node's REST base URL (shown in cluster status).
  std::string http_url;
  /// Fabric CA, node certificate and key (checked at start).
  security::tls_files tls;
  std::chrono::milliseconds announce_interval{1000};
  /// A node not heard from for this long is taken as gone.
  std::chrono::milliseconds node_timeout{4000};
  /// How long a request for a shard that is moving waits for an owner
  /// before it gets a retryable 503.
  std::chrono::milliseconds move_wait{15000};
  /// Per forwarded request.
  std::chrono::milliseconds forward_timeout{3000};
  /// Consumer group session timeout (failover detection) and heartbeat.
  int session_timeout_ms = 3000;
  int heartbeat_interval_ms = 500;
  /// Telemetry records handed to the node and not yet durable, at most.
  std::size_t max_in_flight = 20000;
  /// Where progress and errors are logged.
  std::ostream* log = nullptr;
};

/// The changelog producer behind node_options::replicate. Created before
/// the node (the hook must exist when the node starts); the cluster_node
/// takes it over.
class replicator {
public:
  virtual ~replicator() = default;
  /// Produces each write to the changelog partition of its twin; `done`
  /// once all are acknowledged (or one definitively failed).
  virtual void replicate(std::vector<persistence::twin_write> writes,
                         std::function<void(status)> done) = 0;
  /// Starts the producer; replicate() before this fails.
  static expected<std::shared_ptr<replicator>> create(const cluster_options& o,
                                                      std::size_t shards);
};

class cluster_node final : public actors::fabric {
public:
  /// Checks the TLS files, reads the cluster topic (models, announcements),
  /// refuses to join a cluster whose nodes present certificates of another
  /// CA, starts the mTLS listener and joins the consumer group.
  static expected<std::unique_ptr<cluster_node>>
  start(actors::node& local, std::shared_ptr<replicator> repl, cluster_options o);

  /// Leaves the group (flushing and checkpointing owned shards), announces
  /// the departure and stops the listener. Idempotent. Call before the
  /// node's stop().
  void stop();
  ~cluster_node() override;
  /// After stop(): false if a part (the Kafka consumer, the peer link) had
  /// to be left running because Kafka or a peer did not answer; the process
  /// should then end with _Exit once the node's store is closed.
  bool stopped_cleanly() const;

  /// The cluster listener's host:port as announced.
  std::string endpoint() const;
  /// This node's REST base URL, once the gateway is listening (announced
  /// from the next announcement on).
  void set_http_url(std::string url);

  std::shared_ptr<const actors::twin_body>
  cached_twin(const actors::request_context& ctx, const std::string& id) override;
  void create_twin(const actors::request_context& ctx, const std::string& id,
                   actors::json body, actors::reply_fn reply) override;
  void get_twin(const actors::request_context& ctx, const std::string& id,
                actors::reply_fn reply) override;
  void patch_twin(const actors::request_context& ctx, const std::string& id,
                  actors::json merge_patch, std::optional<std::uint64_t> if_match,
                  actors::reply_fn reply) override;
  void ingest(const actors::request_context& ctx, const std::string& id,
              actors::json body, actors::reply_fn reply) override;
  void ingest_data(const actors::request_context& ctx, const std::string& id,
                   actors::device_data data, actors::reply_fn reply) override;
  void set_connectivity(const actors::request_context& ctx, const std::string& id,
                        actors::connectivity_update u, actors::reply_fn reply) override;
  void history(const actors::request_context& ctx, const std::string& id,
               actors::history_request q, actors::reply_fn reply) override;
  void attach_behaviour(const actors::request_context& ctx, const std::string& id,
                        const std::string& name, actors::json spec,
                        actors::reply_fn reply) override;
  void detach_behaviour(const actors::request_context& ctx, const std::string& id,
                        const std::string& name, actors::reply_fn reply) override;
  void raise_alert(const actors::request_context& ctx, actors::json alert,
                   actors::reply_fn reply) override;
  void transition(const actors::request_context& ctx, const std::string& id,
                  actors::json body, actors::reply_fn reply) override;
  void lineage(const actors::request_context& ctx, const std::string& id,
               const std::string& property, const std::optional<std::string>& at,
               actors::reply_fn reply) override;
  void list_twins(const actors::request_context& ctx, actors::list_query q,
                  actors::reply_fn reply) override;
  void add_models(const actors::request_context& ctx, actors::json body,
                  actors::reply_fn reply) override;
  void list_models(const actors::request_context& ctx, actors::reply_fn reply) override;
  void get_model(const actors::request_context& ctx, const std::string& dtmi,
                 actors::reply_fn reply) override;
  void delete_model(const actors::request_context& ctx, const std::string& dtmi,
                    actors::reply_fn reply) override;
  void list_audit(const actors::request_context& ctx, std::uint64_t from,
                  std::size_t limit, actors::reply_fn reply) override;
  void verify_audit(const actors::request_context& ctx, actors::reply_fn reply) override;
  void list_alerts(const actors::request_context& ctx, std::uint64_t from,
                   std::size_t limit, actors::reply_fn reply) override;
  expected<std::unique_ptr<actors::subscription>>
  subscribe(const actors::request_context& ctx,
            std::function<void(const actors::json&)> on_event) override;
  void cluster_status(const actors::request_context& ctx, actors::reply_fn reply) override;
  actors::json health() override;
  prometheus::Registry& metrics() override;

  struct impl;

private:
  explicit cluster_node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace twin::cluster
