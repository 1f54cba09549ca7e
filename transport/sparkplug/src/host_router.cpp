#include "twin/sparkplug/host_router.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>

namespace twin::sparkplug {

namespace {

void append_path(std::string& s, std::string_view group, std::string_view edge,
                 std::string_view device) {
  s.append(group).append("/").append(edge);
  if (!device.empty())
    s.append("/").append(device);
}

std::string path_of(std::string_view group, std::string_view edge, std::string_view device) {
  std::string s;
  append_path(s, group, edge, device);
  return s;
}

/// a == b, inline for the short ids and metric names of a feed: 8 bytes at
/// a time, no call to memcmp (whose call was most of these compares' cost
/// in a profile; the equal case, the usual one, reads every byte anyway).
bool equal_bytes(std::string_view a, std::string_view b) noexcept {
  const auto n = a.size();
  if (n != b.size())
    return false;
  if (n > 64)
    return a == b;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y)
      return false;
  }
  for (; i < n; ++i)
    if (a[i] != b[i])
      return false;
  return true;
}

/// Whether two names of the same message are equal: those host_state
/// returns share their storage, so equal names are mostly the same view.
bool same_name(std::string_view x, std::string_view y) noexcept {
  return (x.data() == y.data() && x.size() == y.size()) || equal_bytes(x, y);
}

struct batch_builder {
  ingest_batch batch;
  std::uint64_t newest = 0;
  bool any_time = false;
};

/// The members of a batch's origin that its device shares with every other
/// batch of the same message type and kind (live or historical).
shared_origin make_origin_base(const apply_action& a, std::string_view message_type) {
  nlohmann::json base = nlohmann::json::object();
  auto& o = base.get_ref<nlohmann::json::object_t&>();
  auto put = [&o](const char* key, nlohmann::json value) {
    o.emplace_hint(o.end(), key, std::move(value));
  };
  put("device", std::string_view{a.device});
  put("edgeNode", std::string_view{a.edge_node});
  put("group", std::string_view{a.group});
  put("historical", a.is_historical);
  put("messageType", message_type);
  put("protocol", "sparkplugB");
  return std::make_shared<const nlohmann::json>(std::move(base));
}

ingest_batch start_batch(const apply_action& a, const std::string& twin,
                         const std::string& pipeline_version, shared_origin base) {
  ingest_batch b;
  b.twin = twin;
  b.source.reserve(namespace_b.size() + a.group.size() + a.edge_node.size() + a.device.size()
                   + 3);
  b.source.append(namespace_b).append("/");
  append_path(b.source, a.group, a.edge_node, a.device);
  b.pipeline_version = pipeline_version;
  b.historical = a.is_historical;
  // Only what changes from message to message is built per batch; the rest
  // is the device's shared base. Keys go at the end, in key order.
  auto& o = b.origin.get_ref<nlohmann::json::object_t&>();
  o.emplace_hint(o.end(), "bdSeq", a.bd_seq);
  o.emplace_hint(o.end(), "seq", a.seq);
  b.origin_base = std::move(base);
  return b;
}

void add_value(batch_builder& bb, const tag_mapping& m, const apply_action& a,
               nlohmann::json value) {
  bb.batch.values.get_ref<nlohmann::json::object_t&>().insert_or_assign(m.name,
                                                                        std::move(value));
  // Only renamed metrics are listed: a value named like its metric needs no
  // entry (this keeps every journal event of a feed small).
  if (m.name != a.metric)
    bb.batch.origin["metrics"][m.name] = std::string_view{a.metric};
  if (!bb.any_time || a.timestamp > bb.newest)
    bb.newest = a.timestamp;
  bb.any_time = true;
  bb.batch.source_time_ms = static_cast<std::int64_t>(bb.newest);
}

} // namespace

bool is_control_metric(std::string_view name) noexcept {
  return name == "bdSeq" || name.starts_with("Node Control/")
         || name.starts_with("Device Control/");
}

host_router::host_router(const tag_map& map)
  : map_(map), pipeline_version_("tagmap/" + map.version()) {
}

