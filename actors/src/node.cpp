// The node: wires store, registry, bus, metrics and the actor system, and
// implements the fabric port (authorize -> route or read -> reply).

#include "twin/actors/node.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <thread>
#include <tuple>

#include "runtime.hpp"
#include "twin/actors/sharding.hpp"

namespace twin::actors {

namespace detail {

caf::actor spawn_region(caf::actor_system& sys, node_context* ctx,
                        std::size_t shard);

node_metrics::node_metrics(prometheus::Registry& r)
  : active_twins(prometheus::BuildGauge()
                   .Name("twin_actors_active")
                   .Help("Twin actors in memory and not being passivated")
                   .Register(r)
                   .Add({})),
    commands(prometheus::BuildCounter()
               .Name("twin_commands_total")
               .Help("Commands decided by twin actors, by command and outcome")
               .Register(r)),
    rejected_device_data(
      prometheus::BuildCounter()
        .Name("twin_rejected_device_data_total")
        .Help("Device data refused because the twin was not active")
        .Register(r)
        .Add({})),
    alerts(prometheus::BuildCounter()
             .Name("twin_alerts_total")
             .Help("Alerts raised")
             .Register(r)
             .Add({})),
    passivations(prometheus::BuildCounter()
                   .Name("twin_passivations_total")
                   .Help("Twin actors passivated (idle timeout or cap)")
                   .Register(r)
                   .Add({})),
    restarts(prometheus::BuildCounter()
               .Name("twin_restarts_total")
               .Help("Twin actors that stopped on an error and were restarted")
               .Register(r)
               .Add({})),
    rehydrations(prometheus::BuildCounter()
                   .Name("twin_rehydrations_total")
                   .Help("Twin actors rehydrated from snapshot + journal")
                   .Register(r)
                   .Add({})),
    store_commits(prometheus::BuildGauge()
                    .Name("twin_store_group_commits")
                    .Help("Group commits written by the store")
                    .Register(r)
                    .Add({})),
    store_requests(prometheus::BuildGauge()
                     .Name("twin_store_write_requests")
                     .Help("Write requests made durable by the store")
                     .Register(r)
                     .Add({})),
    store_failures(prometheus::BuildGauge()
                     .Name("twin_store_write_failures")
                     .Help("Group commits that failed")
                     .Register(r)
                     .Add({})),
    store_bytes(prometheus::BuildGauge()
                  .Name("twin_store_bytes_written")
                  .Help("Bytes written by the store")
                  .Register(r)
                  .Add({})),
    store_memtables(prometheus::BuildGauge()
                      .Name("twin_store_memtable_bytes")
                      .Help("Bytes held by RocksDB memtables now (bounded by the write buffer budget)")
                      .Register(r)
                      .Add({})) {
  const char* kinds[7] = {"create", "patch", "ingest", "lifecycle", "connectivity",
                          "behaviour_attach", "behaviour_detach"};
  for (std::size_t k = 0; k < 7; ++k) {
    command_counters[k][0]
      = &commands.Add({{"command", kinds[k]}, {"outcome", "accepted"}});
    command_counters[k][1]
      = &commands.Add({{"command", kinds[k]}, {"outcome", "rejected"}});
  }
}

} // namespace detail

using detail::reply_once;

struct node::impl {
  node_options options;
  std::unique_ptr<persistence::store> store;
  model::registry models;
  transport::change_bus bus;
  std::shared_ptr<prometheus::Registry> registry
    = std::make_shared<prometheus::Registry>();
  std::unique_ptr<detail::node_metrics> metrics;
  std::unique_ptr<detail::read_cache> reads;
  detail::node_context ctx;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<caf::actor> regions;
  std::mutex model_mtx;
  std::atomic<bool> stopped{false};

  status authorize(const request_context& rc, security::action a) {
    if (stopped.load())
      return make_error(errc::unavailable, "the node is shutting down");
    return security::authorize(rc.who, a);
  }

  caf::actor region_of(const std::string& id) {
    return regions[shard_of(id, static_cast<std::uint32_t>(regions.size()))];
  }

  void send_command(const request_context& rc, const std::string& id,
                    core::command_body body, reply_fn reply) {
    if (!is_valid_twin_id(id)) {
      reply(make_error(errc::bad_request,
                       "invalid twin id: 1..128 of [A-Za-z0-9._:-]", "twin-id",
                       "/$id"));
      return;
    }
    detail::twin_command msg;
    msg.twin = id;
    msg.cmd.body = std::move(body);
    msg.cmd.principal = rc.who.name;
    msg.cmd.request_id = rc.request_id;
    msg.cmd.now = core::now_millis();
    msg.reply = std::make_shared<reply_once>(std::move(reply));
    caf::anon_send(region_of(id), std::move(msg));
  }

