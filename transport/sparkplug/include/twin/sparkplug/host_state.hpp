#pragma once
// The pure core of a Sparkplug B host application: no MQTT, no clock, no
// threads. Feed it (topic, payload bytes, now); it returns what to do.
// Not thread-safe: one instance per ingest loop.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "twin/sparkplug/payload.hpp"
#include "twin/sparkplug/topic.hpp"

namespace twin::sparkplug {

/// A name in an apply_action: a view of a string host_state owns, so that a
/// message of n metrics does not copy its group, edge node, device and
/// metric names n times. Reads like a std::string_view; `+` with a string
/// gives a std::string (as when the names were std::string).
struct name_view : std::string_view {
  using std::string_view::string_view;
  constexpr name_view(std::string_view s) noexcept : std::string_view(s) {}
  name_view(const std::string& s) noexcept : std::string_view(s) {}
  name_view(std::string&&) = delete;  // would dangle

  friend std::string operator+(name_view a, std::string_view b) {
    std::string s;
    s.reserve(a.size() + b.size());
    s.append(a).append(b);
    return s;
  }
  friend std::string operator+(std::string a, name_view b) {
    a.append(b);
    return a;
  }
};

/// A resolved metric value from an NBIRTH/DBIRTH/NDATA/DDATA. Its names
/// point into the host_state that returned it: they are valid until the
/// next handle() on that host_state (a BIRTH replaces the metric names it
/// declares) or its destruction; copy them to keep them longer.
struct apply_action {
  name_view group;
  name_view edge_node;
  name_view device;             ///< empty for node metrics
  name_view metric;             ///< the name from the BIRTH (aliases resolved)
  data_type datatype = data_type::unknown;
  metric_value value;
  std::uint64_t timestamp = 0;  ///< metric timestamp, else payload's, else now
  std::uint8_t seq = 0;
  std::uint64_t bd_seq = 0;
  bool is_historical = false;
  bool is_transient = false;
};

/// An edge node (device empty) or device came online (BIRTH).
struct online_action {
  std::string group;
  std::string edge_node;
  std::string device;
  std::uint64_t bd_seq = 0;
};

/// An edge node (device empty) or device went offline (DEATH, or a device
/// whose node died or re-birthed).
struct offline_action {
  std::string group;
  std::string edge_node;
  std::string device;
  std::uint64_t bd_seq = 0;
};

/// Publish an NCMD `Node Control/Rebirth = true` to this edge node
/// (make_rebirth_command builds it).
struct rebirth_action {
  std::string group;
  std::string edge_node;
  std::string reason;  ///< the drop reason that caused it
};

/// A message (or part of one) was not applied. `reason` is a counter name
/// of host_stats (e.g. "seq_gap"); `detail` is for logs.
struct dropped_action {
  std::string group;
  std::string edge_node;
  std::string device;
  std::string reason;
  std::string detail;
};

using action =
    std::variant<apply_action, online_action, offline_action, rebirth_action, dropped_action>;

/// Counters; every drop reason has one (same name as dropped_action::reason).
struct host_stats {
  std::uint64_t messages = 0;          ///< every handle() call
  std::uint64_t metrics_applied = 0;   ///< apply actions emitted
  std::uint64_t rebirths_requested = 0;
  std::uint64_t rebirths_suppressed = 0;  ///< rate-limited by rebirth_interval_ms
  // drop reasons
  std::uint64_t bad_topic = 0;        ///< not a Sparkplug B topic
  std::uint64_t bad_payload = 0;      ///< does not decode (incl. oversized, bad datatype)
  std::uint64_t bad_birth = 0;        ///< BIRTH metric without name/datatype, duplicate alias
  std::uint64_t missing_bdseq = 0;    ///< NBIRTH/NDEATH without a bdSeq metric
  std::uint64_t missing_seq = 0;      ///< seq absent or > 255
  std::uint64_t seq_gap = 0;          ///< seq not previous+1 (mod 256)
  std::uint64_t before_birth = 0;     ///< DATA/DBIRTH/DDEATH with no valid birth
  std::uint64_t awaiting_rebirth = 0; ///< after a gap/unknown alias, until NBIRTH
  std::uint64_t unknown_alias = 0;
  std::uint64_t unknown_metric = 0;   ///< DATA metric by a name not in the BIRTH
  std::uint64_t type_mismatch = 0;    ///< DATA value does not fit the BIRTH datatype
  std::uint64_t stale_death = 0;      ///< NDEATH whose bdSeq is not the current one
  std::uint64_t unknown_node = 0;     ///< NDEATH of a node never seen
  std::uint64_t unknown_device = 0;   ///< DDEATH of a device not born
  std::uint64_t not_for_host = 0;     ///< NCMD/DCMD/STATE: not ingested

  /// (name, value) of every counter, for metrics export.
  std::vector<std::pair<std::string_view, std::uint64_t>> counters() const;
  /// The counter called `name`; 0 for an unknown name.
  std::uint64_t get(std::string_view name) const;
};

struct host_options {
  decode_options decode;
  /// At most one rebirth request per edge node per interval (ms of `now`).
  std::uint64_t rebirth_interval_ms = 5000;
};

/// An MQTT message to publish.
struct outgoing_message {
  std::string topic;
  bytes payload;
};

/// NCMD `spBv1.0/<group>/NCMD/<edge_node>` with metric
/// `Node Control/Rebirth` (Boolean) = true, timestamped `now_ms`.
outgoing_message make_rebirth_command(std::string_view group, std::string_view edge_node,
                                      std::uint64_t now_ms);

class host_state {
public:
  explicit host_state(host_options options = {});
  ~host_state();
  host_state(host_state&&) noexcept;
  host_state& operator=(host_state&&) noexcept;
  host_state(const host_state&) = delete;
  host_state& operator=(const host_state&) = delete;

  /// Handles one MQTT message; `now_ms` is ms since the Unix epoch.
  std::vector<action> handle(std::string_view mqtt_topic, std::span<const std::uint8_t> payload,
                             std::uint64_t now_ms);

  const host_stats& stats() const noexcept;

  /// Whether the edge node (device empty) or device is online.
  bool is_online(std::string_view group, std::string_view edge_node,
                 std::string_view device = {}) const;
  /// The bdSeq of the node's current (or last) NBIRTH, if it was ever born.
  std::optional<std::uint64_t> bd_seq(std::string_view group, std::string_view edge_node) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace twin::sparkplug
