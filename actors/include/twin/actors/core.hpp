#pragma once
// The twin core: a pure decide/evolve pair, no actors, no I/O.
//
//   decide(state, command, model) -> decision (events, or a rejection and
//                                    possibly an alert)
//   evolve(state, event)          -> state
//
// The twin actor (twin_actor.hpp) is a thin shell around these: receive ->
// decide -> journal append (durable) -> evolve -> publish -> reply. The
// journal is the lineage log: every event carries its lineage.

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"
#include "twin/origin.hpp"
#include "twin/model/dtdl.hpp"

namespace twin::actors::core {

using json = nlohmann::json;

/// Milliseconds since the Unix epoch (UTC).
using millis = std::int64_t;

/// "2026-11-25T12:00:00.123Z".
std::string format_time(millis t);
/// Parses RFC 3339 (with 'Z' or an offset; fraction optional).
std::optional<millis> parse_time(std::string_view text);
/// The system clock now, in millis.
millis now_millis();

// -- lifecycle ----------------------------------------------------------------

enum class lifecycle : std::uint8_t { provisioned, active, passive, retired };

std::string_view to_string(lifecycle l) noexcept;
inline std::ostream& operator<<(std::ostream& os, lifecycle l) {
  return os << to_string(l);
}
std::optional<lifecycle> parse_lifecycle(std::string_view s) noexcept;

/// The lifecycle table: provisioned -> active; active <-> passive;
/// provisioned|active|passive -> retired. retired is terminal. A transition
/// to the current state is not a transition (refused).
bool transition_allowed(lifecycle from, lifecycle to) noexcept;

// -- lineage and events -------------------------------------------------------

/// Where a mutation came from.
struct lineage {
  /// "principal" (a human or service through the API) or "sensor".
  std::string source_kind = "principal";
  /// The principal's name or the sensor / metric id.
  std::string source_id;
  /// The authenticated principal that submitted it.
  std::string principal;
  millis source_time = 0;
  millis ingest_time = 0;
  /// e.g. "rest/1", or a tag-map version for Sparkplug ingest.
  std::string pipeline_version;
  /// The twin's model DTMI when the event was decided.
  std::string model;
  std::string request_id;
  /// Device sequence used by the replay guard, if any.
  std::optional<std::int64_t> sequence;
  /// Cluster mode: the offset of the bus (Kafka) record that carried the
  /// command, within the twin's partition; JSON "busOffset", absent when
  /// empty. Feeds twin_state::last_bus_offset (the redelivery guard).
  std::optional<std::int64_t> bus_offset;
  /// Protocol-specific provenance (e.g. Sparkplug B: group, edge node,
  /// device, seq, bdSeq and the metric behind each value); null if none.
  /// What the lineage shows is origin_base's members with these over them
  /// (twin/origin.hpp): to_json and encode_event write the merged object.
  json origin;
  /// Origin members shared with other events of the same feed; null if none.
  shared_origin origin_base;
};

enum class event_type : std::uint8_t {
  twin_created,
  property_updated,
  telemetry_received,
  lifecycle_changed,
  /// The device behind the twin went offline or came back (Sparkplug
  /// DEATH/BIRTH). Not a lifecycle change: data keeps being accepted.
  connectivity_changed,
  /// A behaviour binding (FMU / ML) was attached or replaced.
  behaviour_attached,
  /// A behaviour binding was removed.
  behaviour_detached,
};

std::string_view to_string(event_type t) noexcept;
inline std::ostream& operator<<(std::ostream& os, event_type t) {
  return os << to_string(t);
}

/// Whether the twin's device is connected, as far as the fabric knows.
enum class connectivity : std::uint8_t { unknown, online, offline };
std::string_view to_string(connectivity c) noexcept;
inline std::ostream& operator<<(std::ostream& os, connectivity c) {
  return os << to_string(c);
}

struct event {
  event_type type = event_type::property_updated;
  std::uint64_t revision = 0;
  /// The ingest time (when the fabric decided it).
  millis time = 0;
  /// Property values set (name -> full new value; null removes).
  json properties = json::object();
  /// Telemetry values received (name -> value).
  json telemetry = json::object();
  /// twin_created: the model.
  std::string model;
  /// lifecycle_changed.
  lifecycle from = lifecycle::provisioned;
  lifecycle to = lifecycle::provisioned;
  /// lifecycle_changed and connectivity_changed.
  std::string reason;
  /// connectivity_changed: the new state.
  connectivity link = connectivity::unknown;
  /// behaviour_attached / behaviour_detached: the binding's name and spec.
  std::string behaviour;
  json spec;
  lineage source;
};

/// The API / journal JSON form of an event (docs/api.md).
json to_json(const event& e);
expected<event> event_from_json(const json& j);

/// The journal bytes of an event: exactly json::to_cbor(to_json(e)), written
/// straight from the struct (no JSON tree), so every reader of the journal
/// keeps decoding it with json::from_cbor.
std::string encode_event(const event& e);
/// Appends the bytes of json::to_cbor(j) to `out`.
void append_cbor(std::string& out, const json& j);

// -- state --------------------------------------------------------------------

/// A value with its provenance summary.
struct value_entry {
  json value;
  millis source_time = 0;
  /// The revision that set it.
  std::uint64_t version = 0;
};

/// An interned name: a pointer to one process-wide copy of the string, so
/// that a million twins of one model hold their property names once. Never
/// freed (names come from models, a bounded set). Thread-safe.
class name_ref {
public:
  name_ref() = default;
  /// Interns `s` (a lock and a hash lookup: not for per-message hot paths
  /// with new names, fine for names seen before).
  explicit name_ref(std::string_view s);
  const std::string& str() const noexcept { return *ptr_; }
  operator std::string_view() const noexcept { return *ptr_; }
  friend bool operator==(name_ref a, name_ref b) noexcept {
    return a.ptr_ == b.ptr_;
  }

private:
  const std::string* ptr_ = &empty_;
  static const std::string empty_;
};

/// Sorted by name; a flat vector of interned names keeps a hot twin small.
using value_map = std::vector<std::pair<name_ref, value_entry>>;

/// A value kept on the heap only when it is not empty: most twins have
/// none, and an empty box costs a twin 8 bytes instead of (e.g.) a vector's
/// 24. Copies are deep (twin_state is a value).
template <class T>
class boxed {
public:
  boxed() = default;
  boxed(const boxed& other)
    : ptr_(other.ptr_ ? std::make_unique<T>(*other.ptr_) : nullptr) {}
  boxed& operator=(const boxed& other) {
    if (this != &other)
      ptr_ = other.ptr_ ? std::make_unique<T>(*other.ptr_) : nullptr;
    return *this;
  }
  boxed(boxed&&) noexcept = default;
  boxed& operator=(boxed&&) noexcept = default;
  /// The value (an empty T when there is none).
  const T& get() const {
    static const T empty{};
    return ptr_ ? *ptr_ : empty;
  }
  /// The value, created empty if there is none.
  T& mut() {
    if (!ptr_)
      ptr_ = std::make_unique<T>();
    return *ptr_;
  }

private:
  std::unique_ptr<T> ptr_;
};

/// Fields are ordered by size so that the struct has no holes: a hot twin's
/// actor (twin_actor.cpp) must stay within its allocator size class.
struct twin_state {
  std::string id;
  /// The model DTMI (interned: shared by every twin of the model).
  name_ref model;
  std::uint64_t revision = 0;
  millis created_at = 0;
  millis updated_at = 0;
  /// When `link` last changed (0: never).
  millis link_since = 0;
  /// The highest bus (Kafka) offset of a record applied to this twin; -1:
  /// none (single node, or nothing from the bus yet). Ingest and
  /// connectivity commands whose bus_offset is <= this are redeliveries
  /// and decide to nothing. Kept in snapshots ("$lastBusOffset", written
  /// only when >= 0; absent means -1).
  std::int64_t last_bus_offset = -1;
  /// Behaviour bindings {name: spec}; null when there are none (most twins).
  json behaviours;
  value_map properties;
  value_map telemetry;
  /// Last device sequence applied per source (replay / duplicate guard).
  boxed<std::vector<std::pair<std::string, std::int64_t>>> last_sequence;
  bool exists = false;
  lifecycle life = lifecycle::provisioned;
  connectivity link = connectivity::unknown;