  void update_store_gauges() {
    auto& st = store->stats();
    metrics->store_commits.Set(static_cast<double>(st.commits.load()));
    metrics->store_requests.Set(static_cast<double>(st.requests.load()));
    metrics->store_failures.Set(static_cast<double>(st.failures.load()));
    metrics->store_bytes.Set(static_cast<double>(st.bytes_written.load()));
    metrics->store_memtables.Set(static_cast<double>(store->memtable_bytes()));
  }

  json audit_entry(const request_context& rc, std::string action,
                   std::string target, json detail) {
    return json{{"time", core::format_time(core::now_millis())},
                {"principal", rc.who.name},
                {"action", std::move(action)},
                {"target", std::move(target)},
                {"detail", std::move(detail)},
                {"requestId", rc.request_id}};
  }

  bool model_in_use(const std::string& id) {
    bool used = false;
    auto st = store->scan_index("", [&](const std::string&,
                                        const std::string& entry) {
      auto j = json::parse(entry, nullptr, false);
      if (!j.is_discarded() && j.value("model", "") == id) {
        used = true;
        return false;
      }
      return true;
    });
    // If the index cannot be read, err on the side of refusing a delete.
    return used || !st;
  }
};

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

node::~node() {
  stop();
}

expected<std::unique_ptr<node>> node::start(node_options options) {
  if (options.data_dir.empty())
    return make_error(errc::bad_request, "a data directory is required");
  if (options.shards == 0 || options.shards > 65536)
    return make_error(errc::bad_request, "shards must be 1..65536");
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return make_error(errc::storage_failure, "cannot create data directory "
                                               + options.data_dir + ": "
                                               + ec.message());
  auto p = std::make_unique<impl>();
  p->options = options;
  persistence::store_options so;
  so.path = (std::filesystem::path{options.data_dir} / "db").string();
  so.sync = options.sync;
  so.fault_injector = options.fault_injector;
  so.retention = options.history_retention;
  so.history_checkpoint_interval = options.history_checkpoint_interval;
  so.clock = options.clock;
  auto st = persistence::store::open(so);
  if (!st)
    return st.error();
  p->store = std::move(*st);
  // Models: stored ones were valid when stored; validate them together
  // again so references resolve, and refuse to start on a broken set.
  auto stored = p->store->list_models();
  if (!stored)
    return stored.error();
  if (!stored->empty()) {
    std::vector<model::document> docs;
    for (auto& [id, text] : *stored) {
      auto j = json::parse(text, nullptr, false);
      if (j.is_discarded())
        return make_error(errc::corruption, "stored model " + id
                                              + " is not valid JSON");
      docs.push_back({"store:" + id, std::move(j)});
    }
    auto res = model::validate(docs);
    if (!res.valid()) {
      for (auto& d : res.documents)
        if (!d.valid())
          return make_error(errc::corruption,
                            "stored model " + d.source + " no longer validates: "
                              + d.errors.front().describe());
    }
    for (auto& itf : res.interfaces)
      p->models.put(itf);
  }
  p->metrics = std::make_unique<detail::node_metrics>(*p->registry);
  p->ctx.options = options;
  p->ctx.store = p->store.get();
  p->ctx.models = &p->models;
  p->ctx.bus = &p->bus;
  p->ctx.metrics = p->metrics.get();
  p->reads = std::make_unique<detail::read_cache>(options.read_cache_entries);
  p->ctx.reads = p->reads.get();
  p->cfg = std::make_unique<caf::actor_system_config>();
  p->cfg->add_message_types<caf::id_block::twin_fabric>();
  auto threads = options.threads;
  // Default: one core left to the threads outside the scheduler that every
  // ingest goes through (the store's writer, the MQTT client's receive
  // thread). On 2 cores one worker cut twin-node's CPU per DDATA by ~15 %
  // under bench/run_e2e_mqtt.sh (fewer wake-ups and context switches);
  // see docs/adr/0007-read-path-and-scheduler.md.
  if (threads == 0) {
    const auto cores = std::thread::hardware_concurrency(); // 0: unknown
    threads = cores > 1 ? cores - 1 : 1;
  }
  p->cfg->set("scheduler.max-threads", threads);
  p->cfg->set("logger.verbosity", caf::atom("quiet"));
  // CAF 0.17's work-stealing workers poll and then sleep (up to 10 ms when
  // "relaxed"), which put the REST p99 near 2 ms on a 2-core machine; the
  // sharing policy wakes an idle worker through a condition variable the
  // moment a message is enqueued. See docs/adr/0007-scheduler-policy.md.
  p->cfg->set("scheduler.policy", options.scheduler_policy == "stealing"
                                    ? caf::atom("stealing")
                                    : caf::atom("sharing"));
  p->sys = std::make_unique<caf::actor_system>(*p->cfg);
  for (std::size_t i = 0; i < options.shards; ++i)
    p->regions.push_back(detail::spawn_region(*p->sys, &p->ctx, i));
  // Regions read this only when handling messages, which the first command
  // (sent after start() returns) happens-after.
  p->ctx.regions = p->regions;
  return std::unique_ptr<node>(new node(std::move(p)));
}

void node::stop() {
  if (!impl_ || impl_->stopped.exchange(true))
    return;
  // Passivate everything (each twin finishes its in-flight write first),
  // then stop the regions and wait for every actor.
  for (auto& r : impl_->regions)
    caf::anon_send(r, detail::shutdown_region{});
  impl_->sys->await_all_actors_done();
  impl_->regions.clear();
  impl_->store->close();
}

void node::create_twin(const request_context& ctx, const std::string& id,
                       json body, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::write); !st)
    return reply(st.error());
  if (!body.is_object())
    return reply(make_error(errc::bad_request, "body must be a JSON object",
                            "body-shape", ""));
  auto m = body.find("$model");
  if (m == body.end() || !m->is_string())
    return reply(make_error(errc::bad_request, "'$model' (a DTMI) is required",
                            "body-shape", "/$model"));
  core::create_twin c;
  c.model = m->get<std::string>();
  if (auto pr = body.find("properties"); pr != body.end())
    c.properties = *pr;
  impl_->send_command(ctx, id, std::move(c), std::move(reply));
}

