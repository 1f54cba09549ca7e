#include "twin/actors/core.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <unordered_set>

namespace twin::actors::core {

// -- time ---------------------------------------------------------------------

std::string format_time(millis t) {
  // By hand rather than gmtime_r + snprintf: every event and every value
  // carries times, and glibc's gmtime_r takes the time-zone lock. Civil
  // date from days since the epoch: H. Hinnant's days_from_civil inverse,
  // proleptic Gregorian, valid for every int64 millisecond count.
  std::int64_t secs = t / 1000;
  int ms = static_cast<int>(t % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) {
    // Outside RFC 3339's four-digit years: the old, general form.
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  static_cast<long long>(year), month, day, static_cast<int>(sod / 3600),
                  static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60), ms);
    return buf;
  }
  std::string out(24, '0');
  auto put = [&](std::size_t pos, std::int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[pos + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, year, 4);
  out[4] = '-';
  put(5, month, 2);
  out[7] = '-';
  put(8, day, 2);
  out[10] = 'T';
  put(11, sod / 3600, 2);
  out[13] = ':';
  put(14, sod / 60 % 60, 2);
  out[16] = ':';
  put(17, sod % 60, 2);
  out[19] = '.';
  put(20, ms, 3);
  out[23] = 'Z';
  return out;
}

namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

} // namespace

std::optional<millis> parse_time(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo)
      || s[7] != '-' || !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't')
      || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi)
      || s[16] != ':' || !digits(s, 17, 2, sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return std::nullopt;
  size_t pos = 19;
  int frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start)
      return std::nullopt;
  }
  if (pos >= s.size())
    return std::nullopt;
  int offset_min = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':'
        || !digits(s, pos + 4, 2, om))
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size())
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  auto secs = static_cast<millis>(timegm(&tm));
  return (secs - offset_min * 60) * 1000 + frac_ms;
}

millis now_millis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

// -- interned names -----------------------------------------------------------

const std::string name_ref::empty_;

name_ref::name_ref(std::string_view s) {
  static std::mutex mtx;
  static std::unordered_set<std::string> pool; // node-based: stable addresses
  std::lock_guard guard{mtx};
  ptr_ = &*pool.emplace(s).first;
}

// -- lifecycle ----------------------------------------------------------------

std::string_view to_string(lifecycle l) noexcept {
  switch (l) {
    case lifecycle::provisioned: return "provisioned";
    case lifecycle::active: return "active";
    case lifecycle::passive: return "passive";
    case lifecycle::retired: return "retired";
  }
  return "provisioned";
}

std::optional<lifecycle> parse_lifecycle(std::string_view s) noexcept {
  if (s == "provisioned") return lifecycle::provisioned;
  if (s == "active") return lifecycle::active;
  if (s == "passive") return lifecycle::passive;
  if (s == "retired") return lifecycle::retired;
  return std::nullopt;
}

bool transition_allowed(lifecycle from, lifecycle to) noexcept {
  using l = lifecycle;
  switch (from) {
    case l::provisioned: return to == l::active || to == l::retired;
    case l::active: return to == l::passive || to == l::retired;
    case l::passive: return to == l::active || to == l::retired;
    case l::retired: return false;
  }
  return false;
}

std::string_view to_string(event_type t) noexcept {
  switch (t) {
    case event_type::twin_created: return "twin_created";
    case event_type::property_updated: return "property_updated";
    case event_type::telemetry_received: return "telemetry_received";
    case event_type::lifecycle_changed: return "lifecycle_changed";
    case event_type::connectivity_changed: return "connectivity_changed";
    case event_type::behaviour_attached: return "behaviour_attached";
    case event_type::behaviour_detached: return "behaviour_detached";
  }
  return "property_updated";
}

std::string_view to_string(connectivity c) noexcept {
  switch (c) {
    case connectivity::unknown: return "unknown";
    case connectivity::online: return "online";
    case connectivity::offline: return "offline";
  }
  return "unknown";
}

// -- JSON forms ---------------------------------------------------------------

