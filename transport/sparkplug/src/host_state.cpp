#include "twin/sparkplug/host_state.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace twin::sparkplug {
namespace {

using counter_ptr = std::uint64_t host_stats::*;

constexpr std::array<std::pair<std::string_view, counter_ptr>, 18> counter_table{{
    {"messages", &host_stats::messages},
    {"metrics_applied", &host_stats::metrics_applied},
    {"rebirths_requested", &host_stats::rebirths_requested},
    {"rebirths_suppressed", &host_stats::rebirths_suppressed},
    {"bad_topic", &host_stats::bad_topic},
    {"bad_payload", &host_stats::bad_payload},
    {"bad_birth", &host_stats::bad_birth},
    {"missing_bdseq", &host_stats::missing_bdseq},
    {"missing_seq", &host_stats::missing_seq},
    {"seq_gap", &host_stats::seq_gap},
    {"before_birth", &host_stats::before_birth},
    {"unknown_alias", &host_stats::unknown_alias},
    {"unknown_metric", &host_stats::unknown_metric},
    {"type_mismatch", &host_stats::type_mismatch},
    {"stale_death", &host_stats::stale_death},
    {"unknown_node", &host_stats::unknown_node},
    {"unknown_device", &host_stats::unknown_device},
    {"not_for_host", &host_stats::not_for_host},
}};

constexpr std::string_view rebirth_metric = "Node Control/Rebirth";
constexpr std::string_view bdseq_metric = "bdSeq";

/// A metric a BIRTH declared: its name (a by_name key, whose storage
/// survives rehashes and moves of the map) and datatype.
struct metric_def {
  std::string_view name;
  data_type type = data_type::unknown;
};

/// What a BIRTH declared: metric names, aliases and datatypes.
struct birth_defs {
  std::unordered_map<std::string, data_type> by_name;
  // (alias, its metric) sorted by alias: edges send DATA by alias, and each
  // metric resolves with one binary search in contiguous memory (with a
  // device's state mostly out of cache, chasing hash nodes cost more).
  std::vector<std::pair<std::uint64_t, metric_def>> by_alias;

  const metric_def* find_alias(std::uint64_t alias) const noexcept {
    const auto it = std::lower_bound(
        by_alias.begin(), by_alias.end(), alias,
        [](const std::pair<std::uint64_t, metric_def>& e, std::uint64_t a) { return e.first < a; });
    return it != by_alias.end() && it->first == alias ? &it->second : nullptr;
  }
};

struct device_state {
  bool online = false;
  bool born = false;
  birth_defs defs;
};

struct node_state {
  bool online = false;
  bool born = false;
  bool has_bd_seq = false;
  std::uint64_t bd_seq = 0;
  std::uint8_t seq = 0;
  std::optional<std::uint64_t> last_rebirth_ms;
  birth_defs defs;
  std::map<std::string, device_state, std::less<>> devices;
};

/// (group, edge node) of a node_state. Every message looks its node up with
/// a node_key_view of its topic: a string is built only for a new node.
struct node_key {
  std::string group;
  std::string edge_node;
};
struct node_key_view {
  std::string_view group;
  std::string_view edge_node;
  node_key_view(std::string_view g, std::string_view e) noexcept : group(g), edge_node(e) {}
  node_key_view(const node_key& k) noexcept : group(k.group), edge_node(k.edge_node) {}
};
struct node_key_hash {
  using is_transparent = void;
  std::size_t operator()(node_key_view k) const noexcept {
    const std::hash<std::string_view> h;
    const std::size_t seed = h(k.group);
    return seed ^ (h(k.edge_node) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
  }
};
struct node_key_eq {
  using is_transparent = void;
  bool operator()(node_key_view x, node_key_view y) const noexcept {
    return x.group == y.group && x.edge_node == y.edge_node;
  }
};
using node_map = std::unordered_map<node_key, node_state, node_key_hash, node_key_eq>;

/// The names of a message's source as host_state owns them (node key,
/// device key), for its apply_actions.
struct source_names {
  name_view group;
  name_view edge_node;
  name_view device;
};

/// The bdSeq metric of an NBIRTH/NDEATH as an unsigned number.
std::optional<std::uint64_t> find_bd_seq(const payload& p) {
  for (const auto& m : p.metrics) {
    if (!m.name || *m.name != bdseq_metric)
      continue;
    if (const auto* u = std::get_if<std::uint64_t>(&m.value))
      return *u;
    if (const auto* i = std::get_if<std::int64_t>(&m.value); i && *i >= 0)
      return static_cast<std::uint64_t>(*i);
  }
  return std::nullopt;
}

/// Checks BIRTH metrics (name and datatype on each, unique names and
/// aliases) and builds the definitions; an error message otherwise.
std::optional<std::string> build_defs(const payload& p, birth_defs& defs) {
  std::unordered_set<std::uint64_t> aliases;
  for (std::size_t i = 0; i < p.metrics.size(); ++i) {
    const metric& m = p.metrics[i];
    auto label = [i] { return "BIRTH metric #" + std::to_string(i); };
    if (!m.name || m.name->empty())
      return label() + " has no name";
    if (m.datatype == data_type::unknown)
      return label() + " '" + *m.name + "' has no datatype";
    const auto [def, fresh] = defs.by_name.emplace(*m.name, m.datatype);
    if (!fresh)
      return label() + " '" + *m.name + "' is declared twice";
    if (m.alias) {
      if (!aliases.insert(*m.alias).second)
        return label() + " '" + *m.name + "' reuses alias " + std::to_string(*m.alias);
      defs.by_alias.push_back({*m.alias, metric_def{def->first, def->second}});
    }
  }
  std::sort(defs.by_alias.begin(), defs.by_alias.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  return std::nullopt;
}

} // namespace

std::vector<std::pair<std::string_view, std::uint64_t>> host_stats::counters() const {
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  for (const auto& [name, ptr] : counter_table)
    out.emplace_back(name, this->*ptr);
  return out;
}

std::uint64_t host_stats::get(std::string_view name) const {
  for (const auto& [n, ptr] : counter_table)
    if (n == name)
      return this->*ptr;
  return 0;
}

outgoing_message make_rebirth_command(std::string_view group, std::string_view edge_node,
                                      std::uint64_t now_ms) {
  topic t;
  t.type = message_type::ncmd;
  t.group = group;
  t.edge_node = edge_node;

  payload p;
  p.timestamp = now_ms;
  metric m;
  m.name = std::string{rebirth_metric};
  m.timestamp = now_ms;
  m.datatype = data_type::boolean;
  m.value = true;
  p.metrics.push_back(std::move(m));
  auto encoded = encode_payload(p);
  assert(encoded);  // a fixed, valid payload
  return outgoing_message{to_mqtt_topic(t), encoded ? std::move(*encoded) : bytes{}};
}

struct host_state::impl {
  host_options options;
  host_stats stats;
  node_map nodes;