void node::get_twin(const request_context& ctx, const std::string& id,
                    reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::read); !st)
    return reply(st.error());
  if (!is_valid_twin_id(id))
    return reply(make_error(errc::not_found, "twin '" + id + "' does not exist"));
  detail::twin_read msg{id, std::make_shared<reply_once>(std::move(reply))};
  caf::anon_send(impl_->region_of(id), std::move(msg));
}

std::shared_ptr<const twin_body>
node::cached_twin(const request_context& ctx, const std::string& id) {
  if (!impl_->authorize(ctx, security::action::read))
    return nullptr;
  return impl_->reads->find(id);
}

void node::patch_twin(const request_context& ctx, const std::string& id,
                      json merge_patch, std::optional<std::uint64_t> if_match,
                      reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::write); !st)
    return reply(st.error());
  core::patch_properties p{std::move(merge_patch), if_match};
  impl_->send_command(ctx, id, std::move(p), std::move(reply));
}

void node::ingest(const request_context& ctx, const std::string& id,
                  json body, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::ingest); !st)
    return reply(st.error());
  if (!body.is_object())
    return reply(make_error(errc::bad_request, "body must be a JSON object",
                            "body-shape", ""));
  core::ingest_values in;
  if (auto v = body.find("values"); v != body.end())
    in.values = *v;
  if (auto t = body.find("sourceTime"); t != body.end()) {
    auto parsed = t->is_string() ? core::parse_time(t->get<std::string>())
                                 : std::nullopt;
    if (!parsed)
      return reply(make_error(errc::bad_request,
                              "sourceTime must be an RFC 3339 timestamp",
                              "time-format", "/sourceTime"));
    in.source_time = parsed;
  }
  if (auto s = body.find("source"); s != body.end()) {
    if (!s->is_string())
      return reply(make_error(errc::bad_request, "source must be a string",
                              "body-shape", "/source"));
    in.source = s->get<std::string>();
  }
  if (auto q = body.find("sequence"); q != body.end()) {
    if (!q->is_number_integer())
      return reply(make_error(errc::bad_request, "sequence must be an integer",
                              "body-shape", "/sequence"));
    in.sequence = q->get<std::int64_t>();
  }
  if (auto pv = body.find("pipelineVersion"); pv != body.end()) {
    if (!pv->is_string())
      return reply(make_error(errc::bad_request,
                              "pipelineVersion must be a string", "body-shape",
                              "/pipelineVersion"));
    in.pipeline_version = pv->get<std::string>();
  }
  impl_->send_command(ctx, id, std::move(in), std::move(reply));
}

