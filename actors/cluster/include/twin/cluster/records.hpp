#pragma once
// The cluster's wire records, pure: what goes onto the Kafka topics and
// between nodes, and the routing table built from announcements. No I/O, no
// actors: unit-tested in tests/unit/cluster.
//
//   telemetry topic  key twin id, partition = shard: device data to apply
//                    (ingest_record), consumed by the shard's owner
//   changelog topic  key twin id, partition = shard: every committed twin
//                    write (changelog_record), restored by a new owner
//   cluster topic    one partition: node announcements (signed) and model
//                    uploads, read from the beginning by every node
//   events topic     key twin id: CloudEvents JSON for downstream consumers

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/actors/fabric.hpp"
#include "twin/error.hpp"
#include "twin/persistence/store.hpp"

namespace twin::cluster {

using json = nlohmann::json;

// -- telemetry topic ----------------------------------------------------------

/// Device data bound for a twin's owner. `kind` "data" carries device_data
/// (from the MQTT host, or a POST /telemetry body parsed where it arrived),
/// "connectivity" a connectivity_update.
struct ingest_record {
  std::string kind = "data";
  std::string twin;
  /// The authenticated principal that submitted it on the ingesting node
  /// (authorized there for ingest); goes into lineage.
  std::string principal;
  std::string request_id;
  /// The ingesting node (lineage origin of the hop).
  std::string via;
  actors::device_data data;
  actors::connectivity_update link;
};

std::string encode(const ingest_record& r);
expected<ingest_record> decode_ingest(std::string_view bytes);

// -- changelog topic ----------------------------------------------------------

/// One committed twin write, as the store got it: events (revision, bytes),
/// the snapshot and index entry if the write carried them, and the history
/// samples. Bytes are the store's own, so a restored journal is identical
/// to the original one.
std::string encode(const persistence::twin_write& w, const std::string& node);
struct changelog_record {
  persistence::twin_write write;
  std::string node; ///< who wrote it
};
expected<changelog_record> decode_changelog(std::string_view bytes);

// -- cluster topic --------------------------------------------------------------

/// A node's view of itself, announced every second and on every change.
struct shard_progress {
  std::uint64_t records = 0;
  std::uint64_t total = 0;
  std::int64_t elapsed_ms = 0;
  bool done = false;
};

struct announcement {
  std::string node;
  std::string endpoint;  ///< host:port of its mTLS cluster listener
  std::string http;      ///< its REST base URL
  std::vector<std::uint32_t> shards; ///< shards it serves
  std::map<std::uint32_t, shard_progress> restoring; ///< shards being restored
  std::map<std::uint32_t, std::int64_t> lag;         ///< consumer lag per shard
  std::uint64_t forwarded = 0;
  std::int64_t time_ms = 0;   ///< sender's clock (informational)
  std::int64_t started_ms = 0; ///< sender's start (distinguishes restarts)
  bool leaving = false;       ///< last words of a graceful stop
  std::string certificate;    ///< PEM; checked against the fabric CA
};

/// The announcement's JSON without the signature: what is signed.
std::string signed_bytes(const announcement& a);
/// {"kind": "announce", ...fields, "sig": base64 signature}.
std::string encode(const announcement& a, const std::string& signature_b64);
struct signed_announcement {
  announcement a;
  std::string signature_b64;
};

/// Any record of the cluster topic.
struct cluster_record {
  std::string kind; ///< "announce" | "models"
  std::optional<signed_announcement> announce;
  json models; ///< kind "models": {"node", "documents": [...]}
};
expected<cluster_record> decode_cluster(std::string_view bytes);
std::string encode_models(const std::string& node, const json& documents);

// -- routing ------------------------------------------------------------------

/// Who serves which shard, from verified announcements. Pure: the clock is
/// passed in.
class routing_table {
public:
  struct node_entry {
    announcement last;
    std::int64_t seen_ms = 0; ///< local receive time
  };

  explicit routing_table(std::int64_t node_timeout_ms) : timeout_(node_timeout_ms) {}

  /// Takes a verified announcement received at `now_ms`.
  void apply(const announcement& a, std::int64_t now_ms);
  /// The node serving `shard` (alive, newest announcement claiming it);
  /// empty if none.
  std::optional<std::string> owner(std::uint32_t shard, std::int64_t now_ms) const;
  bool alive(const std::string& node, std::int64_t now_ms) const;
  const node_entry* find(const std::string& node) const;
  std::vector<std::string> alive_nodes(std::int64_t now_ms) const;
  const std::map<std::string, node_entry>& nodes() const noexcept { return nodes_; }

private:
  std::int64_t timeout_;
  std::map<std::string, node_entry> nodes_;
};

} // namespace twin::cluster