namespace {

json lineage_json(const lineage& l) {
  auto ingest = format_time(l.ingest_time);
  auto source = l.source_time == l.ingest_time ? ingest
                                               : format_time(l.source_time);
  json j{{"source", {{"kind", l.source_kind}, {"id", l.source_id}}},
         {"principal", l.principal},
         {"sourceTime", std::move(source)},
         {"ingestTime", std::move(ingest)},
         {"pipelineVersion", l.pipeline_version},
         {"model", l.model},
         {"requestId", l.request_id}};
  if (l.sequence)
    j["sequence"] = *l.sequence;
  if (l.bus_offset)
    j["busOffset"] = *l.bus_offset;
  if (!l.origin.is_null() || l.origin_base)
    j["origin"] = merged_origin(l.origin, l.origin_base);
  return j;
}

expected<millis> time_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    return make_error(errc::corruption, std::string{"missing time "} + key);
  auto t = parse_time(it->get<std::string>());
  if (!t)
    return make_error(errc::corruption, std::string{"bad time "} + key);
  return *t;
}

value_map::iterator lower(value_map& m, std::string_view name) {
  return std::lower_bound(m.begin(), m.end(), name,
                          [](const auto& p, std::string_view n) {
                            return std::string_view{p.first} < n;
                          });
}

value_entry* find_entry(value_map& m, std::string_view name) {
  auto it = lower(m, name);
  if (it != m.end() && std::string_view{it->first} == name)
    return &it->second;
  return nullptr;
}

void set_entry(value_map& m, const std::string& name, value_entry v) {
  auto it = lower(m, name);
  if (it != m.end() && std::string_view{it->first} == name)
    it->second = std::move(v);
  else
    m.emplace(it, name_ref{name}, std::move(v));
}

void erase_entry(value_map& m, const std::string& name) {
  auto it = lower(m, name);
  if (it != m.end() && std::string_view{it->first} == name)
    m.erase(it);
}

json values_json(const value_map& m) {
  json out = json::object();
  for (auto& [name, v] : m)
    out[name.str()] = json{{"value", v.value},
                     {"sourceTime", format_time(v.source_time)},
                     {"version", v.version}};
  return out;
}

expected<value_map> values_from_json(const json& j) {
  value_map m;
  if (!j.is_object())
    return make_error(errc::corruption, "values are not an object");
  for (auto& [name, v] : j.items()) {
    auto t = time_field(v, "sourceTime");
    if (!t)
      return t.error();
    m.emplace_back(name_ref{name}, value_entry{v.at("value"), *t,
                                               v.at("version").get<std::uint64_t>()});
  }
  std::sort(m.begin(), m.end(), [](const auto& a, const auto& b) {
    return std::string_view{a.first} < std::string_view{b.first};
  });
  return m;
}

} // namespace

json to_json(const event& e) {
  json j{{"revision", e.revision},
         {"type", to_string(e.type)},
         {"time", format_time(e.time)},
         {"lineage", lineage_json(e.source)}};
  switch (e.type) {
    case event_type::twin_created:
      j["model"] = e.model;
      j["changes"] = e.properties;
      break;
    case event_type::property_updated:
      j["changes"] = e.properties;
      break;
    case event_type::telemetry_received:
      j["changes"] = e.properties;
      j["telemetry"] = e.telemetry;
      break;
    case event_type::lifecycle_changed:
      j["from"] = to_string(e.from);
      j["to"] = to_string(e.to);
      j["reason"] = e.reason;
      break;
    case event_type::connectivity_changed:
      j["connectivity"] = to_string(e.link);
      j["reason"] = e.reason;
      break;
    case event_type::behaviour_attached:
      j["behaviour"] = e.behaviour;
      j["spec"] = e.spec;
      break;
    case event_type::behaviour_detached:
      j["behaviour"] = e.behaviour;
      break;
  }
  return j;
}