void node::ingest_data(const request_context& ctx, const std::string& id,
                       device_data data, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::ingest); !st)
    return reply(st.error());
  core::ingest_values in;
  in.values = std::move(data.values);
  in.source_kind = std::move(data.source_kind);
  in.source_time = data.source_time_ms;
  in.source = std::move(data.source);
  in.pipeline_version = std::move(data.pipeline_version);
  in.origin = std::move(data.origin);
  in.origin_base = std::move(data.origin_base);
  in.sequence = data.sequence;
  in.bus_offset = data.bus_offset;
  impl_->send_command(ctx, id, std::move(in), std::move(reply));
}

void node::set_connectivity(const request_context& ctx, const std::string& id,
                            connectivity_update u, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::ingest); !st)
    return reply(st.error());
  core::set_connectivity c;
  c.online = u.online;
  c.reason = std::move(u.reason);
  c.source = std::move(u.source);
  c.source_time = u.source_time_ms;
  c.pipeline_version = std::move(u.pipeline_version);
  c.origin = std::move(u.origin);
  c.bus_offset = u.bus_offset;
  impl_->send_command(ctx, id, std::move(c), std::move(reply));
}

void node::attach_behaviour(const request_context& ctx, const std::string& id,
                            const std::string& name, json spec, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::write); !st)
    return reply(st.error());
  if (impl_->options.behaviour_validator) {
    if (auto st = impl_->options.behaviour_validator(name, spec); !st)
      return reply(st.error());
  }
  impl_->send_command(ctx, id, core::attach_behaviour{name, std::move(spec)},
                      std::move(reply));
}

void node::detach_behaviour(const request_context& ctx, const std::string& id,
                            const std::string& name, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::write); !st)
    return reply(st.error());
  impl_->send_command(ctx, id, core::detach_behaviour{name}, std::move(reply));
}

void node::raise_alert(const request_context& ctx, json alert, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::ingest); !st)
    return reply(st.error());
  if (!alert.is_object())
    return reply(make_error(errc::bad_request, "an alert is a JSON object", "body-shape", ""));
  for (const char* key : {"type", "severity", "twin", "cause"})
    if (!alert.contains(key) || !alert[key].is_string() || alert[key].get<std::string>().empty())
      return reply(make_error(errc::bad_request,
                              std::string{"alert field '"} + key + "' must be a non-empty string",
                              "alert-shape", std::string{"/"} + key));
  auto sev = alert["severity"].get<std::string>();
  if (sev != "info" && sev != "warning" && sev != "critical")
    return reply(make_error(errc::bad_request,
                            "alert severity must be info, warning or critical",
                            "alert-shape", "/severity"));
  if (alert["type"].get<std::string>().rfind("twin.alert.", 0) != 0)
    return reply(make_error(errc::bad_request, "alert type must start with 'twin.alert.'",
                            "alert-shape", "/type"));
  alert["time"] = core::format_time(core::now_millis());
  if (!alert.contains("source"))
    alert["source"] = ctx.who.name;
  if (!alert.contains("detail"))
    alert["detail"] = json::object();
  alert["principal"] = ctx.who.name;
  persistence::write_request req;
  req.alerts.push_back(alert);
  auto* c = &impl_->ctx;
  auto once = std::make_shared<reply_fn>(std::move(reply));
  impl_->store->submit(std::move(req), [c, alert, once](const status& st) {
    if (!st)
      return (*once)(st.error());
    detail::publish_alert(*c, alert);
    (*once)(alert);
  });
}

