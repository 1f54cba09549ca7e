#include "twin/cluster/records.hpp"

#include <algorithm>

namespace twin::cluster {

namespace {

error bad(const std::string& what, const std::string& why) {
  return make_error(errc::bad_request, "cluster record (" + what + "): " + why,
                    "cluster-record");
}

json bytes_of(const std::string& s) {
  return json::binary(std::vector<std::uint8_t>(s.begin(), s.end()));
}

std::string string_of(const json& j) {
  const auto& b = j.get_binary();
  return std::string(b.begin(), b.end());
}

json opt(const std::optional<std::int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

std::optional<std::int64_t> opt_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return std::nullopt;
  return it->get<std::int64_t>();
}

} // namespace

// -- telemetry ----------------------------------------------------------------

std::string encode(const ingest_record& r) {
  json j{{"v", 1},
         {"kind", r.kind},
         {"twin", r.twin},
         {"principal", r.principal},
         {"requestId", r.request_id},
         {"via", r.via}};
  if (r.kind == "data") {
    j["data"] = json{{"values", r.data.values},
                     {"sourceKind", r.data.source_kind},
                     {"sourceTime", opt(r.data.source_time_ms)},
                     {"source", r.data.source},
                     {"pipelineVersion", r.data.pipeline_version},
                     {"origin", merged_origin(r.data.origin, r.data.origin_base)},
                     {"sequence", opt(r.data.sequence)}};
  } else {
    j["link"] = json{{"online", r.link.online},
                     {"reason", r.link.reason},
                     {"source", r.link.source},
                     {"sourceTime", opt(r.link.source_time_ms)},
                     {"pipelineVersion", r.link.pipeline_version},
                     {"origin", r.link.origin}};
  }
  return j.dump();
}

expected<ingest_record> decode_ingest(std::string_view bytes) {
  auto j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return bad("telemetry", "not a JSON object");
  try {
    ingest_record r;
    r.kind = j.at("kind").get<std::string>();
    r.twin = j.at("twin").get<std::string>();
    r.principal = j.value("principal", "");
    r.request_id = j.value("requestId", "");
    r.via = j.value("via", "");
    if (r.twin.empty())
      return bad("telemetry", "no twin");
    if (r.kind == "data") {
      const auto& d = j.at("data");
      r.data.values = d.at("values");
      r.data.source_kind = d.value("sourceKind", "sensor");
      r.data.source_time_ms = opt_int(d, "sourceTime");
      r.data.source = d.value("source", "");
      r.data.pipeline_version = d.value("pipelineVersion", "");
      r.data.origin = d.value("origin", json());
      r.data.sequence = opt_int(d, "sequence");
    } else if (r.kind == "connectivity") {
      const auto& l = j.at("link");
      r.link.online = l.at("online").get<bool>();
      r.link.reason = l.value("reason", "");
      r.link.source = l.value("source", "");
      r.link.source_time_ms = opt_int(l, "sourceTime");
      r.link.pipeline_version = l.value("pipelineVersion", "");
      r.link.origin = l.value("origin", json());
    } else {
      return bad("telemetry", "unknown kind '" + r.kind + "'");
    }
    return r;
  } catch (const std::exception& ex) {
    return bad("telemetry", ex.what());
  }
}

// -- changelog ----------------------------------------------------------------

std::string encode(const persistence::twin_write& w, const std::string& node) {
  json events = json::array();
  for (auto& [rev, b] : w.events)
    events.push_back(json::array({rev, bytes_of(b)}));
  json samples = json::array();
  for (auto& s : w.samples) {
    json v = std::holds_alternative<double>(s.value)
               ? json(std::get<double>(s.value))
               : json(std::get<std::string>(s.value));
    samples.push_back(json::array({s.series, s.time_ms, std::move(v)}));
  }
  json j{{"v", 1}, {"twin", w.twin_id}, {"node", node},
         {"events", std::move(events)}, {"samples", std::move(samples)}};
  if (w.snapshot)
    j["snapshot"] = json::array({w.snapshot->first, bytes_of(w.snapshot->second)});
  if (w.index_entry)
    j["index"] = *w.index_entry;
  std::vector<std::uint8_t> out;
  json::to_cbor(j, out);
  return std::string(out.begin(), out.end());
}

expected<changelog_record> decode_changelog(std::string_view bytes) {
  json j;
  try {
    j = json::from_cbor(bytes.begin(), bytes.end());
  } catch (const std::exception& ex) {
    return bad("changelog", std::string{"not CBOR: "} + ex.what());
  }
  try {
    changelog_record r;
    r.node = j.value("node", "");
    r.write.twin_id = j.at("twin").get<std::string>();
    for (auto& e : j.at("events"))
      r.write.events.emplace_back(e.at(0).get<std::uint64_t>(), string_of(e.at(1)));
    for (auto& s : j.at("samples")) {
      persistence::sample smp;
      smp.series = s.at(0).get<std::string>();
      smp.time_ms = s.at(1).get<std::int64_t>();
      if (s.at(2).is_string())
        smp.value = s.at(2).get<std::string>();
      else
        smp.value = s.at(2).get<double>();
      r.write.samples.push_back(std::move(smp));
    }
    if (auto sn = j.find("snapshot"); sn != j.end())
      r.write.snapshot.emplace(sn->at(0).get<std::uint64_t>(), string_of(sn->at(1)));
    if (auto ix = j.find("index"); ix != j.end())
      r.write.index_entry = ix->get<std::string>();
    for (std::size_t i = 1; i < r.write.events.size(); ++i)
      if (r.write.events[i].first != r.write.events[i - 1].first + 1)
        return bad("changelog", "revisions not contiguous");
    return r;
  } catch (const std::exception& ex) {
    return bad("changelog", ex.what());
  }
}

// -- cluster topic --------------------------------------------------------------

namespace {

json announcement_json(const announcement& a) {
  json restoring = json::object();
  for (auto& [s, p] : a.restoring)
    restoring[std::to_string(s)] = json{{"records", p.records}, {"total", p.total},
                                        {"elapsedMs", p.elapsed_ms}, {"done", p.done}};
  json lag = json::object();
  for (auto& [s, n] : a.lag)
    lag[std::to_string(s)] = n;
  return json{{"kind", "announce"},
              {"node", a.node},
              {"endpoint", a.endpoint},
              {"http", a.http},
              {"shards", a.shards},
              {"restoring", std::move(restoring)},
              {"lag", std::move(lag)},
              {"forwarded", a.forwarded},
              {"time", a.time_ms},
              {"started", a.started_ms},
              {"leaving", a.leaving},
              {"certificate", a.certificate}};
}

} // namespace

std::string signed_bytes(const announcement& a) {
  return announcement_json(a).dump();
}

std::string encode(const announcement& a, const std::string& signature_b64) {
  auto j = announcement_json(a);
  j["sig"] = signature_b64;
  return j.dump();
}

std::string encode_models(const std::string& node, const json& documents) {
  return json{{"kind", "models"}, {"node", node}, {"documents", documents}}.dump();
}

expected<cluster_record> decode_cluster(std::string_view bytes) {
  auto j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return bad("cluster", "not a JSON object");
  try {
    cluster_record r;
    r.kind = j.at("kind").get<std::string>();
    if (r.kind == "models") {
      r.models = json{{"node", j.value("node", "")}, {"documents", j.at("documents")}};
      if (!r.models["documents"].is_array())
        return bad("cluster", "documents must be an array");
      return r;
    }
    if (r.kind != "announce")
      return bad("cluster", "unknown kind '" + r.kind + "'");
    signed_announcement s;
    auto& a = s.a;
    a.node = j.at("node").get<std::string>();
    a.endpoint = j.at("endpoint").get<std::string>();
    a.http = j.value("http", "");
    a.shards = j.at("shards").get<std::vector<std::uint32_t>>();
    const json restoring = j.value("restoring", json::object());
    const json lag = j.value("lag", json::object());
    for (auto& [k, v] : restoring.items())
      a.restoring[static_cast<std::uint32_t>(std::stoul(k))]
        = shard_progress{v.at("records").get<std::uint64_t>(),
                         v.at("total").get<std::uint64_t>(),
                         v.at("elapsedMs").get<std::int64_t>(), v.value("done", false)};
    for (auto& [k, v] : lag.items())
      a.lag[static_cast<std::uint32_t>(std::stoul(k))] = v.get<std::int64_t>();
    a.forwarded = j.value("forwarded", std::uint64_t{0});
    a.time_ms = j.value("time", std::int64_t{0});
    a.started_ms = j.value("started", std::int64_t{0});
    a.leaving = j.value("leaving", false);
    a.certificate = j.at("certificate").get<std::string>();
    s.signature_b64 = j.at("sig").get<std::string>();
    if (a.node.empty())
      return bad("cluster", "announcement without node id");
    // What was signed must be exactly what we rebuild from the fields.
    r.announce = std::move(s);
    return r;
  } catch (const std::exception& ex) {
    return bad("cluster", ex.what());
  }
}

// -- routing ------------------------------------------------------------------

void routing_table::apply(const announcement& a, std::int64_t now_ms) {
  auto& e = nodes_[a.node];
  // An older announcement of the same incarnation (reordered) is ignored;
  // a new incarnation (restart) replaces whatever was there.
  if (e.seen_ms != 0 && a.started_ms == e.last.started_ms && a.time_ms < e.last.time_ms)
    return;
  e.last = a;
  std::sort(e.last.shards.begin(), e.last.shards.end());
  e.seen_ms = now_ms;
}

bool routing_table::alive(const std::string& node, std::int64_t now_ms) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end())
    return false;
  return !it->second.last.leaving && now_ms - it->second.seen_ms <= timeout_;
}

std::optional<std::string> routing_table::owner(std::uint32_t shard,
                                                std::int64_t now_ms) const {
  const node_entry* best = nullptr;
  const std::string* best_id = nullptr;
  for (auto& [id, e] : nodes_) {
    if (!alive(id, now_ms))
      continue;
    if (!std::binary_search(e.last.shards.begin(), e.last.shards.end(), shard))
      continue;
    if (best == nullptr || e.seen_ms > best->seen_ms) {
      best = &e;
      best_id = &id;
    }
  }
  if (best_id == nullptr)
    return std::nullopt;
  return *best_id;
}

const routing_table::node_entry* routing_table::find(const std::string& node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<std::string> routing_table::alive_nodes(std::int64_t now_ms) const {
  std::vector<std::string> out;
  for (auto& [id, e] : nodes_)
    if (alive(id, now_ms))
      out.push_back(id);
  return out;
}

} // namespace twin::cluster