expected<event> event_from_json(const json& j) {
  try {
    event e;
    e.revision = j.at("revision").get<std::uint64_t>();
    auto type = j.at("type").get<std::string>();
    if (type == "twin_created")
      e.type = event_type::twin_created;
    else if (type == "property_updated")
      e.type = event_type::property_updated;
    else if (type == "telemetry_received")
      e.type = event_type::telemetry_received;
    else if (type == "lifecycle_changed")
      e.type = event_type::lifecycle_changed;
    else if (type == "connectivity_changed")
      e.type = event_type::connectivity_changed;
    else if (type == "behaviour_attached")
      e.type = event_type::behaviour_attached;
    else if (type == "behaviour_detached")
      e.type = event_type::behaviour_detached;
    else
      return make_error(errc::corruption, "unknown event type " + type);
    auto t = time_field(j, "time");
    if (!t)
      return t.error();
    e.time = *t;
    if (auto it = j.find("changes"); it != j.end())
      e.properties = *it;
    if (auto it = j.find("telemetry"); it != j.end())
      e.telemetry = *it;
    if (auto it = j.find("model"); it != j.end())
      e.model = it->get<std::string>();
    if (e.type == event_type::lifecycle_changed) {
      auto from = parse_lifecycle(j.at("from").get<std::string>());
      auto to = parse_lifecycle(j.at("to").get<std::string>());
      if (!from || !to)
        return make_error(errc::corruption, "bad lifecycle in event");
      e.from = *from;
      e.to = *to;
      e.reason = j.value("reason", "");
    }
    if (e.type == event_type::connectivity_changed) {
      auto c = j.at("connectivity").get<std::string>();
      if (c == "online")
        e.link = connectivity::online;
      else if (c == "offline")
        e.link = connectivity::offline;
      else
        return make_error(errc::corruption, "bad connectivity in event");
      e.reason = j.value("reason", "");
    }
    if (e.type == event_type::behaviour_attached
        || e.type == event_type::behaviour_detached) {
      e.behaviour = j.at("behaviour").get<std::string>();
      if (auto sp = j.find("spec"); sp != j.end())
        e.spec = *sp;
    }
    const auto& l = j.at("lineage");
    e.source.source_kind = l.at("source").at("kind").get<std::string>();
    e.source.source_id = l.at("source").at("id").get<std::string>();
    e.source.principal = l.at("principal").get<std::string>();
    auto st = time_field(l, "sourceTime");
    auto it = time_field(l, "ingestTime");
    if (!st || !it)
      return make_error(errc::corruption, "bad lineage times");
    e.source.source_time = *st;
    e.source.ingest_time = *it;
    e.source.pipeline_version = l.at("pipelineVersion").get<std::string>();
    e.source.model = l.at("model").get<std::string>();
    e.source.request_id = l.at("requestId").get<std::string>();
    if (auto sq = l.find("sequence"); sq != l.end())
      e.source.sequence = sq->get<std::int64_t>();
    if (auto bo = l.find("busOffset"); bo != l.end())
      e.source.bus_offset = bo->get<std::int64_t>();
    if (auto o = l.find("origin"); o != l.end())
      e.source.origin = *o;
    return e;
  } catch (const std::exception& ex) {
    return make_error(errc::corruption,
                      std::string{"event does not decode: "} + ex.what());
  }
}

const value_entry* twin_state::property(std::string_view name) const noexcept {
  return find_entry(const_cast<value_map&>(properties), name);
}

json to_json(const twin_state& s) {
  json j{{"$id", s.id},
         {"$model", s.model.str()},
         {"$lifecycle", to_string(s.life)},
         {"$revision", s.revision},
         {"$createdAt", format_time(s.created_at)},
         {"$updatedAt", format_time(s.updated_at)},
         {"properties", values_json(s.properties)},
         {"telemetry", values_json(s.telemetry)}};
  if (s.link != connectivity::unknown)
    j["$connectivity"] = json{{"state", to_string(s.link)},
                              {"since", format_time(s.link_since)}};
  if (s.behaviours.is_object() && !s.behaviours.empty())
    j["$behaviours"] = s.behaviours;
  return j;
}

json snapshot_json(const twin_state& s) {
  auto j = to_json(s);
  json seq = json::object();
  for (auto& [src, n] : s.last_sequence.get())
    seq[src] = n;
  j["$lastSequence"] = std::move(seq);
  if (s.last_bus_offset >= 0)
    j["$lastBusOffset"] = s.last_bus_offset;
  return j;
}