namespace {

/// The tier `auto` picks: raw up to 6 h of range (if raw data of the whole
/// range is still kept), 1 min up to 14 days (likewise), else 1 h.
persistence::history_tier pick_tier(std::int64_t from, std::int64_t to,
                                    std::int64_t now,
                                    const persistence::retention_policy& r) {
  constexpr std::int64_t hour = 3'600'000;
  auto span = to - from;
  if (span <= 6 * hour && from >= now - r.raw_ms)
    return persistence::history_tier::raw;
  if (span <= 14 * 24 * hour && from >= now - r.minute_ms)
    return persistence::history_tier::minute;
  return persistence::history_tier::hour;
}

std::string_view tier_name(persistence::history_tier t) {
  switch (t) {
    case persistence::history_tier::raw: return "raw";
    case persistence::history_tier::minute: return "1m";
    case persistence::history_tier::hour: return "1h";
  }
  return "raw";
}

/// `from`/`to` of a history query: RFC 3339 or milliseconds since the epoch.
std::optional<std::int64_t> parse_history_time(std::string_view v) {
  if (!v.empty() && std::all_of(v.begin(), v.end(),
                                [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size())
      return std::nullopt;
    return n;
  }
  return core::parse_time(v);
}

json number_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

} // namespace

void node::history(const request_context& ctx, const std::string& id,
                   history_request q, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::read); !st)
    return reply(st.error());
  auto idx = impl_->store->get_index(id);
  if (!idx)
    return reply(idx.error());
  if (!*idx)
    return reply(make_error(errc::not_found, "twin '" + id + "' does not exist"));
  // The name must be a property or telemetry of the twin's model.
  try {
    auto model_id = json::parse(**idx).value("model", "");
    if (auto itf = impl_->models.find(model::dtmi{model_id})) {
      const auto* c = itf->find(q.name);
      if (c == nullptr
          || (c->kind != model::content_kind::property
              && c->kind != model::content_kind::telemetry))
        return reply(make_error(errc::bad_request,
                                "'" + q.name + "' is not a property or telemetry "
                                "of model " + model_id + " (twin '" + id + "')",
                                "unknown-name", "name"));
    }
  } catch (const std::exception&) {
    return reply(make_error(errc::corruption,
                            "index entry of twin '" + id + "' does not decode"));
  }
  std::int64_t now = impl_->options.clock ? impl_->options.clock()
                                          : core::now_millis();
  std::int64_t to = now;
  std::int64_t from = 0;
  for (auto [key, text, slot] : {std::tuple{"to", &q.to, &to},
                                 std::tuple{"from", &q.from, &from}}) {
    if (text->empty()) {
      if (slot == &from)
        from = to - 3'600'000;
      continue;
    }
    auto t = parse_history_time(*text);
    if (!t)
      return reply(make_error(errc::bad_request,
                              std::string("query parameter '") + key
                                + "' must be an RFC 3339 time or milliseconds "
                                  "since the Unix epoch",
                              "query-parameter", key));
    *slot = *t;
  }
  if (from > to)
    return reply(make_error(errc::bad_request,
                            "'from' is after 'to'", "time-range", "from"));
  persistence::history_query hq;
  hq.twin = id;
  hq.series = q.name;
  hq.from_ms = from;
  hq.to_ms = to;
  hq.limit = std::clamp<std::size_t>(q.limit, 1, 100000);
  if (q.resolution == "raw")
    hq.tier = persistence::history_tier::raw;
  else if (q.resolution == "1m")
    hq.tier = persistence::history_tier::minute;
  else if (q.resolution == "1h")
    hq.tier = persistence::history_tier::hour;
  else
    hq.tier = pick_tier(from, to, now, impl_->options.history_retention);
  auto r = impl_->store->history(hq);
  if (!r)
    return reply(r.error());
  json points = json::array();
  if (hq.tier == persistence::history_tier::raw) {
    for (auto& p : r->raw) {
      json v = std::holds_alternative<double>(p.value)
                 ? number_or_null(std::get<double>(p.value))
                 : json(std::get<std::string>(p.value));
      points.push_back(json{{"time", core::format_time(p.time_ms)},
                            {"value", std::move(v)}});
    }
  } else {
    for (auto& b : r->rollups)
      points.push_back(json{{"start", core::format_time(b.start_ms)},
                            {"min", number_or_null(b.min)},
                            {"max", number_or_null(b.max)},
                            {"mean", number_or_null(b.mean)},
                            {"count", b.count},
                            {"last", number_or_null(b.last)},
                            {"lastTime", core::format_time(b.last_time_ms)}});
  }
  reply(json{{"twin", id},
             {"name", q.name},
             {"resolution", tier_name(hq.tier)},
             {"from", core::format_time(from)},
             {"to", core::format_time(to)},
             {"truncated", r->truncated},
             {"points", std::move(points)}});
}

