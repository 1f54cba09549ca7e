#pragma once
// Sparkplug B topic namespace (spec 3.0, chapter 4):
//   spBv1.0/<group_id>/<NBIRTH|NDEATH|NDATA|NCMD>/<edge_node_id>
//   spBv1.0/<group_id>/<DBIRTH|DDEATH|DDATA|DCMD>/<edge_node_id>/<device_id>
//   spBv1.0/STATE/<host_id>                       (host application state)

#include <optional>
#include <string>
#include <string_view>

#include "twin/error.hpp"

namespace twin::sparkplug {

inline constexpr std::string_view namespace_b = "spBv1.0";

enum class message_type { nbirth, ndeath, ndata, ncmd, dbirth, ddeath, ddata, dcmd, state };

/// "NBIRTH", "DDATA", "STATE", ...
std::string_view to_string(message_type t) noexcept;
/// The inverse of to_string; nullopt for anything else (case-sensitive).
std::optional<message_type> parse_message_type(std::string_view s) noexcept;

/// True for the D* types (they name a device).
bool is_device_message(message_type t) noexcept;

struct topic {
  message_type type = message_type::ndata;
  std::string group;      ///< empty for STATE
  std::string edge_node;  ///< empty for STATE
  std::string device;     ///< set exactly for the D* types
  std::string host_id;    ///< set exactly for STATE

  friend bool operator==(const topic&, const topic&) = default;
};

/// A topic whose ids point into the MQTT topic string it was parsed from
/// (valid as long as that string is): the host parses every message's topic
/// with it, and copies an id only when it keeps one.
struct topic_view {
  message_type type = message_type::ndata;
  std::string_view group;
  std::string_view edge_node;
  std::string_view device;
  std::string_view host_id;
};

/// Parses an MQTT topic. Anything that is not a well-formed Sparkplug B
/// topic (other namespace, unknown message type, wrong number of levels,
/// empty id, or an MQTT wildcard '+'/'#' in an id) is errc::bad_request.
twin::expected<topic> parse_topic(std::string_view mqtt_topic);
/// As parse_topic (same checks, same errors), without copying the ids.
twin::expected<topic_view> parse_topic_view(std::string_view mqtt_topic);

/// The MQTT topic of `t` (the inverse of parse_topic for valid topics).
std::string to_mqtt_topic(const topic& t);

} // namespace twin::sparkplug