expected<twin_state> state_from_snapshot(const json& j) {
  try {
    twin_state s;
    s.exists = true;
    s.id = j.at("$id").get<std::string>();
    s.model = name_ref{j.at("$model").get<std::string>()};
    auto life = parse_lifecycle(j.at("$lifecycle").get<std::string>());
    if (!life)
      return make_error(errc::corruption, "bad lifecycle in snapshot");
    s.life = *life;
    s.revision = j.at("$revision").get<std::uint64_t>();
    auto c = time_field(j, "$createdAt");
    auto u = time_field(j, "$updatedAt");
    if (!c || !u)
      return make_error(errc::corruption, "bad times in snapshot");
    s.created_at = *c;
    s.updated_at = *u;
    auto props = values_from_json(j.at("properties"));
    if (!props)
      return props.error();
    s.properties = std::move(*props);
    auto tel = values_from_json(j.at("telemetry"));
    if (!tel)
      return tel.error();
    s.telemetry = std::move(*tel);
    if (auto it = j.find("$lastSequence"); it != j.end())
      for (auto& [src, n] : it->items())
        s.last_sequence.mut().emplace_back(src, n.get<std::int64_t>());
    if (auto it = j.find("$lastBusOffset"); it != j.end())
      s.last_bus_offset = it->get<std::int64_t>();
    if (auto it = j.find("$connectivity"); it != j.end()) {
      auto st = it->at("state").get<std::string>();
      s.link = st == "online"    ? connectivity::online
               : st == "offline" ? connectivity::offline
                                 : connectivity::unknown;
      auto since = time_field(*it, "since");
      if (!since)
        return since.error();
      s.link_since = *since;
    }
    if (auto it = j.find("$behaviours"); it != j.end() && it->is_object())
      s.behaviours = *it;
    return s;
  } catch (const std::exception& ex) {
    return make_error(errc::corruption,
                      std::string{"snapshot does not decode: "} + ex.what());
  }
}

json to_json(const alert& a) {
  return json{{"type", a.type},       {"severity", a.severity},
              {"twin", a.twin},       {"time", format_time(a.time)},
              {"cause", a.cause},     {"source", a.source},
              {"detail", a.detail}};
}

json merge_patch(json target, const json& patch) {
  if (!patch.is_object())
    return patch;
  if (!target.is_object())
    target = json::object();
  for (auto& [key, value] : patch.items()) {
    if (value.is_null())
      target.erase(key);
    else
      target[key] = merge_patch(target.contains(key) ? target[key] : json{},
                                value);
  }
  return target;
}

// -- decide -------------------------------------------------------------------