void node::transition(const request_context& ctx, const std::string& id,
                      json body, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::lifecycle); !st)
    return reply(st.error());
  if (!body.is_object() || !body.contains("to") || !body["to"].is_string())
    return reply(make_error(errc::bad_request,
                            "body must be {\"to\": STATE, \"reason\": TEXT}",
                            "body-shape", "/to"));
  auto to = core::parse_lifecycle(body["to"].get<std::string>());
  if (!to)
    return reply(make_error(errc::bad_request,
                            "unknown lifecycle state '"
                              + body["to"].get<std::string>()
                              + "' (provisioned, active, passive, retired)",
                            "lifecycle-state", "/to"));
  core::transition t;
  t.to = *to;
  if (auto r = body.find("reason"); r != body.end() && r->is_string())
    t.reason = r->get<std::string>();
  impl_->send_command(ctx, id, std::move(t), std::move(reply));
}

void node::lineage(const request_context& ctx, const std::string& id,
                   const std::string& property,
                   const std::optional<std::string>& at, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::read); !st)
    return reply(st.error());
  if (property.empty())
    return reply(make_error(errc::bad_request, "query parameter 'property' is required",
                            "query", "property"));
  std::optional<core::millis> at_ms;
  if (at) {
    at_ms = core::parse_time(*at);
    if (!at_ms)
      return reply(make_error(errc::bad_request,
                              "'at' must be an RFC 3339 timestamp",
                              "time-format", "at"));
  }
  auto idx = impl_->store->get_index(id);
  if (!idx)
    return reply(idx.error());
  if (!*idx)
    return reply(make_error(errc::not_found, "twin '" + id + "' does not exist"));
  json items = json::array();
  std::optional<error> failure;
  auto st = impl_->store->scan_journal_reverse(
    id, [&](const persistence::journal_record& rec) {
      json j;
      try {
        auto bytes = json::from_cbor(rec.bytes);
        j = std::move(bytes);
      } catch (const std::exception& ex) {
        failure = make_error(errc::corruption,
                             "journal record " + std::to_string(rec.revision)
                               + " of '" + id + "' does not decode");
        return false;
      }
      bool touches = (j.contains("changes") && j["changes"].contains(property))
                     || (j.contains("telemetry")
                         && j["telemetry"].contains(property));
      if (!touches)
        return true;
      if (at_ms) {
        auto t = core::parse_time(j.value("time", ""));
        if (!t || *t > *at_ms)
          return true;
        items.push_back(std::move(j));
        return false; // the newest event at or before `at` is in force
      }
      items.push_back(std::move(j));
      return items.size() < 10000;
    });
  if (failure)
    return reply(*failure);
  if (!st)
    return reply(st.error());
  if (at_ms && items.empty())
    return reply(make_error(errc::not_found,
                            "no event set '" + property + "' of '" + id
                              + "' at or before " + *at));
  reply(json{{"twin", id}, {"property", property}, {"items", std::move(items)}});
}

void node::list_twins(const request_context& ctx, list_query q,
                      reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::read); !st)
    return reply(st.error());
  if (q.limit == 0 || q.limit > 1000)
    return reply(make_error(errc::bad_request, "limit must be 1..1000",
                            "query", "limit"));
  if (!q.lifecycle.empty() && !core::parse_lifecycle(q.lifecycle))
    return reply(make_error(errc::bad_request,
                            "unknown lifecycle '" + q.lifecycle + "'", "query",
                            "lifecycle"));
  json items = json::array();
  std::string last;
  bool more = false;
  auto st = impl_->store->scan_index(
    q.after, [&](const std::string& id, const std::string& entry) {
      auto j = json::parse(entry, nullptr, false);
      if (j.is_discarded())
        return true;
      if (!q.model.empty() && j.value("model", "") != q.model)
        return true;
      if (!q.lifecycle.empty() && j.value("lifecycle", "") != q.lifecycle)
        return true;
      if (q.include && !q.include(id))
        return true;
      if (items.size() == q.limit) {
        more = true;
        return false;
      }
      json item{{"$id", id},
                {"$model", j.value("model", "")},
                {"$lifecycle", j.value("lifecycle", "")}};
      if (auto b = j.find("behaviours"); b != j.end())
        item["$behaviours"] = *b;
      items.push_back(std::move(item));
      last = id;
      return true;
    });
  if (!st)
    return reply(st.error());
  json out{{"items", std::move(items)}};
  if (more)
    out["nextPageToken"] = last;
  reply(std::move(out));
}

namespace {

/// A model set's rejection: the first error leads (code, rule, path);
/// `errors` lists them all, each naming its document.
template <class Result>
error model_set_error(const Result& res, std::string message) {
  error summary = make_error(errc::model_violation, std::move(message));
  for (auto& d : res.documents)
    for (auto e : d.errors) {
      e.source = d.source;
      if (summary.errors.empty()) {
        summary.code = e.code;
        summary.message = d.source + ": " + e.message;
        summary.rule = e.rule;
        summary.path = e.path;
        summary.source = d.source;
      }
      summary.errors.push_back(std::move(e));
    }
  return summary;
}

} // namespace

