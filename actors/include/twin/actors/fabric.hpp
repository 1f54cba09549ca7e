#pragma once
// The fabric's application port: what the REST gateway (and later the MQTT
// host and the cluster router) call. Implemented by the node (node.hpp) on
// top of the shard regions and twin actors. Every method authorizes the
// caller first (the single gate for governance), then works asynchronously
// and calls `reply` exactly once, on an arbitrary fabric thread: the caller
// must hop back to its own executor and must not block in `reply`.
//
// The JSON shapes are the REST API's (docs/api.md).
//
// CONTRACT: actors/gateway and cli/ use exactly the declarations below.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"
#include "twin/origin.hpp"
#include "twin/security/auth.hpp"
#include "twin/transport/change_bus.hpp"

namespace prometheus {
class Registry;
}

namespace twin::actors {

using json = nlohmann::json;

/// Who asks, and the id of the request (goes into lineage and audit).
struct request_context {
  security::principal who;
  std::string request_id;
};

/// Called exactly once with the response body or an error.
using reply_fn = std::function<void(expected<json>)>;

struct list_query {
  std::string model;      ///< filter by exact DTMI; empty: all
  std::string lifecycle;  ///< filter by lifecycle state; empty: all
  std::string after;      ///< page token: the last id of the previous page
  std::size_t limit = 100; ///< 1..1000
  /// Keeps only the twins it returns true for (e.g. the cluster: twins of
  /// the shards this node owns); applied while scanning the index, so
  /// `after` and `limit` count included twins only. Empty: all.
  std::function<bool(const std::string& twin_id)> include;
};

/// Device data from an in-process adapter (the Sparkplug B host): what
/// POST /telemetry carries, already parsed.
struct device_data {
  json values = json::object();
  /// Lineage source kind: "sensor" (devices) or "behaviour" (FMU / ML
  /// outputs written back by the behaviour runtime).
  std::string source_kind = "sensor";
  std::optional<std::int64_t> source_time_ms;
  std::string source;            ///< e.g. "spBv1.0/PlantA/Turbine07/Gearbox_BearingA"
  std::string pipeline_version;  ///< e.g. "tagmap/2026.11.1"
  json origin;                   ///< protocol provenance, into the lineage
  /// Origin members shared by a feed's messages (twin/origin.hpp).
  shared_origin origin_base;
  /// Device sequence for the per-source replay guard (POST /telemetry's
  /// "sequence"); empty: none.
  std::optional<std::int64_t> sequence;
  /// Cluster mode: the Kafka offset of the record that carried the data,
  /// within the twin's partition. A record at or below the twin's last
  /// applied offset is a redelivery: answered {"applied": false}, not
  /// applied again. Empty (single node): no redelivery guard.
  std::optional<std::int64_t> bus_offset;
};

/// The device behind a twin went offline or came back.
struct connectivity_update {
  bool online = true;
  std::string reason;
  std::string source;
  std::optional<std::int64_t> source_time_ms;
  std::string pipeline_version;
  json origin;
  /// Cluster mode: the Kafka offset of the record, as device_data::bus_offset.
  std::optional<std::int64_t> bus_offset;
};

/// GET /twins/{id}/history.
struct history_request {
  std::string name;                   ///< property or telemetry name
  /// RFC 3339 or ms since the epoch, as given; empty: to - 1 h / now.
  std::string from;
  std::string to;
  std::string resolution = "auto";    ///< raw | 1m | 1h | auto
  std::size_t limit = 10000;          ///< 1..100000
};

/// A live subscription to the change stream; unsubscribes when destroyed.
class subscription {
public:
  virtual ~subscription() = default;
};

/// A twin document ready to send (the hot read path): the serialized JSON
/// of a durable state and its revision.
struct twin_body {
  std::string json;
  std::uint64_t revision = 0;
};

class fabric {
public:
  virtual ~fabric() = default;

  /// The hot read path of GET /twins/{id}: the latest durable document of
  /// the twin if the node has it at hand without asking the twin actor,
  /// else nullptr (then call get_twin). A caller that is not allowed to
  /// read gets nullptr too, and get_twin reports the refusal. Never blocks;
  /// answers on the calling thread.
  virtual std::shared_ptr<const twin_body>
  cached_twin(const request_context& ctx, const std::string& id) {
    (void) ctx;
    (void) id;
    return nullptr;
  }

  // -- twins -----------------------------------------------------------------
  /// PUT /twins/{id}: body {"$model": DTMI, "properties": {...}}.
  virtual void create_twin(const request_context& ctx, const std::string& id,
                           json body, reply_fn reply) = 0;
  virtual void get_twin(const request_context& ctx, const std::string& id,
                        reply_fn reply) = 0;
  /// PATCH /twins/{id}: JSON Merge Patch of properties (RFC 7386; null
  /// deletes), optional If-Match revision.
  virtual void patch_twin(const request_context& ctx, const std::string& id,
                          json merge_patch, std::optional<std::uint64_t> if_match,
                          reply_fn reply) = 0;
  /// POST /twins/{id}/telemetry: {"values": {...}, "sourceTime"?, "source"?,
  /// "sequence"?, "pipelineVersion"?}.
  virtual void ingest(const request_context& ctx, const std::string& id,
                      json body, reply_fn reply) = 0;
  /// POST /twins/{id}/lifecycle: {"to": STATE, "reason": TEXT}.
  virtual void transition(const request_context& ctx, const std::string& id,
                          json body, reply_fn reply) = 0;
  /// GET /twins/{id}/lineage?property=&at=.
  virtual void lineage(const request_context& ctx, const std::string& id,
                       const std::string& property,
                       const std::optional<std::string>& at,
                       reply_fn reply) = 0;
  virtual void list_twins(const request_context& ctx, list_query q,
                          reply_fn reply) = 0;