namespace {

lineage make_lineage(const twin_state& s, const command& cmd,
                     std::string kind, std::string source_id,
                     millis source_time, std::string pipeline) {
  lineage l;
  l.source_kind = std::move(kind);
  l.source_id = std::move(source_id);
  l.principal = cmd.principal;
  l.source_time = source_time;
  l.ingest_time = cmd.now;
  l.pipeline_version = std::move(pipeline);
  l.model = s.model.str();
  l.request_id = cmd.request_id;
  return l;
}

/// The next event of a twin: its type, revision and ingest time.
event next_event(const twin_state& s, const command& cmd, event_type type) {
  event e;
  e.type = type;
  e.revision = s.revision + 1;
  e.time = cmd.now;
  return e;
}

decision reject(error e) {
  decision d;
  d.rejection = std::move(e);
  return d;
}

/// A bus record at or below the twin's last applied offset was applied
/// already (the consumer re-read its partition): nothing to decide.
bool redelivered(const twin_state& s, const std::optional<std::int64_t>& offset) {
  return offset && *offset <= s.last_bus_offset;
}

/// The model reports value paths as "/properties/NAME..." or
/// "/telemetry/NAME..."; rebase them onto where NAME sits in the request
/// body (`at`, e.g. "/NAME" in a merge patch, "/values/NAME" in telemetry).
error rebase_path(error e, const std::string& name, const std::string& at) {
  for (const char* root : {"/properties/", "/telemetry/"}) {
    auto prefix = root + name;
    if (e.path.compare(0, prefix.size(), prefix) == 0
        && (e.path.size() == prefix.size() || e.path[prefix.size()] == '/')) {
      e.path = at + e.path.substr(prefix.size());
      return e;
    }
  }
  if (e.path.empty())
    e.path = at;
  return e;
}

constexpr const char* rest_pipeline = "rest/1";

decision decide_create(const twin_state& s, const command& cmd,
                       const create_twin& c, const model_context& models) {
  if (s.exists)
    return reject(make_error(errc::already_exists,
                             "twin '" + s.id + "' exists already"));
  if (!is_valid_twin_id(s.id))
    return reject(make_error(errc::bad_request,
                             "invalid twin id '" + s.id
                               + "': 1..128 of [A-Za-z0-9._:-]",
                             "twin-id", "/$id"));
  if (models.itf == nullptr)
    return reject(make_error(errc::model_violation,
                             "model '" + c.model + "' is not registered",
                             "unknown-model", "/$model"));
  if (!c.properties.is_object())
    return reject(make_error(errc::bad_request, "properties must be an object",
                             "body-shape", "/properties"));
  for (auto& [name, value] : c.properties.items()) {
    // At creation the operator configures the twin: any property of the
    // model may be set (also non-writable ones such as a serial number).
    auto st = model::check_property_write(*models.itf, models.known, name,
                                          value, model::writer::device);
    if (!st)
      return reject(rebase_path(st.error(), name, "/properties/" + name));
  }
  auto e = next_event(s, cmd, event_type::twin_created);
  e.model = c.model;
  e.properties = c.properties;
  twin_state tmp = s;
  tmp.model = name_ref{c.model};
  e.source = make_lineage(tmp, cmd, "principal", cmd.principal, cmd.now,
                          rest_pipeline);
  decision d;
  d.events.push_back(std::move(e));
  return d;
}

decision decide_patch(const twin_state& s, const command& cmd,
                      const patch_properties& p, const model_context& models) {
  if (p.if_match && *p.if_match != s.revision)
    return reject(make_error(errc::revision_mismatch,
                             "If-Match revision " + std::to_string(*p.if_match)
                               + " is not the current revision "
                               + std::to_string(s.revision)));
  if (s.life != lifecycle::active && s.life != lifecycle::provisioned)
    return reject(make_error(errc::lifecycle_forbidden,
                             "twin '" + s.id + "' is "
                               + std::string{to_string(s.life)}
                               + ": properties can be written only when "
                                 "provisioned or active"));
  if (!p.merge_patch.is_object())
    return reject(make_error(errc::bad_request,
                             "a merge patch of properties must be a JSON object",
                             "body-shape", ""));
  if (models.itf == nullptr)
    return reject(make_error(errc::internal,
                             "model '" + s.model.str() + "' of twin '" + s.id
                               + "' is not loaded"));
  json changes = json::object();
  for (auto& [name, patch_value] : p.merge_patch.items()) {
    if (patch_value.is_null()) {
      if (models.itf->find(name) == nullptr)
        return reject(make_error(errc::model_violation,
                                 "model '" + s.model.str() + "' has no property '"
                                   + name + "'",
                                 "unknown-name", "/" + name));
      changes[name] = nullptr;
      continue;
    }
    const auto* current = s.property(name);
    json merged = merge_patch(current ? current->value : json{}, patch_value);
    auto st = model::check_property_write(*models.itf, models.known, name,
                                          merged, model::writer::human);
    if (!st)
      return reject(rebase_path(st.error(), name, "/" + name));
    changes[name] = std::move(merged);
  }
  decision d;
  if (changes.empty())
    return d;
  auto e = next_event(s, cmd, event_type::property_updated);
  e.properties = std::move(changes);
  e.source = make_lineage(s, cmd, "principal", cmd.principal, cmd.now,
                          rest_pipeline);
  d.events.push_back(std::move(e));
  return d;
}

/// `In` is `const ingest_values` (decide on a const command: values are
/// copied into the event) or `ingest_values` (a command the caller gives
/// up: its values and origin move into the event, nothing is copied).
template <class In>
decision decide_ingest(const twin_state& s, const command& cmd, In& in,
                       const model_context& models) {
  constexpr bool consume = !std::is_const_v<In>;
  // A command given up moves its strings into the event (each copy was an
  // allocation per device message).
  auto take = [](auto& str) -> std::string {
    if constexpr (consume)
      return std::move(str);
    else
      return str;
  };
  std::string source = in.source.empty() ? cmd.principal : take(in.source);
  // Before every other check, so a redelivered record never raises a
  // second alert nor a second rejection.
  if (redelivered(s, in.bus_offset))
    return decision{};
  if (!in.values.is_object() || in.values.empty())
    return reject(make_error(errc::bad_request,
                             "telemetry needs a non-empty object 'values'",
                             "body-shape", "/values"));
  if (s.life != lifecycle::active) {
    decision d = reject(make_error(
      errc::lifecycle_forbidden,
      "twin '" + s.id + "' is " + std::string{to_string(s.life)}
        + ": device data is applied only to active twins; an alert was "
          "raised"));
    alert a;
    a.type = "twin.alert.unexpected_data";
    a.severity = s.life == lifecycle::retired ? "critical" : "warning";
    a.twin = s.id;
    a.time = cmd.now;
    a.source = source;
    a.cause = "data from '" + source + "' for a twin that is "
              + std::string{to_string(s.life)}
              + " (reused sensor, reassigned topic or replay?)";
    a.detail = json{{"lifecycle", to_string(s.life)},
                    {"values", in.values},
                    {"principal", cmd.principal},
                    {"requestId", cmd.request_id}};
    if (in.sequence)
      a.detail["sequence"] = *in.sequence;
    d.raised = std::move(a);
    return d;
  }
  if (in.sequence) {
    for (auto& [src, last] : s.last_sequence.get())
      if (src == source && *in.sequence <= last)
        return decision{}; // a redelivery: already applied, nothing to do
  }
  if (models.itf == nullptr)
    return reject(make_error(errc::internal,
                             "model '" + s.model.str() + "' of twin '" + s.id
                               + "' is not loaded"));
  auto e = next_event(s, cmd, event_type::telemetry_received);
  // Every value is checked before any is moved: a rejected command keeps
  // its values (the caller may still report them). Properties and
  // telemetry go to their own objects; the check says which a name is.
  std::size_t properties = 0;
  for (auto& [name, value] : in.values.items()) {
    const model::content* c = nullptr;
    auto st = model::check_telemetry(*models.itf, models.known, name, value, &c);
    if (!st)
      return reject(rebase_path(st.error(), name, "/values/" + name));
    properties += c != nullptr && c->kind == model::content_kind::property ? 1 : 0;
  }
  // A device feed usually sends one kind only: then the whole object moves
  // (or is copied) at once, without an insertion per value.
  auto is_property = [&](const std::string& name) {
    const auto* c = models.itf->find(name);
    return c != nullptr && c->kind == model::content_kind::property;
  };
  if (properties == 0 || properties == in.values.size()) {
    auto& into = properties == 0 ? e.telemetry : e.properties;
    if constexpr (consume)
      into = std::move(in.values);
    else
      into = in.values;
  } else {
    for (auto it = in.values.begin(); it != in.values.end(); ++it) {
      auto& into = is_property(it.key()) ? e.properties : e.telemetry;
      if constexpr (consume)
        into[it.key()] = std::move(it.value());
      else
        into[it.key()] = it.value();
    }
  }
  e.source = make_lineage(s, cmd, in.source_kind.empty() ? "sensor" : in.source_kind,
                          std::move(source), in.source_time.value_or(cmd.now),
                          in.pipeline_version.empty() ? std::string{rest_pipeline}
                                                      : take(in.pipeline_version));
  e.source.sequence = in.sequence;
  e.source.bus_offset = in.bus_offset;
  if constexpr (consume) {
    e.source.origin = std::move(in.origin);
    e.source.origin_base = std::move(in.origin_base);
  } else {
    e.source.origin = in.origin;
    e.source.origin_base = in.origin_base;
  }
  decision d;
  d.events.push_back(std::move(e));
  return d;
}

bool valid_behaviour_name(const std::string& n) {
  if (n.empty() || n.size() > 64)
    return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-' || c == '_' || c == '.';
  });
}