  // The current message.
  struct context {
    const topic_view& t;
    std::uint64_t now;
    std::vector<action>& out;
  };

  /// The message's edge node, created if new (so that rebirth requests for
  /// data before any birth are rate-limited too).
  node_map::value_type& node_of(const context& c) {
    auto it = nodes.find(node_key_view{c.t.group, c.t.edge_node});
    if (it == nodes.end())
      it = nodes.emplace(node_key{std::string{c.t.group}, std::string{c.t.edge_node}},
                         node_state{})
             .first;
    return *it;
  }

  void drop(context& c, std::string_view reason, std::string detail) {
    for (const auto& [name, ptr] : counter_table)
      if (name == reason)
        ++(stats.*ptr);
    c.out.push_back(dropped_action{std::string{c.t.group}, std::string{c.t.edge_node},
                                   std::string{c.t.device}, std::string{reason},
                                   std::move(detail)});
  }

  void request_rebirth(context& c, node_state& node, std::string_view reason) {
    if (node.last_rebirth_ms && c.now >= *node.last_rebirth_ms &&
        c.now - *node.last_rebirth_ms < options.rebirth_interval_ms) {
      ++stats.rebirths_suppressed;
      return;
    }
    node.last_rebirth_ms = c.now;
    ++stats.rebirths_requested;
    c.out.push_back(
        rebirth_action{std::string{c.t.group}, std::string{c.t.edge_node}, std::string{reason}});
  }

  void drop_and_rebirth(context& c, node_state& node, std::string_view reason,
                        std::string detail) {
    drop(c, reason, std::move(detail));
    request_rebirth(c, node, reason);
  }

  /// Emits an apply_action; the caller counts it in metrics_applied once
  /// the whole message is known to apply.
  void apply(context& c, const source_names& src, const node_state& node, const payload& p,
             metric_def def, const metric& m, metric_value value) {
    apply_action a;
    a.group = src.group;
    a.edge_node = src.edge_node;
    a.device = src.device;
    a.metric = def.name;
    a.datatype = def.type;
    a.value = std::move(value);
    a.timestamp = m.timestamp ? *m.timestamp : p.timestamp ? *p.timestamp : c.now;
    a.seq = node.seq;
    a.bd_seq = node.bd_seq;
    a.is_historical = m.is_historical;
    a.is_transient = m.is_transient;
    c.out.emplace_back(std::move(a));
  }