void node::add_models(const request_context& ctx, json body, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::manage_models); !st)
    return reply(st.error());
  std::vector<model::document> docs;
  if (body.is_array()) {
    for (std::size_t i = 0; i < body.size(); ++i)
      docs.push_back({"request[" + std::to_string(i) + "]", body[i]});
  } else if (body.is_object()) {
    docs.push_back({"request", std::move(body)});
  } else {
    return reply(make_error(errc::bad_request,
                            "body must be a DTDL interface or an array of them",
                            "body-shape", ""));
  }
  std::lock_guard guard{impl_->model_mtx};
  auto res = model::validate(docs, &impl_->models);
  if (!res.valid()) {
    return reply(model_set_error(res, "the model set is invalid"));
  }
  persistence::write_request req;
  json ids = json::array();
  for (auto& itf : res.interfaces) {
    if (impl_->models.find(itf->id))
      return reply(make_error(errc::already_exists,
                              "model " + itf->id.value()
                                + " exists; models are immutable, publish a "
                                  "new version",
                              "model-immutable", ""));
    req.models_put.emplace_back(itf->id.value(), itf->source.dump());
    ids.push_back(itf->id.value());
  }
  req.audit.push_back(
    impl_->audit_entry(ctx, "model.add", ids.size() == 1 ? ids[0].get<std::string>() : "models",
                       json{{"models", ids}}));
  if (auto st = impl_->store->write(std::move(req)); !st)
    return reply(st.error());
  for (auto& itf : res.interfaces)
    impl_->models.put(itf);
  reply(json{{"models", std::move(ids)}});
}

void node::list_models(const request_context& ctx, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::read); !st)
    return reply(st.error());
  json items = json::array();
  auto all = impl_->models.list();
  std::sort(all.begin(), all.end(),
            [](auto& a, auto& b) { return a->id.value() < b->id.value(); });
  for (auto& itf : all) {
    json item{{"id", itf->id.value()}, {"dtdlVersion", itf->dtdl_version}};
    if (auto dn = itf->source.find("displayName"); dn != itf->source.end())
      item["displayName"] = *dn;
    items.push_back(std::move(item));
  }
  reply(json{{"items", std::move(items)}});
}

void node::get_model(const request_context& ctx, const std::string& dtmi,
                     reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::read); !st)
    return reply(st.error());
  auto itf = impl_->models.find(model::dtmi{dtmi});
  if (!itf)
    return reply(make_error(errc::not_found, "model " + dtmi + " is not registered"));
  reply(itf->source);
}

void node::delete_model(const request_context& ctx, const std::string& dtmi,
                        reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::manage_models); !st)
    return reply(st.error());
  std::lock_guard guard{impl_->model_mtx};
  auto itf = impl_->models.find(model::dtmi{dtmi});
  if (!itf)
    return reply(make_error(errc::not_found, "model " + dtmi + " is not registered"));
  auto removed = impl_->models.remove(model::dtmi{dtmi}, [this](const model::dtmi& id) {
    return impl_->model_in_use(id.value());
  });
  if (!removed)
    return reply(removed.error());
  persistence::write_request req;
  req.models_delete.push_back(dtmi);
  req.audit.push_back(impl_->audit_entry(ctx, "model.delete", dtmi, json::object()));
  if (auto st = impl_->store->write(std::move(req)); !st) {
    impl_->models.put(itf);
    return reply(st.error());
  }
  reply(json{{"deleted", dtmi}});
}

void node::list_audit(const request_context& ctx, std::uint64_t from,
                      std::size_t limit, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::audit); !st)
    return reply(st.error());
  auto items = impl_->store->list_audit(from, std::clamp<std::size_t>(limit, 1, 10000));
  if (!items)
    return reply(items.error());
  reply(json{{"items", std::move(*items)}});
}

void node::verify_audit(const request_context& ctx, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::audit); !st)
    return reply(st.error());
  auto v = impl_->store->verify_audit();
  if (!v)
    return reply(v.error());
  json out{{"intact", v->intact}, {"records", v->records}};
  if (!v->intact) {
    out["firstBadSeq"] = v->first_bad_seq;
    out["reason"] = v->reason;
  }
  reply(std::move(out));
}

