#include "twin/edge/sparkplug_edge.hpp"

#include <set>

#include "twin/sparkplug/topic.hpp"

namespace twin::edge {

namespace sp = twin::sparkplug;

namespace {

error bad(std::string message, std::string path = {}) {
  return make_error(errc::bad_request, std::move(message), "edge.sparkplug", std::move(path));
}

bool valid_id(std::string_view id) {
  return !id.empty() && id.find_first_of("/+#") == std::string_view::npos;
}

sp::metric double_metric(const std::string& name, std::uint64_t alias, double value,
                         std::uint64_t now_ms) {
  sp::metric m;
  m.name = name;
  m.alias = alias;
  m.timestamp = now_ms;
  m.datatype = sp::data_type::double_;
  m.value = value;
  return m;
}

expected<sp::outgoing_message> encode(std::string topic, const sp::payload& p) {
  auto bytes = sp::encode_payload(p);
  if (!bytes)
    return std::move(bytes).error();
  return sp::outgoing_message{std::move(topic), std::move(bytes).value()};
}

} // namespace

sparkplug_edge_node::sparkplug_edge_node(edge_node_config config) : config_(std::move(config)) {
  values_.reserve(config_.devices.size());
  for (const auto& d : config_.devices)
    values_.emplace_back(d.metrics.size(), 0.0);
}

expected<sparkplug_edge_node> sparkplug_edge_node::create(edge_node_config config) {
  if (!valid_id(config.group))
    return bad("group id must be non-empty without '/', '+', '#'", "/group");
  if (!valid_id(config.edge_node))
    return bad("edge node id must be non-empty without '/', '+', '#'", "/edge_node");
  std::set<std::string> ids;
  for (std::size_t d = 0; d < config.devices.size(); ++d) {
    const auto& dev = config.devices[d];
    const std::string path = "/devices/" + std::to_string(d);
    if (!valid_id(dev.id))
      return bad("device id must be non-empty without '/', '+', '#'", path + "/id");
    if (!ids.insert(dev.id).second)
      return bad("duplicate device id " + dev.id, path + "/id");
    std::set<std::string> names;
    for (std::size_t m = 0; m < dev.metrics.size(); ++m) {
      if (dev.metrics[m].empty() || !names.insert(dev.metrics[m]).second)
        return bad("metric names must be non-empty and unique per device",
                   path + "/metrics/" + std::to_string(m));
    }
  }
  std::set<std::string> info{std::string(bd_seq_metric), std::string(rebirth_metric)};
  for (std::size_t i = 0; i < config.node_info.size(); ++i)
    if (config.node_info[i].first.empty() || !info.insert(config.node_info[i].first).second)
      return bad("node info names must be non-empty, unique, not bdSeq or Rebirth",
                 "/node_info/" + std::to_string(i));
  return sparkplug_edge_node(std::move(config));
}

std::uint64_t sparkplug_edge_node::alias(std::size_t device, std::size_t metric) const noexcept {
  // Aliases 1.. in (device, metric) order; node metrics carry none.
  std::uint64_t a = 1;
  for (std::size_t d = 0; d < device && d < config_.devices.size(); ++d)
    a += config_.devices[d].metrics.size();
  return a + metric;
}

std::string sparkplug_edge_node::node_topic(sp::message_type type) const {
  return sp::to_mqtt_topic(sp::topic{type, config_.group, config_.edge_node, {}, {}});
}

std::string sparkplug_edge_node::device_topic(sp::message_type type, std::size_t device) const {
  return sp::to_mqtt_topic(
      sp::topic{type, config_.group, config_.edge_node, config_.devices.at(device).id, {}});
}

sp::outgoing_message sparkplug_edge_node::begin_session(std::uint64_t now_ms) {
  bd_seq_ = sessions_ == 0 ? 0 : (bd_seq_ + 1) % 256;
  ++sessions_;
  born_ = false;
  seq_ = 0;
  auto will = death(now_ms);
  return std::move(will).value(); // a session exists now, and UInt64 always encodes
}

expected<sp::outgoing_message> sparkplug_edge_node::death(std::uint64_t now_ms) const {
  if (sessions_ == 0)
    return make_error(errc::unavailable, "no MQTT session yet", "edge.session");
  sp::payload p;
  p.timestamp = now_ms;
  sp::metric m;
  m.name = std::string(bd_seq_metric);
  m.timestamp = now_ms;
  m.datatype = sp::data_type::uint64;
  m.value = bd_seq_;
  p.metrics.push_back(std::move(m));
  return encode(node_topic(sp::message_type::ndeath), p);
}

expected<std::vector<sp::outgoing_message>> sparkplug_edge_node::births(std::uint64_t now_ms) {
  if (sessions_ == 0)
    return make_error(errc::unavailable, "births before an MQTT session", "edge.session");
  std::vector<sp::outgoing_message> out;
  out.reserve(1 + config_.devices.size());

  seq_ = 0;
  sp::payload nb;
  nb.timestamp = now_ms;
  nb.seq = seq_++;
  {
    sp::metric m;
    m.name = std::string(bd_seq_metric);
    m.timestamp = now_ms;
    m.datatype = sp::data_type::uint64;
    m.value = bd_seq_;
    nb.metrics.push_back(std::move(m));
  }
  {
    sp::metric m;
    m.name = std::string(rebirth_metric);
    m.timestamp = now_ms;
    m.datatype = sp::data_type::boolean;
    m.value = false;
    nb.metrics.push_back(std::move(m));
  }
  for (const auto& [name, value] : config_.node_info) {
    sp::metric m;
    m.name = name;
    m.timestamp = now_ms;
    m.datatype = sp::data_type::string;
    m.value = value;
    nb.metrics.push_back(std::move(m));
  }
  auto nbirth = encode(node_topic(sp::message_type::nbirth), nb);
  if (!nbirth)
    return std::move(nbirth).error();
  out.push_back(std::move(nbirth).value());

  for (std::size_t d = 0; d < config_.devices.size(); ++d) {
    sp::payload db;
    db.timestamp = now_ms;
    db.seq = seq_++;
    const auto& metrics = config_.devices[d].metrics;
    for (std::size_t m = 0; m < metrics.size(); ++m)
      db.metrics.push_back(double_metric(metrics[m], alias(d, m), values_[d][m], now_ms));
    auto dbirth = encode(device_topic(sp::message_type::dbirth, d), db);
    if (!dbirth)
      return std::move(dbirth).error();
    out.push_back(std::move(dbirth).value());
  }
  born_ = true;
  return out;
}

status sparkplug_edge_node::set_values(std::size_t device, std::span<const double> values) {
  if (device >= config_.devices.size())
    return bad("no device " + std::to_string(device), "/device");
  if (values.size() != values_[device].size())
    return bad("device " + config_.devices[device].id + " has " +
                   std::to_string(values_[device].size()) + " metrics, got " +
                   std::to_string(values.size()) + " values",
               "/values");
  values_[device].assign(values.begin(), values.end());
  return ok();
}

expected<sp::outgoing_message> sparkplug_edge_node::data(std::size_t device,
                                                         std::span<const double> values,
                                                         std::uint64_t now_ms) {
  if (auto s = set_values(device, values); !s)
    return std::move(s).error();
  if (!born_)
    return make_error(errc::unavailable, "DDATA before the births of this session",
                      "edge.session");
  sp::payload p;
  p.timestamp = now_ms;
  p.seq = seq_++;
  p.metrics.reserve(values.size());
  for (std::size_t m = 0; m < values.size(); ++m) {
    sp::metric x;
    x.alias = alias(device, m);
    x.value = values[m];
    p.metrics.push_back(std::move(x));
  }
  return encode(device_topic(sp::message_type::ddata, device), p);
}

expected<std::vector<sp::outgoing_message>>
sparkplug_edge_node::handle_command(std::string_view mqtt_topic,
                                    std::span<const std::uint8_t> payload, std::uint64_t now_ms) {
  auto t = sp::parse_topic(mqtt_topic);
  if (!t)
    return std::move(t).error();
  if (t->type != sp::message_type::ncmd || t->group != config_.group ||
      t->edge_node != config_.edge_node)
    return bad("not this edge node's NCMD topic: " + std::string(mqtt_topic), "/topic");
  auto p = sp::decode_payload(payload);
  if (!p)
    return std::move(p).error();
  bool rebirth = false;
  for (const auto& m : p->metrics) {
    if (m.name && *m.name == rebirth_metric) {
      if (const bool* b = std::get_if<bool>(&m.value); b && *b)
        rebirth = true;
    }
  }
  if (!rebirth)
    return std::vector<sp::outgoing_message>{};
  return births(now_ms);
}

} // namespace twin::edge