  /// Applies a valid BIRTH's metrics, named as in `defs` (built from it) so
  /// that the actions outlive the payload.
  void apply_birth(context& c, const source_names& src, const node_state& node,
                   const birth_defs& defs, const payload& p) {
    c.out.reserve(c.out.size() + p.metrics.size());
    for (const auto& m : p.metrics) {
      const auto def = defs.by_name.find(*m.name);
      apply(c, src, node, p, {def->first, def->second}, m, m.value);
    }
    stats.metrics_applied += p.metrics.size();
  }

  void go_offline(context& c, node_state& node, const std::string& device_name,
                  device_state& dev) {
    if (dev.online)
      c.out.push_back(offline_action{std::string{c.t.group}, std::string{c.t.edge_node},
                                     device_name, node.bd_seq});
    dev.online = false;
    dev.born = false;
  }

  void on_nbirth(context& c, const payload& p) {
    auto& [key, node] = node_of(c);
    // Whatever happens next, the previous birth no longer describes the edge:
    // until a valid NBIRTH, its DATA is dropped as before_birth (and a rebirth
    // is asked for).
    node.born = false;
    if (!p.seq || *p.seq > 255)
      return drop(c, "missing_seq", "NBIRTH without a seq in 0..255");
    const auto bd = find_bd_seq(p);
    if (!bd)
      return drop(c, "missing_bdseq", "NBIRTH without an unsigned bdSeq metric");
    birth_defs defs;
    if (auto why = build_defs(p, defs))
      return drop_and_rebirth(c, node, "bad_birth", *why);

    // A new session: births of the previous one no longer hold.
    for (auto& [name, dev] : node.devices)
      go_offline(c, node, name, dev);
    node.defs = std::move(defs);
    node.online = node.born = node.has_bd_seq = true;
    node.bd_seq = *bd;
    node.seq = static_cast<std::uint8_t>(*p.seq);
    node.last_rebirth_ms.reset();
    c.out.push_back(online_action{key.group, key.edge_node, {}, node.bd_seq});
    apply_birth(c, {key.group, key.edge_node, {}}, node, node.defs, p);
  }

  void on_ndeath(context& c, const payload& p) {
    const auto it = nodes.find(node_key_view{c.t.group, c.t.edge_node});
    if (it == nodes.end())
      return drop(c, "unknown_node", "NDEATH of an edge node never born");
    node_state& node = it->second;
    const auto bd = find_bd_seq(p);
    if (!bd)
      return drop(c, "missing_bdseq", "NDEATH without an unsigned bdSeq metric");
    if (!node.online || !node.has_bd_seq || *bd != node.bd_seq)
      return drop(c, "stale_death",
                  "NDEATH bdSeq " + std::to_string(*bd) +
                      (node.online && node.has_bd_seq
                           ? " is not the current bdSeq " + std::to_string(node.bd_seq)
                           : std::string{" for an edge node that is not online"}));
    node.online = node.born = false;
    c.out.push_back(offline_action{it->first.group, it->first.edge_node, {}, node.bd_seq});
    for (auto& [name, dev] : node.devices)
      go_offline(c, node, name, dev);
  }

  /// Applies DATA metrics resolved against `defs` (name, datatype, value),
  /// all or none: at the first metric that does not resolve the whole
  /// message is dropped (and a rebirth asked for).
  void apply_data(context& c, const source_names& src, node_state& node, const birth_defs& defs,
                  const payload& p) {
    const std::size_t first = c.out.size();
    c.out.reserve(first + p.metrics.size());
    auto reject = [&](std::string_view reason, std::string detail) {
      c.out.erase(c.out.begin() + static_cast<std::ptrdiff_t>(first), c.out.end());
      drop_and_rebirth(c, node, reason, std::move(detail));
    };
    for (std::size_t i = 0; i < p.metrics.size(); ++i) {
      const metric& m = p.metrics[i];
      metric_def def;
      if (m.alias) {
        const auto* a = defs.find_alias(*m.alias);
        if (!a)
          return reject("unknown_alias", "metric #" + std::to_string(i) + ": alias " +
                                             std::to_string(*m.alias) + " is not in the BIRTH");
        def = *a;
      } else if (m.name) {
        const auto d = defs.by_name.find(*m.name);
        if (d == defs.by_name.end())
          return reject("unknown_metric", "metric '" + *m.name + "' is not in the BIRTH");
        def = {d->first, d->second};
      } else {
        return reject("unknown_metric",
                      "metric #" + std::to_string(i) + " has neither name nor alias");
      }
      if (m.datatype != data_type::unknown && m.datatype != def.type)
        return reject("type_mismatch", "metric '" + std::string{def.name} + "' is " +
                                           to_string(m.datatype) + " but was born " +
                                           to_string(def.type));
      auto v = coerce(m.value, def.type);
      if (!v)
        return reject("type_mismatch",
                      "metric '" + std::string{def.name} + "': " + v.error().message);
      apply(c, src, node, p, def, m, std::move(*v));
    }
    stats.metrics_applied += p.metrics.size();
  }