decision decide_attach(const twin_state& s, const command& cmd,
                       const attach_behaviour& a) {
  if (!valid_behaviour_name(a.name))
    return reject(make_error(errc::bad_request,
                             "behaviour name must be 1..64 of [A-Za-z0-9._-]",
                             "behaviour-name", "/name"));
  if (!a.spec.is_object())
    return reject(make_error(errc::bad_request, "a behaviour spec is a JSON object",
                             "body-shape", ""));
  auto kind = a.spec.find("kind");
  if (kind == a.spec.end() || !kind->is_string()
      || (*kind != "fmu" && *kind != "anomaly" && *kind != "forecast"))
    return reject(make_error(errc::bad_request,
                             "spec 'kind' must be \"fmu\", \"anomaly\" or \"forecast\"",
                             "behaviour-kind", "/kind"));
  auto model = a.spec.find("model");
  if (model == a.spec.end() || !model->is_string())
    return reject(make_error(errc::bad_request,
                             "spec 'model' must name the twin model DTMI the "
                             "binding was written for",
                             "binding-model", "/model"));
  if (model->get<std::string>() != s.model.str())
    return reject(make_error(errc::binding_model_mismatch,
                             "behaviour '" + a.name + "' was written for "
                               + model->get<std::string>() + " but twin '" + s.id
                               + "' is a " + s.model.str(),
                             "binding-model", "/model"));
  if (s.life == lifecycle::retired)
    return reject(make_error(errc::lifecycle_forbidden,
                             "twin '" + s.id + "' is retired: no behaviours"));
  auto e = next_event(s, cmd, event_type::behaviour_attached);
  e.behaviour = a.name;
  e.spec = a.spec;
  e.source = make_lineage(s, cmd, "principal", cmd.principal, cmd.now, rest_pipeline);
  decision d;
  d.events.push_back(std::move(e));
  return d;
}