routed_message host_router::route(std::string_view mqtt_topic, std::vector<action> actions,
                                  std::int64_t now_ms) {
  routed_message out;
  std::string_view message_type = "?";
  if (auto t = parse_topic_view(mqtt_topic))
    message_type = to_string(t->type);

  // Connectivity: the last state per twin within this message, in order of
  // first appearance.
  std::vector<std::pair<std::string, connectivity_change>> conn;
  auto set_conn = [&](const std::string& twin, bool online, const std::string& reason) {
    for (auto& [t, c] : conn)
      if (t == twin) {
        c.online = online;
        c.reason = reason;
        return;
      }
    conn.emplace_back(twin, connectivity_change{twin, online, reason, now_ms});
  };

  std::vector<batch_builder> live;
  // (timestamp, twin) → historical batch; std::map keeps timestamp order.
  std::map<std::pair<std::uint64_t, std::string>, batch_builder> history;

  // The metrics of one message mostly share their device: resolve it once.
  const apply_action* last_device = nullptr;
  const tag_map::device_metrics* device = nullptr;
  device_cache* cache = nullptr;
  std::size_t position = 0;  // of the metric among its device's in this message
  for (auto& act : actions) {
    if (auto* a = std::get_if<apply_action>(&act)) {
      if (last_device == nullptr || !same_name(last_device->device, a->device)
          || !same_name(last_device->edge_node, a->edge_node)
          || !same_name(last_device->group, a->group)) {
        device = map_.find_device(a->group, a->edge_node, a->device);
        cache = nullptr;
        if (device) {
          cache = &recent_[device];
          cache->positions.resize(device->size());
        }
        position = 0;
        last_device = a;
      }
      const tag_mapping* m = nullptr;
      if (device) {
        // Edges send a device's metrics in the same order message after
        // message: the mapping at this position last time, if it is this
        // metric's, saves hashing the name.
        const std::size_t i = position++;
        auto& recent = cache->positions;
        if (i < recent.size() && recent[i] && equal_bytes(recent[i]->metric, a->metric)) {
          m = recent[i];
        } else {
          m = map_.find(*device, a->metric);
          if (i < recent.size())
            recent[i] = m;
        }
      }
      if (!m) {
        if (is_control_metric(a->metric)) {
          ++out.control_metrics;
        } else {
          ++out.unmapped;
          if (out.first_unmapped.empty())
            out.first_unmapped = path_of(a->group, a->edge_node, a->device) + "/" + a->metric;
        }
        continue;
      }
      auto cv = convert_value(*m, a->value);
      if (cv.outcome == converted_value::kind::null) {
        ++out.null_values;
        continue;
      }
      if (cv.outcome == converted_value::kind::unsupported) {
        out.drops.push_back(dropped_action{std::string{a->group}, std::string{a->edge_node},
                                           std::string{a->device}, "unsupported_value",
                                           a->metric + ": " + cv.detail});
        continue;
      }
      batch_builder* bb = nullptr;
      // `m` was found, so the device (and its cache) is known.
      auto base = [&] {
        auto& cached = cache->origins;
        for (auto& c : cached)
          if (c.historical == a->is_historical && c.message_type == message_type)
            return c.base;
        cached.push_back({message_type, a->is_historical,
                          make_origin_base(*a, message_type)});
        return cached.back().base;
      };
      if (a->is_historical) {
        auto [it, fresh] = history.try_emplace({a->timestamp, m->twin});
        if (fresh)
          it->second.batch = start_batch(*a, m->twin, pipeline_version_, base());
        bb = &it->second;
      } else {
        for (auto& b : live)
          if (equal_bytes(b.batch.twin, m->twin)) {
            bb = &b;
            break;
          }
        if (!bb) {
          live.push_back({start_batch(*a, m->twin, pipeline_version_, base()), 0, false});
          bb = &live.back();
        }
      }
      add_value(*bb, *m, *a, std::move(cv.value));
      ++out.metrics_applied;
    } else if (auto* on = std::get_if<online_action>(&act)) {
      // A node BIRTH brings the node-level twins online; device twins come
      // online with their own DBIRTH.
      const auto& twins = on->device.empty() ? map_.node_level_twins(on->group, on->edge_node)
                                             : map_.twins_of(on->group, on->edge_node, on->device);
      std::string reason =
        std::string{message_type} + " " + path_of(on->group, on->edge_node, on->device);
      for (const auto& t : twins)
        set_conn(t, true, reason);
    } else if (auto* off = std::get_if<offline_action>(&act)) {
      const auto& twins = map_.twins_of(off->group, off->edge_node, off->device);
      std::string reason =
        std::string{message_type} + " " + path_of(off->group, off->edge_node, off->device);
      if (message_type == "NBIRTH" && !off->device.empty())
        reason += " (device session ended by a new NBIRTH)";
      for (const auto& t : twins)
        set_conn(t, false, reason);
    } else if (auto* rb = std::get_if<rebirth_action>(&act)) {
      out.rebirths.push_back(std::move(*rb));
    } else if (auto* d = std::get_if<dropped_action>(&act)) {
      out.drops.push_back(std::move(*d));
    }
  }

  for (auto& [twin, c] : conn) {
    auto it = online_.find(twin);
    if (it != online_.end() && it->second == c.online)
      continue;
    online_[twin] = c.online;
    out.operations.emplace_back(std::move(c));
  }
  for (auto& [key, bb] : history)
    out.operations.emplace_back(std::move(bb.batch));
  for (auto& bb : live)
    out.operations.emplace_back(std::move(bb.batch));
  return out;
}

} // namespace twin::sparkplug