  void on_sequenced(context& c, const payload& p) {
    auto& [key, node] = node_of(c);
    if (!node.born)
      return drop_and_rebirth(c, node, "before_birth",
                              std::string{to_string(c.t.type)} + " before the NBIRTH");
    if (!p.seq || *p.seq > 255)
      return drop_and_rebirth(c, node, "missing_seq",
                              std::string{to_string(c.t.type)} + " without a seq in 0..255");
    const auto expected_seq = static_cast<std::uint8_t>(node.seq + 1);
    const auto got = static_cast<std::uint8_t>(*p.seq);
    node.seq = got;  // resynchronise: later messages are checked against this one
    if (got != expected_seq)
      return drop_and_rebirth(c, node, "seq_gap",
                              "seq " + std::to_string(got) + ", expected " +
                                  std::to_string(expected_seq));

    switch (c.t.type) {
    case message_type::ndata:
      return apply_data(c, {key.group, key.edge_node, {}}, node, node.defs, p);
    case message_type::dbirth: {
      birth_defs defs;
      if (auto why = build_defs(p, defs))
        return drop_and_rebirth(c, node, "bad_birth", *why);
      auto& [name, dev] = *node.devices.try_emplace(std::string{c.t.device}).first;
      dev.defs = std::move(defs);
      dev.born = dev.online = true;
      c.out.push_back(online_action{key.group, key.edge_node, name, node.bd_seq});
      apply_birth(c, {key.group, key.edge_node, name}, node, dev.defs, p);
      return;
    }
    case message_type::ddata: {
      const auto d = node.devices.find(c.t.device);
      if (d == node.devices.end() || !d->second.born)
        return drop_and_rebirth(c, node, "before_birth", "DDATA before the DBIRTH");
      return apply_data(c, {key.group, key.edge_node, d->first}, node, d->second.defs, p);
    }
    case message_type::ddeath: {
      const auto d = node.devices.find(c.t.device);
      if (d == node.devices.end() || !d->second.born)
        return drop(c, "unknown_device", "DDEATH of a device that is not born");
      go_offline(c, node, d->first, d->second);
      return;
    }
    default:
      return;
    }
  }
};

host_state::host_state(host_options options) : impl_(std::make_unique<impl>()) {
  impl_->options = std::move(options);
}
host_state::~host_state() = default;
host_state::host_state(host_state&&) noexcept = default;
host_state& host_state::operator=(host_state&&) noexcept = default;

const host_stats& host_state::stats() const noexcept { return impl_->stats; }

std::vector<action> host_state::handle(std::string_view mqtt_topic,
                                       std::span<const std::uint8_t> bytes_in,
                                       std::uint64_t now_ms) {
  std::vector<action> out;
  ++impl_->stats.messages;

  auto t = parse_topic_view(mqtt_topic);
  if (!t) {
    topic_view none;
    impl::context c{none, now_ms, out};
    impl_->drop(c, "bad_topic", t.error().message);
    return out;
  }
  impl::context c{*t, now_ms, out};
  switch (t->type) {
  case message_type::ncmd:
  case message_type::dcmd:
  case message_type::state:
    impl_->drop(c, "not_for_host", std::string{to_string(t->type)} + " is not ingested");
    return out;
  default:
    break;
  }

  auto p = decode_payload(bytes_in, impl_->options.decode);
  if (!p) {
    // The data is lost; if it mattered, the next seq shows the gap.
    impl_->drop(c, "bad_payload", p.error().message);
    return out;
  }
  switch (t->type) {
  case message_type::nbirth: impl_->on_nbirth(c, *p); break;
  case message_type::ndeath: impl_->on_ndeath(c, *p); break;
  default: impl_->on_sequenced(c, *p); break;
  }
  return out;
}

bool host_state::is_online(std::string_view group, std::string_view edge_node,
                           std::string_view device) const {
  const auto it = impl_->nodes.find(node_key_view{group, edge_node});
  if (it == impl_->nodes.end())
    return false;
  if (device.empty())
    return it->second.online;
  const auto d = it->second.devices.find(device);
  return d != it->second.devices.end() && d->second.online;
}

std::optional<std::uint64_t> host_state::bd_seq(std::string_view group,
                                                std::string_view edge_node) const {
  const auto it = impl_->nodes.find(node_key_view{group, edge_node});
  if (it == impl_->nodes.end() || !it->second.has_bd_seq)
    return std::nullopt;
  return it->second.bd_seq;
}

} // namespace twin::sparkplug