decision decide_detach(const twin_state& s, const command& cmd,
                       const detach_behaviour& a) {
  if (!s.behaviours.is_object() || !s.behaviours.contains(a.name))
    return reject(make_error(errc::not_found, "twin '" + s.id
                                                + "' has no behaviour '" + a.name + "'"));
  auto e = next_event(s, cmd, event_type::behaviour_detached);
  e.behaviour = a.name;
  e.source = make_lineage(s, cmd, "principal", cmd.principal, cmd.now, rest_pipeline);
  decision d;
  d.events.push_back(std::move(e));
  return d;
}

decision decide_connectivity(const twin_state& s, const command& cmd,
                             const set_connectivity& c) {
  if (redelivered(s, c.bus_offset))
    return decision{};
  auto to = c.online ? connectivity::online : connectivity::offline;
  if (s.link == to)
    return decision{}; // already so: nothing to record
  auto e = next_event(s, cmd, event_type::connectivity_changed);
  e.link = to;
  e.reason = c.reason;
  e.source = make_lineage(s, cmd, "sensor",
                          c.source.empty() ? cmd.principal : c.source,
                          c.source_time.value_or(cmd.now),
                          c.pipeline_version.empty() ? rest_pipeline
                                                     : c.pipeline_version);
  e.source.bus_offset = c.bus_offset;
  e.source.origin = c.origin;
  decision d;
  d.events.push_back(std::move(e));
  return d;
}

