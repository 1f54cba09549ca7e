// The journal encoding of an event, written straight from the struct.
//
// The journal stores CBOR of the event's JSON form (to_json(event)), and
// every reader decodes it with json::from_cbor. Building that JSON tree
// per event (a map per object, a node per value, then the CBOR pass and
// the tree's destruction) cost more than deciding the event; this writer
// emits the same bytes without the tree: nlohmann's CBOR writer's choices
// (shortest integer heads, float32 when exact, half-precision NaN and
// infinities, object keys in std::map order) are reproduced here, and
// tests/unit/actors/core_tests.cpp checks byte equality with
// json::to_cbor(to_json(e)) over every event type and value kind.

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "twin/actors/core.hpp"

namespace twin::actors::core {

namespace {

/// Appends to a std::string through a cursor: one capacity check per item
/// instead of one per byte (push_back per byte was a third of this file's
/// cost in a profile). The string is grown ahead of the cursor and cut to
/// the written size by finish() (or the destructor).
class writer {
public:
  explicit writer(std::string& out) : out_(out), n_(out.size()) {}
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  ~writer() {
    if (!finished_)
      finish();
  }

  /// Room for `need` more bytes at the cursor.
  char* room(std::size_t need) {
    if (n_ + need > out_.size())
      out_.resize(std::max({out_.capacity(), out_.size() * 2, n_ + need}));
    return out_.data() + n_;
  }
  void advance(std::size_t k) noexcept { n_ += k; }
  void byte(std::uint8_t b) {
    *room(1) = static_cast<char>(b);
    ++n_;
  }
  void bytes(const char* p, std::size_t k) {
    if (k != 0)
      std::memcpy(room(k), p, k);
    n_ += k;
  }
  /// Cuts the string to what was written; nothing may be written after.
  void finish() {
    out_.resize(n_);
    finished_ = true;
  }

private:
  std::string& out_;
  std::size_t n_;
  bool finished_ = false;
};

/// Writes the `bytes` low bytes of `v`, big-endian, at `p`.
inline void put_be(char* p, std::uint64_t v, int bytes) noexcept {
  for (int i = bytes - 1; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

void put_head(writer& w, std::uint8_t major, std::uint64_t n) {
  const auto m = static_cast<std::uint8_t>(major << 5);
  char* p = w.room(9);
  if (n <= 0x17) {
    p[0] = static_cast<char>(m | n);
    w.advance(1);
  } else if (n <= 0xff) {
    p[0] = static_cast<char>(m | 0x18);
    put_be(p + 1, n, 1);
    w.advance(2);
  } else if (n <= 0xffff) {
    p[0] = static_cast<char>(m | 0x19);
    put_be(p + 1, n, 2);
    w.advance(3);
  } else if (n <= 0xffffffffu) {
    p[0] = static_cast<char>(m | 0x1a);
    put_be(p + 1, n, 4);
    w.advance(5);
  } else {
    p[0] = static_cast<char>(m | 0x1b);
    put_be(p + 1, n, 8);
    w.advance(9);
  }
}

void put_text(writer& w, std::string_view s) {
  put_head(w, 3, s.size());
  w.bytes(s.data(), s.size());
}

void put_uint(writer& w, std::uint64_t v) { put_head(w, 0, v); }

void put_int(writer& w, std::int64_t v) {
  if (v >= 0)
    put_head(w, 0, static_cast<std::uint64_t>(v));
  else
    put_head(w, 1, static_cast<std::uint64_t>(-1 - v));
}

void put_float(writer& w, double d) {
  if (std::isnan(d)) {
    w.bytes("\xf9\x7e\x00", 3);
    return;
  }
  if (std::isinf(d)) {
    w.bytes(d > 0 ? "\xf9\x7c\x00" : "\xf9\xfc\x00", 3);
    return;
  }
  char* p = w.room(9);
  if (d >= static_cast<double>(std::numeric_limits<float>::lowest())
      && d <= static_cast<double>(std::numeric_limits<float>::max())
      && static_cast<double>(static_cast<float>(d)) == d) {
    p[0] = static_cast<char>(0xfa);
    put_be(p + 1, std::bit_cast<std::uint32_t>(static_cast<float>(d)), 4);
    w.advance(5);
    return;
  }
  p[0] = static_cast<char>(0xfb);
  put_be(p + 1, std::bit_cast<std::uint64_t>(d), 8);
  w.advance(9);
}

void put_json(writer& w, const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      w.byte(0xf6);
      return;
    case json::value_t::boolean:
      w.byte(j.get<bool>() ? 0xf5 : 0xf4);
      return;
    case json::value_t::number_integer:
      put_int(w, j.get<std::int64_t>());
      return;
    case json::value_t::number_unsigned:
      put_uint(w, j.get<std::uint64_t>());
      return;
    case json::value_t::number_float:
      put_float(w, j.get<double>());
      return;
    case json::value_t::string:
      put_text(w, j.get_ref<const std::string&>());
      return;
    case json::value_t::array:
      put_head(w, 4, j.size());
      for (const auto& el : j)
        put_json(w, el);
      return;
    case json::value_t::object:
      put_head(w, 5, j.size());
      for (const auto& [key, value] : j.get_ref<const json::object_t&>()) {
        put_text(w, key);
        put_json(w, value);
      }
      return;
    default: {
      // Binary values (never in events) and anything newer: nlohmann's own
      // writer.
      std::string tail;
      json::to_cbor(j, nlohmann::detail::output_adapter<char>(tail));
      w.bytes(tail.data(), tail.size());
      return;
    }
  }
}

} // namespace

void append_cbor(std::string& out, const json& j) {
  writer w{out};
  put_json(w, j);
}

namespace {

/// One member of a JSON object being written: its key and how to write its
/// value. Objects are written with their keys in std::map order, as
/// nlohmann's object_t keeps them.
struct member {
  std::string_view key;
  /// lineage: a lineage object; source: its {"id", "kind"} member.
  /// origin: the lineage's merged origin (origin_base with origin over it).
  enum class kind : std::uint8_t { text, uint, sint, value, lineage, source, origin } k;
  std::string_view text{};
  std::uint64_t u = 0;
  std::int64_t i = 0;
  const json* j = nullptr;
  const lineage* l = nullptr;
};

template <std::size_t N>
struct members {
  std::array<member, N> m;
  std::size_t n = 0;
  void text(std::string_view k, std::string_view v) {
    m[n++] = {k, member::kind::text, v};
  }
  void uint(std::string_view k, std::uint64_t v) {
    m[n++] = {k, member::kind::uint, {}, v};
  }
  void sint(std::string_view k, std::int64_t v) {
    m[n++] = {k, member::kind::sint, {}, 0, v};
  }
  void value(std::string_view k, const json& v) {
    m[n++] = {k, member::kind::value, {}, 0, 0, &v};
  }
  /// `t` formatted as `text` (the event's time): the lineage reuses it for
  /// an ingest or source time equal to it.
  void sub(std::string_view k, const lineage& l, std::int64_t t, std::string_view text) {
    m[n++] = {k, member::kind::lineage, text, 0, t, nullptr, &l};
  }
  void source(std::string_view k, const lineage& l) {
    m[n++] = {k, member::kind::source, {}, 0, 0, nullptr, &l};
  }
  void origin(std::string_view k, const lineage& l) {
    m[n++] = {k, member::kind::origin, {}, 0, 0, nullptr, &l};
  }
};

void put_lineage(writer& out, const lineage& l, std::int64_t t, std::string_view t_text);

/// merged_origin(l.origin, l.origin_base) without building it: both are
/// std::maps, so one merge pass in key order writes the members (the
/// event's own value on a clash).
void put_origin(writer& out, const lineage& l) {
  if (!merges(l.origin, l.origin_base)) {
    put_json(out, l.origin);
    return;
  }
  static const json::object_t none;
  const auto& base = l.origin_base->get_ref<const json::object_t&>();
  const auto& own = l.origin.is_object() ? l.origin.get_ref<const json::object_t&>() : none;
  // The count: every member of both, less the own ones that replace a base
  // one (a lookup each; an event's own part is a few members).
  std::size_t count = base.size() + own.size();
  for (const auto& [key, value] : own)
    count -= base.count(key);
  put_head(out, 5, count);
  auto b = base.begin();
  auto o = own.begin();
  while (b != base.end() || o != own.end()) {
    const bool from_base = o == own.end() || (b != base.end() && b->first < o->first);
    const auto& [key, value] = from_base ? *b : *o;
    if (!from_base && b != base.end() && b->first == o->first)
      ++b; // replaced by the event's own
    put_text(out, key);
    put_json(out, value);
    ++(from_base ? b : o);
  }
}

template <std::size_t N>
void put_members(writer& out, members<N>& ms) {
  // Insertion sort: at most ten members (std::sort's unreachable
  // large-range branch draws a -Warray-bounds false positive from GCC 12).
  for (std::size_t i = 1; i < ms.n; ++i)
    for (std::size_t j = i; j > 0 && ms.m[j].key < ms.m[j - 1].key; --j)
      std::swap(ms.m[j], ms.m[j - 1]);
  put_head(out, 5, ms.n);
  for (std::size_t x = 0; x < ms.n; ++x) {
    const auto& f = ms.m[x];
    put_text(out, f.key);
    switch (f.k) {
      case member::kind::text: put_text(out, f.text); break;
      case member::kind::uint: put_uint(out, f.u); break;
      case member::kind::sint: put_int(out, f.i); break;
      case member::kind::value: put_json(out, *f.j); break;
      case member::kind::lineage: put_lineage(out, *f.l, f.i, f.text); break;
      case member::kind::origin: put_origin(out, *f.l); break;
      case member::kind::source:
        put_head(out, 5, 2);
        put_text(out, "id");
        put_text(out, f.l->source_id);
        put_text(out, "kind");
        put_text(out, f.l->source_kind);
        break;
    }
  }
}

void put_lineage(writer& out, const lineage& l, std::int64_t t, std::string_view t_text) {
  std::string ingest_buf, source_buf;
  auto formatted = [&](std::int64_t x, std::string& buf) -> std::string_view {
    if (x == t)
      return t_text;
    buf = format_time(x);
    return buf;
  };
  const std::string_view ingest = formatted(l.ingest_time, ingest_buf);
  const std::string_view source = l.source_time == l.ingest_time
                                    ? ingest
                                    : formatted(l.source_time, source_buf);
  members<10> ms; // in key order (see encode_event)
  if (l.bus_offset)
    ms.sint("busOffset", *l.bus_offset);
  ms.text("ingestTime", ingest);
  ms.text("model", l.model);
  if (!l.origin.is_null() || l.origin_base)
    ms.origin("origin", l);
  ms.text("pipelineVersion", l.pipeline_version);
  ms.text("principal", l.principal);
  ms.text("requestId", l.request_id);
  if (l.sequence)
    ms.sint("sequence", *l.sequence);
  ms.source("source", l);
  ms.text("sourceTime", source);
  put_members(out, ms);
}

} // namespace

std::string encode_event(const event& e) {
  std::string bytes;
  bytes.reserve(1024); // a device event with its lineage is ~700 bytes
  writer out{bytes};
  const auto time = format_time(e.time);
  // Members are added in key order (std::map order, as nlohmann writes
  // them), so put_members' insertion sort mostly only confirms it: n - 1
  // compares ("to" of a lifecycle change is moved past "time" by it).
  members<7> ms;
  switch (e.type) {
    case event_type::twin_created:
      ms.value("changes", e.properties);
      ms.sub("lineage", e.source, e.time, time);
      ms.text("model", e.model);
      ms.uint("revision", e.revision);
      break;
    case event_type::property_updated:
      ms.value("changes", e.properties);
      ms.sub("lineage", e.source, e.time, time);
      ms.uint("revision", e.revision);
      break;
    case event_type::telemetry_received:
      ms.value("changes", e.properties);
      ms.sub("lineage", e.source, e.time, time);
      ms.uint("revision", e.revision);
      ms.value("telemetry", e.telemetry);
      break;
    case event_type::lifecycle_changed:
      ms.text("from", to_string(e.from));
      ms.sub("lineage", e.source, e.time, time);
      ms.text("reason", e.reason);
      ms.uint("revision", e.revision);
      ms.text("to", to_string(e.to));
      break;
    case event_type::connectivity_changed:
      ms.text("connectivity", to_string(e.link));
      ms.sub("lineage", e.source, e.time, time);
      ms.text("reason", e.reason);
      ms.uint("revision", e.revision);
      break;
    case event_type::behaviour_attached:
      ms.text("behaviour", e.behaviour);
      ms.sub("lineage", e.source, e.time, time);
      ms.uint("revision", e.revision);
      ms.value("spec", e.spec);
      break;
    case event_type::behaviour_detached:
      ms.text("behaviour", e.behaviour);
      ms.sub("lineage", e.source, e.time, time);
      ms.uint("revision", e.revision);
      break;
  }
  ms.text("time", time);
  ms.text("type", to_string(e.type));
  put_members(out, ms);
  out.finish();
  return bytes;
}

} // namespace twin::actors::core