  /// Device data from an in-process adapter; same checks and answer as
  /// ingest. Requires ingest.
  virtual void ingest_data(const request_context& ctx, const std::string& id,
                           device_data data, reply_fn reply) {
    (void) ctx, (void) id, (void) data;
    reply(make_error(errc::unavailable, "device data is not supported here"));
  }
  /// Marks the twin's device online/offline (`$connectivity`); answers
  /// {"revision", "applied", "connectivity"}. Requires ingest.
  virtual void set_connectivity(const request_context& ctx,
                                const std::string& id, connectivity_update u,
                                reply_fn reply) {
    (void) ctx, (void) id, (void) u;
    reply(make_error(errc::unavailable, "connectivity is not supported here"));
  }
  /// PUT /twins/{id}/behaviours/{name}: attach (or replace) a behaviour
  /// binding, stored with the twin (journaled, audited, survives restarts).
  /// `spec` is {"kind": "fmu"|"anomaly"|"forecast", "model": DTMI the binding
  /// was written for (must equal the twin's model: else 409
  /// binding_model_mismatch), ...kind-specific fields (docs/api.md)}.
  /// Answers the twin. Requires write.
  virtual void attach_behaviour(const request_context& ctx, const std::string& id,
                                const std::string& name, json spec, reply_fn reply) {
    (void) ctx, (void) id, (void) name, (void) spec;
    reply(make_error(errc::unavailable, "behaviours are not supported here"));
  }
  /// DELETE /twins/{id}/behaviours/{name}. Answers the twin. Requires write.
  virtual void detach_behaviour(const request_context& ctx, const std::string& id,
                                const std::string& name, reply_fn reply) {
    (void) ctx, (void) id, (void) name;
    reply(make_error(errc::unavailable, "behaviours are not supported here"));
  }
  /// Stores and publishes an alert raised outside a twin (behaviours):
  /// {"type": "twin.alert.*", "severity": "info"|"warning"|"critical",
  ///  "twin", "cause", "source", "detail"?: {...}, "lineage"?: {...}}; the
  /// node sets "time" and "seq". Answers the stored alert. Requires ingest.
  virtual void raise_alert(const request_context& ctx, json alert, reply_fn reply) {
    (void) ctx, (void) alert;
    reply(make_error(errc::unavailable, "alerts are not supported here"));
  }

  /// GET /twins/{id}/history (docs/api.md). Served from the store: a
  /// passive twin is queryable. Requires read.
  virtual void history(const request_context& ctx, const std::string& id,
                       history_request q, reply_fn reply) {
    (void) ctx, (void) id, (void) q;
    reply(make_error(errc::unavailable, "history is not supported here"));
  }

  // -- models ----------------------------------------------------------------
  virtual void add_models(const request_context& ctx, json body,
                          reply_fn reply) = 0;
  virtual void list_models(const request_context& ctx, reply_fn reply) = 0;
  virtual void get_model(const request_context& ctx, const std::string& dtmi,
                         reply_fn reply) = 0;
  virtual void delete_model(const request_context& ctx,
                            const std::string& dtmi, reply_fn reply) = 0;

  // -- governance ------------------------------------------------------------
  virtual void list_audit(const request_context& ctx, std::uint64_t from,
                          std::size_t limit, reply_fn reply) = 0;
  virtual void verify_audit(const request_context& ctx, reply_fn reply) = 0;
  virtual void list_alerts(const request_context& ctx, std::uint64_t from,
                           std::size_t limit, reply_fn reply) = 0;

  // -- streams, health, metrics ----------------------------------------------
  /// Every change (twin events, alerts) as a CloudEvents JSON object. The
  /// callback runs on fabric threads and must not block. Requires read.
  virtual expected<std::unique_ptr<subscription>>
  subscribe(const request_context& ctx,
            std::function<void(const json& cloud_event)> on_event) = 0;
  /// Only the twin changes `interest` accepts (and every change that is not
  /// a twin event, e.g. alerts). A fabric may deliver more than asked (the
  /// default: everything), never less; the point is that a change nobody
  /// wants is never turned into JSON.
  virtual expected<std::unique_ptr<subscription>>
  subscribe_filtered(const request_context& ctx, transport::change_bus::interest interest,
                     std::function<void(const json& cloud_event)> on_event) {
    (void) interest;
    return subscribe(ctx, std::move(on_event));
  }

  /// GET /api/v1/cluster: the cluster as this node sees it (docs/api.md). Requires read. A node without a cluster answers its single-node view (default below).
  virtual void cluster_status(const request_context& ctx, reply_fn reply) {
    if (auto st = security::authorize(ctx.who, security::action::read); !st) return reply(st.error());
    reply(json{{"mode", "standalone"}});
  }

  /// {"status": "ok"|"degraded", "twinsActive": N, ...}; no auth needed.
  virtual json health() = 0;

  /// The registry that /metrics exposes.
  virtual prometheus::Registry& metrics() = 0;
};

} // namespace twin::actors