void node::list_alerts(const request_context& ctx, std::uint64_t from,
                       std::size_t limit, reply_fn reply) {
  if (auto st = impl_->authorize(ctx, security::action::read); !st)
    return reply(st.error());
  auto items = impl_->store->list_alerts(from, std::clamp<std::size_t>(limit, 1, 10000));
  if (!items)
    return reply(items.error());
  reply(json{{"items", std::move(*items)}});
}

namespace {

class bus_subscription final : public subscription {
public:
  explicit bus_subscription(std::unique_ptr<transport::change_bus::subscription> s)
    : sub_(std::move(s)) {
  }

private:
  std::unique_ptr<transport::change_bus::subscription> sub_;
};

} // namespace

expected<std::unique_ptr<subscription>>
node::subscribe(const request_context& ctx,
                std::function<void(const json&)> on_event) {
  if (auto st = impl_->authorize(ctx, security::action::read); !st)
    return st.error();
  return std::unique_ptr<subscription>(
    new bus_subscription(impl_->bus.subscribe(std::move(on_event))));
}

expected<std::unique_ptr<subscription>>
node::subscribe_filtered(const request_context& ctx,
                         transport::change_bus::interest interest,
                         std::function<void(const json&)> on_event) {
  if (auto st = impl_->authorize(ctx, security::action::read); !st)
    return st.error();
  return std::unique_ptr<subscription>(new bus_subscription(
    impl_->bus.subscribe(std::move(on_event), std::move(interest))));
}

json node::health() {
  impl_->update_store_gauges();
  return json{{"status", impl_->stopped.load() ? "stopping" : "ok"},
              {"twinsActive", impl_->ctx.active.load()},
              {"shards", impl_->regions.size()},
              {"models", impl_->models.list().size()},
              {"storeCommits", impl_->store->stats().commits.load()}};
}

prometheus::Registry& node::metrics() {
  impl_->update_store_gauges();
  return *impl_->registry;
}

// -- cluster hooks ------------------------------------------------------------

void node::release_shard(std::size_t shard, std::function<void()> done) {
  auto guard = std::make_shared<detail::call_once_guard>(std::move(done));
  if (impl_->stopped.load() || shard >= impl_->regions.size()) {
    (*guard)();
    return;
  }
  // If the region is gone (stopping) the message dies and the guard's
  // destructor runs `done`.
  caf::anon_send(impl_->regions[shard], detail::release_twins{std::move(guard)});
}

persistence::store& node::store() {
  return *impl_->store;
}

std::size_t node::shard_count() const {
  return impl_->options.shards;
}

status node::import_models(const json& documents_array) {
  if (impl_->stopped.load())
    return make_error(errc::unavailable, "the node is shutting down");
  json all = documents_array.is_object() ? json::array({documents_array})
                                         : documents_array;
  if (!all.is_array())
    return make_error(errc::bad_request,
                      "models to import must be a DTDL interface or an array of them",
                      "body-shape", "");
  std::lock_guard guard{impl_->model_mtx};
  // Those already registered (same DTMI) are skipped; the rest is validated
  // as one set against the registry, like add_models.
  std::vector<model::document> docs;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& d = all[i];
    if (d.is_object()) {
      auto id = d.find("@id");
      if (id != d.end() && id->is_string()
          && impl_->models.find(model::dtmi{id->get<std::string>()}))
        continue;
    }
    docs.push_back({"import[" + std::to_string(i) + "]", d});
  }
  if (docs.empty())
    return ok();
  auto res = model::validate(docs, &impl_->models);
  if (!res.valid()) {
    return model_set_error(res, "the imported model set is invalid");
  }
  persistence::write_request req;
  json ids = json::array();
  std::vector<model::interface_ptr> added;
  for (auto& itf : res.interfaces) {
    if (impl_->models.find(itf->id))
      continue; // e.g. an array document holding a registered interface
    req.models_put.emplace_back(itf->id.value(), itf->source.dump());
    ids.push_back(itf->id.value());
    added.push_back(itf);
  }
  if (added.empty())
    return ok();
  request_context system{security::principal{"cluster", {}}, ""};
  req.audit.push_back(impl_->audit_entry(
    system, "model.replicate",
    ids.size() == 1 ? ids[0].get<std::string>() : "models", json{{"models", ids}}));
  if (auto st = impl_->store->write(std::move(req)); !st)
    return st;
  for (auto& itf : added)
    impl_->models.put(itf);
  return ok();
}

} // namespace twin::actors