  const value_entry* property(std::string_view name) const noexcept;
};

/// The API JSON form of a twin (docs/api.md).
json to_json(const twin_state& s);
/// Snapshot encoding (JSON form plus internals), and back.
json snapshot_json(const twin_state& s);
expected<twin_state> state_from_snapshot(const json& j);

// -- commands -----------------------------------------------------------------

struct create_twin {
  std::string model;
  json properties = json::object();
};

struct patch_properties {
  /// RFC 7386 merge patch over the property values.
  json merge_patch = json::object();
  std::optional<std::uint64_t> if_match;
};

struct ingest_values {
  json values = json::object();
  /// Lineage source kind: "sensor" (devices), "behaviour" (FMU/ML outputs).
  std::string source_kind = "sensor";
  std::optional<millis> source_time;
  /// Sensor / metric id; defaults to the principal.
  std::string source;
  std::optional<std::int64_t> sequence;
  std::string pipeline_version;
  /// Protocol provenance copied into the lineage (see lineage::origin).
  json origin;
  shared_origin origin_base;
  /// Cluster mode: the offset of the bus record that carried these values
  /// (within the twin's partition). If <= state.last_bus_offset the command
  /// is a redelivery: an empty decision (no event, no rejection, no alert),
  /// checked before anything else. Else the event's lineage carries it.
  /// A record for a twin that is not active is never applied, so it does
  /// not advance last_bus_offset: its redelivery raises its alert again.
  std::optional<std::int64_t> bus_offset;
};

/// The device went offline / came back. A no-op (no event) when the twin
/// is already in that state.
struct set_connectivity {
  bool online = true;
  std::string reason;
  /// Who says so (e.g. "spBv1.0/PlantA/Turbine07/Gearbox_BearingA").
  std::string source;
  std::optional<millis> source_time;
  std::string pipeline_version;
  json origin;
  /// Cluster mode: the bus record's offset, as for ingest_values: <=
  /// state.last_bus_offset decides to nothing; else the event (if the
  /// state changes) carries it in its lineage. A no-op (already in that
  /// state) produces no event and leaves last_bus_offset as it is.
  std::optional<std::int64_t> bus_offset;
};

struct transition {
  lifecycle to = lifecycle::active;
  std::string reason;
};

/// Attach (or replace) a behaviour binding. The spec must name the twin's
/// model DTMI in "model" (else binding_model_mismatch) and a "kind".
struct attach_behaviour {
  std::string name;
  json spec;
};

struct detach_behaviour {
  std::string name;
};

using command_body = std::variant<create_twin, patch_properties, ingest_values,
                                  transition, set_connectivity,
                                  attach_behaviour, detach_behaviour>;

struct command {
  command_body body;
  std::string principal;
  std::string request_id;
  /// Injected clock: the ingest time of whatever this command produces.
  millis now = 0;
};

/// An alert raised by a decision (e.g. data for a twin that is not active).
struct alert {
  std::string type; ///< e.g. "twin.alert.unexpected_data"
  std::string severity; ///< "warning", "critical"
  std::string twin;
  std::string cause;
  std::string source;
  millis time = 0;
  json detail = json::object();
};

json to_json(const alert& a);

struct decision {
  std::vector<event> events;
  std::optional<error> rejection;
  std::optional<alert> raised;
};

/// What decide needs to know about models.
struct model_context {
  /// The twin's interface (or, for create, the requested one); may be null
  /// when the model is unknown.
  const model::interface* itf = nullptr;
  const model::resolver* known = nullptr;
};

/// Decides a command against a state. Pure. The events it returns carry
/// revisions state.revision+1, +2, ... and full lineage.
decision decide(const twin_state& state, const command& cmd,
                const model_context& models);
/// The same decision, for a command the caller gives up: device data
/// (ingest_values) moves its values and origin into the event instead of
/// copying them. What is left of `cmd` afterwards: its principal, request
/// id, clock and the alternative of its body; an ingest's values only if it
/// was rejected.
decision decide(const twin_state& state, command&& cmd, const model_context& models);

/// Applies one event. Pure. Precondition: e.revision == s.revision + 1.
twin_state evolve(twin_state s, const event& e);

/// RFC 7386 JSON Merge Patch.
json merge_patch(json target, const json& patch);

} // namespace twin::actors::core