decision decide_transition(const twin_state& s, const command& cmd,
                           const transition& t) {
  if (t.reason.empty())
    return reject(make_error(errc::bad_request,
                             "a lifecycle transition needs a reason",
                             "reason-required", "/reason"));
  if (!transition_allowed(s.life, t.to))
    return reject(make_error(errc::illegal_transition,
                             "twin '" + s.id + "' cannot go from "
                               + std::string{to_string(s.life)} + " to "
                               + std::string{to_string(t.to)},
                             "lifecycle-table", "/to"));
  auto e = next_event(s, cmd, event_type::lifecycle_changed);
  e.from = s.life;
  e.to = t.to;
  e.reason = t.reason;
  e.source = make_lineage(s, cmd, "principal", cmd.principal, cmd.now,
                          rest_pipeline);
  decision d;
  d.events.push_back(std::move(e));
  return d;
}

} // namespace

decision decide(const twin_state& state, const command& cmd,
                const model_context& models) {
  if (auto c = std::get_if<create_twin>(&cmd.body))
    return decide_create(state, cmd, *c, models);
  if (!state.exists)
    return reject(make_error(errc::not_found,
                             "twin '" + state.id + "' does not exist"));
  if (auto p = std::get_if<patch_properties>(&cmd.body))
    return decide_patch(state, cmd, *p, models);
  if (auto i = std::get_if<ingest_values>(&cmd.body))
    return decide_ingest<const ingest_values>(state, cmd, *i, models);
  if (auto c = std::get_if<set_connectivity>(&cmd.body))
    return decide_connectivity(state, cmd, *c);
  if (auto a = std::get_if<attach_behaviour>(&cmd.body))
    return decide_attach(state, cmd, *a);
  if (auto a = std::get_if<detach_behaviour>(&cmd.body))
    return decide_detach(state, cmd, *a);
  return decide_transition(state, cmd, std::get<transition>(cmd.body));
}

decision decide(const twin_state& state, command&& cmd, const model_context& models) {
  // Device data is the hot path: its values move into the event.
  if (auto* i = std::get_if<ingest_values>(&cmd.body); i != nullptr && state.exists)
    return decide_ingest<ingest_values>(state, cmd, *i, models);
  return decide(state, static_cast<const command&>(cmd), models);
}

// -- evolve -------------------------------------------------------------------

namespace {

void apply_values(value_map& m, const json& values, const event& e) {
  for (auto& [name, value] : values.items()) {
    if (value.is_null())
      erase_entry(m, name);
    else
      set_entry(m, name, value_entry{value, e.source.source_time, e.revision});
  }
}

} // namespace

twin_state evolve(twin_state s, const event& e) {
  switch (e.type) {
    case event_type::twin_created:
      s.exists = true;
      s.model = name_ref{e.model};
      s.life = lifecycle::provisioned;
      s.created_at = e.time;
      apply_values(s.properties, e.properties, e);
      break;
    case event_type::property_updated:
      apply_values(s.properties, e.properties, e);
      break;
    case event_type::telemetry_received: {
      apply_values(s.properties, e.properties, e);
      apply_values(s.telemetry, e.telemetry, e);
      if (e.source.sequence) {
        auto& seqs = s.last_sequence.mut();
        auto it = std::find_if(seqs.begin(), seqs.end(), [&](auto& p) {
          return p.first == e.source.source_id;
        });
        if (it != seqs.end())
          it->second = *e.source.sequence;
        else
          seqs.emplace_back(e.source.source_id, *e.source.sequence);
      }
      break;
    }
    case event_type::lifecycle_changed:
      s.life = e.to;
      break;
    case event_type::connectivity_changed:
      s.link = e.link;
      s.link_since = e.source.source_time;
      break;
    case event_type::behaviour_attached:
      if (!s.behaviours.is_object())
        s.behaviours = json::object();
      s.behaviours[e.behaviour] = e.spec;
      break;
    case event_type::behaviour_detached:
      if (s.behaviours.is_object()) {
        s.behaviours.erase(e.behaviour);
        if (s.behaviours.empty())
          s.behaviours = nullptr;
      }
      break;
  }
  if (e.source.bus_offset)
    s.last_bus_offset = std::max(s.last_bus_offset, *e.source.bus_offset);
  s.revision = e.revision;
  s.updated_at = e.time;
  return s;
}

} // namespace twin::actors::core
