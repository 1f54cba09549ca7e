// The twin actor: a thin shell around core::decide / core::evolve.
//
//   receive -> decide -> (evolve optimistically, queue events) -> group
//   commit (durable) -> publish -> reply
//
// One write per twin is in flight at a time; commands arriving meanwhile
// are decided against the optimistic state and their events queued for the
// next write, so a busy twin batches. Replies are released only when every
// event before them is durable. If a write fails, every queued and in-flight
// request gets the error and the actor restarts in place from durable state
// (rehydrating on its next message); if rehydration fails it stops and the
// region restarts it with backoff.
//
// Cluster mode (node_options::replicate set): after the store's durable
// callback the committed twin writes go to the hook (on the store's writer
// thread) and the write completes, i.e. its replies are released, only
// when the hook calls `done` (any thread); a failure there fails the write
// like a store failure.

#include <nlohmann/json.hpp>

#include "runtime.hpp"
#include "twin/security/audit_chain.hpp"

namespace twin::actors::detail {

namespace {

struct pending_reply {
  reply_ptr reply;
  expected<json> response;
  /// A read's answer: fill the read cache with it when released.
  bool cacheable = false;
  std::uint64_t revision = 0;
};

/// An event for the change stream: its JSON form and its type (which names
/// the CloudEvent).
struct change_event {
  core::event_type type;
  json body;
};

/// The write pipeline of a twin: allocated only while the twin has work
/// queued or in flight, so an idle hot twin does not carry it (memory per
/// twin is a product figure, see bench/bench_memory.cpp).
struct pipeline {
  std::vector<pending_reply> flight_replies;
  std::vector<change_event> flight_events;
  std::vector<pending_reply> queued_replies;
  std::vector<change_event> queued_events;
  persistence::twin_write queued_write;
  std::vector<json> queued_audit;

  bool idle() const noexcept {
    return flight_replies.empty() && flight_events.empty()
           && queued_replies.empty() && queued_events.empty()
           && queued_write.events.empty() && queued_write.samples.empty()
           && queued_audit.empty();
  }
};

struct twin_actor_state {
  core::twin_state st; // optimistic: includes queued events
  node_context* ctx = nullptr;
  caf::actor region;
  std::uint64_t snapshot_revision = 0;
  std::unique_ptr<pipeline> pipe;
  bool asked_passivation = false;
  bool hydrated = false;
  bool in_flight = false;
  bool passivate = false;

  pipeline& p() {
    if (!pipe)
      pipe = std::make_unique<pipeline>();
    return *pipe;
  }
  bool has_queued_replies() const noexcept {
    return pipe && !pipe->queued_replies.empty();
  }
  /// Frees the pipeline when nothing is queued or in flight.
  void trim() {
    if (pipe && !in_flight && pipe->idle())
      pipe.reset();
  }
};

// Memory per hot twin (bench/bench_memory.cpp, ADR 0006): CAF allocates the
// actor and its control block in one block, 64 + 1016 bytes + this state
// with CAF 0.17.6; at <= 200 bytes of state that is jemalloc's 1280-byte
// size class, one byte more is the 1536-byte class.
static_assert(sizeof(twin_actor_state) <= 200,
              "twin_actor_state outgrew its allocator size class");

/// The twin actor. All twins share one behavior object (a per-actor
/// behavior costs ~256 bytes per hot twin): its handlers find their actor
/// through `current`, which `consume` sets around every message. Its exit
/// is reported to the region by `on_exit` with the twin's id (cheaper than
/// a monitor plus an address -> id map in the region).
class twin_actor : public caf::event_based_actor {
public:
  twin_actor(caf::actor_config& cfg, node_context* ctx, caf::actor region,
             std::string id)
    : caf::event_based_actor(cfg) {
    state.ctx = ctx;
    state.region = std::move(region);
    state.st.id = std::move(id);
  }

  const char* name() const override { return "twin"; }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    auto* previous = std::exchange(current_, this);
    auto result = caf::event_based_actor::consume(x);
    current_ = previous;
    return result;
  }

  void on_exit() override {
    // Every termination ends here (quit, error, exception, never started).
    if (state.region)
      caf::anon_send(state.region,
                     twin_exited{id(), state.st.id, fail_state()});
    state.region = nullptr; // no cycle region <-> twin
    state.pipe.reset();
  }

  caf::behavior make_behavior() override;

  /// The twin whose message this thread is handling.
  static twin_actor* current() noexcept { return current_; }

  twin_actor_state state;

private:
  static thread_local twin_actor* current_;
};

thread_local twin_actor* twin_actor::current_ = nullptr;

using twin_ptr = twin_actor*;

std::string encode(const json& j) {
  std::string out;
  json::to_cbor(j, nlohmann::detail::output_adapter<char>(out));
  return out;
}

expected<json> decode(const std::string& bytes) {
  try {
    return json::from_cbor(bytes);
  } catch (const std::exception& ex) {
    return make_error(errc::corruption,
                      std::string{"stored record does not decode: "}
                        + ex.what());
  }
}

status hydrate(twin_actor_state& s) {
  auto& store = *s.ctx->store;
  auto snap = store.load_snapshot(s.st.id);
  if (!snap)
    return snap.error();
  std::uint64_t from = 1;
  if (*snap) {
    auto j = decode((*snap)->bytes);
    if (!j)
      return j.error();
    auto st = core::state_from_snapshot(*j);
    if (!st)
      return st.error();
    auto id = s.st.id;
    s.st = std::move(*st);
    s.st.id = std::move(id);
    s.snapshot_revision = s.st.revision;
    from = s.st.revision + 1;
  }
  auto tail = store.read_journal(s.st.id, from);
  if (!tail)
    return tail.error();
  for (auto& rec : *tail) {
    auto j = decode(rec.bytes);
    if (!j)
      return j.error();
    auto e = core::event_from_json(*j);
    if (!e)
      return e.error();
    if (e->revision != s.st.revision + 1)
      return make_error(errc::corruption,
                        "journal of '" + s.st.id + "' has a gap before revision "
                          + std::to_string(e->revision));
    s.st = core::evolve(std::move(s.st), *e);
  }
  s.hydrated = true;
  s.st.properties.shrink_to_fit();
  s.st.telemetry.shrink_to_fit();
  s.ctx->metrics->rehydrations.Increment();
  return ok();
}

std::string index_entry(const core::twin_state& st) {
  json j{{"model", st.model.str()}, {"lifecycle", core::to_string(st.life)}};
  // The behaviour runtime lists the index to find the twins it must load,
  // without waking every twin.
  if (st.behaviours.is_object() && !st.behaviours.empty()) {
    json names = json::array();
    for (auto& [name, spec] : st.behaviours.items())
      names.push_back(name);
    j["behaviours"] = std::move(names);
  }
  return j.dump();
}

json audit_record(const core::command& cmd, const std::string& twin,
                  const core::event& e) {
  json detail;
  std::string action;
  switch (e.type) {
    case core::event_type::twin_created:
      action = "twin.create";
      detail = json{{"model", e.model}, {"properties", e.properties}};
      break;
    case core::event_type::property_updated:
      action = "twin.patch";
      detail = json{{"changes", e.properties}, {"revision", e.revision}};
      break;
    case core::event_type::lifecycle_changed:
      action = "twin.lifecycle";
      detail = json{{"from", core::to_string(e.from)},
                    {"to", core::to_string(e.to)},
                    {"reason", e.reason}};
      break;
    case core::event_type::behaviour_attached:
      action = "twin.behaviour.attach";
      detail = json{{"behaviour", e.behaviour}, {"spec", e.spec}};
      break;
    case core::event_type::behaviour_detached:
      action = "twin.behaviour.detach";
      detail = json{{"behaviour", e.behaviour}};
      break;
    case core::event_type::telemetry_received:
    case core::event_type::connectivity_changed:
      return nullptr; // device data and status are lineage, not audit
  }
  return json{{"time", core::format_time(cmd.now)},
              {"principal", cmd.principal},
              {"action", action},
              {"target", twin},
              {"detail", std::move(detail)},
              {"requestId", cmd.request_id}};
}

void flush(twin_ptr self);

/// The `done` of node_options::replicate: sends the twin its write_done
/// once; if never called, fails the write when the last copy goes.
class replication_answer {
public:
  explicit replication_answer(caf::actor twin) : twin_(std::move(twin)) {}
  ~replication_answer() {
    if (!answered_.exchange(true))
      caf::anon_send(twin_, write_done{make_error(
                              errc::unavailable,
                              "replication of the write was abandoned; retry")});
  }
  replication_answer(const replication_answer&) = delete;
  replication_answer& operator=(const replication_answer&) = delete;
  void operator()(status r) {
    if (!answered_.exchange(true))
      caf::anon_send(twin_, write_done{std::move(r)});
  }

private:
  caf::actor twin_;
  std::atomic<bool> answered_{false};
};

/// The history samples of an event: every property and telemetry value it
/// sets (numbers and booleans as numbers, strings as text, objects and
/// arrays as JSON text), at the event's source time. Removals (null) are
/// not samples.
void append_samples(std::vector<persistence::sample>& out,
                    const core::event& e) {
  // One allocation for the event's samples, not a regrowth per doubling.
  out.reserve(out.size() + (e.properties.is_object() ? e.properties.size() : 0)
              + (e.telemetry.is_object() ? e.telemetry.size() : 0));
  for (const json* values : {&e.properties, &e.telemetry}) {
    if (!values->is_object())
      continue;
    for (auto& [name, v] : values->items()) {
      persistence::sample smp;
      smp.time_ms = e.source.source_time;
      if (v.is_number())
        smp.value = v.get<double>();
      else if (v.is_boolean())
        smp.value = v.get<bool>() ? 1.0 : 0.0;
      else if (v.is_string())
        smp.value = v.get<std::string>();
      else if (v.is_null())
        continue;
      else
        smp.value = v.dump();
      smp.series = name;
      out.push_back(std::move(smp));
    }
  }
}

bool has_behaviours(const core::twin_state& st) {
  return st.behaviours.is_object() && !st.behaviours.empty();
}

/// The CloudEvents type of an event (publish_events names them so).
std::string_view cloud_type(core::event_type t) {
  switch (t) {
    case core::event_type::twin_created: return "twin.created";
    case core::event_type::property_updated: return "twin.property_updated";
    case core::event_type::telemetry_received: return "twin.telemetry_received";
    case core::event_type::lifecycle_changed: return "twin.lifecycle_changed";
    case core::event_type::connectivity_changed: return "twin.connectivity_changed";
    case core::event_type::behaviour_attached: return "twin.behaviour_attached";
    case core::event_type::behaviour_detached: return "twin.behaviour_detached";
  }
  return "twin.unknown";
}

/// The change an event of `st` (after the event) is, for change_bus::wants.
transport::change_kind change_of(const core::twin_state& st, core::event_type t) {
  return {cloud_type(t), st.id, has_behaviours(st)};
}

void release(node_context& ctx, const std::string& id,
             std::vector<pending_reply>& replies) {
  for (auto& p : replies) {
    if (p.cacheable && p.response)
      ctx.reads->fill(id, p.revision, *p.response);
    (*p.reply)(std::move(p.response));
  }
  replies.clear();
}

void fail_all(twin_ptr self, const error& err) {
  auto& s = self->state;
  for (auto& p : s.p().flight_replies)
    (*p.reply)(err);
  for (auto& p : s.p().queued_replies)
    (*p.reply)(err);
  s.p().flight_replies.clear();
  s.p().queued_replies.clear();
}

void flush(twin_ptr self) {
  auto& s = self->state;
  if (s.in_flight)
    return;
  if (!s.pipe)
    return;
  if (s.p().queued_write.events.empty() && s.p().queued_audit.empty()) {
    // Nothing to write: everything queued is answerable now.
    release(*s.ctx, s.st.id, s.p().queued_replies);
    return;
  }
  persistence::write_request req;
  s.p().queued_write.twin_id = s.st.id;
  if (s.st.revision - s.snapshot_revision >= s.ctx->options.snapshot_every) {
    s.p().queued_write.snapshot.emplace(s.st.revision,
                                    encode(core::snapshot_json(s.st)));
  }
  req.twins.push_back(std::move(s.p().queued_write));
  req.audit = std::move(s.p().queued_audit);
  s.p().queued_write = persistence::twin_write{};
  s.p().queued_audit.clear();
  s.p().flight_replies = std::move(s.p().queued_replies);
  s.p().queued_replies.clear();
  s.p().flight_events = std::move(s.p().queued_events);
  s.p().queued_events.clear();
  if (req.twins.front().snapshot)
    s.snapshot_revision = req.twins.front().snapshot->first;
  s.in_flight = true;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  if (!s.ctx->options.replicate) {
    s.ctx->store->submit(std::move(req), [me](const status& st) {
      caf::anon_send(me, write_done{st});
    });
    return;
  }
  // Cluster mode: durable locally, then replicated (the changelog), then
  // answered. The next write of this twin waits for write_done, so the
  // hook sees each twin's writes one at a time and in revision order.
  auto committed = std::make_shared<std::vector<persistence::twin_write>>(req.twins);
  node_context* ctx = s.ctx;
  s.ctx->store->submit(std::move(req), [me, ctx, committed](const status& st) {
    if (!st) {
      caf::anon_send(me, write_done{st});
      return;
    }
    // Runs on the store's writer thread. `done` may come from any thread;
    // if the hook drops it uncalled, the write fails (never hangs).
    auto answer = std::make_shared<replication_answer>(me);
    ctx->options.replicate(std::move(*committed),
                           [answer](status r) { (*answer)(std::move(r)); });
  });
}

void publish_events(node_context& ctx, const core::twin_state& st,
                    std::vector<change_event>& events) {
  const auto& twin = st.id;
  for (auto& [t, e] : events) {
    const auto type = cloud_type(t);
    auto id = twin + "-" + std::to_string(e.at("revision").get<std::uint64_t>());
    auto time = e.at("time").get<std::string>();
    const transport::change_kind kind{type, twin, has_behaviours(st)};
    ctx.bus->publish(transport::make_cloud_event(id, std::string{type},
                                                 ctx.source_prefix + twin, twin, time,
                                                 std::move(e)),
                     kind);
  }
  events.clear();
}

void raise_alert(node_context& ctx, core::alert a) {
  persistence::write_request req;
  req.alerts.push_back(core::to_json(a));
  auto stored = req.alerts.front();
  ctx.store->submit(std::move(req), [c = &ctx, stored](const status& st) {
    if (st)
      publish_alert(*c, stored);
  });
}

void handle_command(twin_ptr self, twin_command& msg) {
  auto& s = self->state;
  auto& m = *s.ctx->metrics;
  const std::string& model_id
    = std::holds_alternative<core::create_twin>(msg.cmd.body)
        ? std::get<core::create_twin>(msg.cmd.body).model
        : s.st.model.str();
  auto itf = model_id.empty() ? nullptr
                              : s.ctx->models->find(model::dtmi{model_id});
  core::model_context mc{itf.get(), s.ctx->models};
  auto d = core::decide(s.st, std::move(msg.cmd), mc);
  // Index into node_metrics::command_counters: the variant's order is
  // create, patch, ingest, lifecycle, connectivity, attach, detach.
  auto kind = msg.cmd.body.index();
  if (d.raised) {
    m.rejected_device_data.Increment();
    raise_alert(*s.ctx, std::move(*d.raised));
  }
  if (d.rejection) {
    m.command_counter(kind, true).Increment();
    // A rejection is answered after whatever is queued before it, so the
    // client never sees answers out of order.
    s.p().queued_replies.push_back({msg.reply, std::move(*d.rejection)});
    if (!s.in_flight)
      flush(self);
    return;
  }
  m.command_counter(kind, false).Increment();
  bool index_changed = false;
  for (auto& e : d.events) {
    if (auto a = audit_record(msg.cmd, s.st.id, e); !a.is_null())
      s.p().queued_audit.push_back(std::move(a));
    index_changed |= e.type == core::event_type::twin_created
                     || e.type == core::event_type::lifecycle_changed
                     || e.type == core::event_type::behaviour_attached
                     || e.type == core::event_type::behaviour_detached;
    s.p().queued_write.events.emplace_back(e.revision, core::encode_event(e));
    append_samples(s.p().queued_write.samples, e);
    s.st = core::evolve(std::move(s.st), e);
    // The JSON form only for the change stream, and only when a subscriber
    // wants this change.
    if (s.ctx->bus->wants(change_of(s.st, e.type)))
      s.p().queued_events.push_back({e.type, core::to_json(e)});
  }
  if (index_changed)
    s.p().queued_write.index_entry = index_entry(s.st);
  json response;
  if (std::holds_alternative<core::ingest_values>(msg.cmd.body))
    response = json{{"revision", s.st.revision},
                    {"applied", !d.events.empty()}};
  else if (std::holds_alternative<core::set_connectivity>(msg.cmd.body))
    response = json{{"revision", s.st.revision},
                    {"applied", !d.events.empty()},
                    {"connectivity", core::to_string(s.st.link)}};
  else
    response = core::to_json(s.st);
  s.p().queued_replies.push_back({msg.reply, std::move(response)});
  flush(self);
}

status ensure_hydrated(twin_ptr self) {
  if (self->state.hydrated)
    return ok();
  return hydrate(self->state);
}

void maybe_quit(twin_ptr self) {
  auto& s = self->state;
  s.trim();
  if (s.in_flight || s.has_queued_replies())
    return;
  if (s.passivate) {
    self->quit();
  } else if (!s.st.exists && !s.asked_passivation) {
    // Do not keep actors for ids that do not exist; stopping on our own
    // would race with messages the region is already sending us.
    s.asked_passivation = true;
    self->send(s.region, passivate_me{s.st.id});
  }
}

caf::behavior twin_actor::make_behavior() {
  static caf::behavior shared{
    [](twin_command& msg) {
      auto self = twin_actor::current();
      if (auto st = ensure_hydrated(self); !st) {
        (*msg.reply)(st.error());
        self->quit(caf::make_error(caf::sec::runtime_error, st.error().describe()));
        return;
      }
      handle_command(self, msg);
      maybe_quit(self);
    },
    [](twin_read& msg) {
      auto self = twin_actor::current();
      if (auto st = ensure_hydrated(self); !st) {
        (*msg.reply)(st.error());
        self->quit(caf::make_error(caf::sec::runtime_error, st.error().describe()));
        return;
      }
      auto& s = self->state;
      expected<json> response
        = s.st.exists ? expected<json>{core::to_json(s.st)}
                      : expected<json>{make_error(
                          errc::not_found,
                          "twin '" + s.st.id + "' does not exist")};
      s.p().queued_replies.push_back(
        {msg.reply, std::move(response), s.st.exists, s.st.revision});
      if (!s.in_flight)
        flush(self);
      maybe_quit(self);
    },
    [](write_done& msg) {
      auto self = twin_actor::current();
      auto& s = self->state;
      s.in_flight = false;
      if (!msg.result) {
        // Restart from durable state: every request decided on top of the
        // lost write fails with it, the optimistic state is dropped, and
        // the next message rehydrates from snapshot + journal. (Restarting
        // in place, rather than stopping, means no message can land in a
        // dead mailbox; if rehydration fails the actor stops and the
        // region restarts it with backoff.)
        auto err = msg.result.error();
        fail_all(self, err);
        s.p().queued_events.clear();
        s.p().flight_events.clear();
        s.p().queued_write = persistence::twin_write{};
        s.p().queued_audit.clear();
        auto id = s.st.id;
        s.st = core::twin_state{};
        s.st.id = std::move(id);
        s.snapshot_revision = 0;
        s.hydrated = false;
        s.trim();
        s.ctx->metrics->restarts.Increment();
        return;
      }
      // Invalidate before answering: once a client holds the ack, no read
      // may return the state before it.
      s.ctx->reads->invalidate(s.st.id);
      publish_events(*s.ctx, s.st, s.p().flight_events);
      release(*s.ctx, s.st.id, s.p().flight_replies);
      flush(self);
      maybe_quit(self);
    },
    [](passivate_now) {
      auto self = twin_actor::current();
      self->state.passivate = true;
      maybe_quit(self);
    },
  };
  return shared;
}

} // namespace

caf::actor spawn_twin(caf::event_based_actor* parent, node_context* ctx,
                      std::string id) {
  auto region = caf::actor_cast<caf::actor>(parent);
  return parent->spawn<twin_actor, caf::lazy_init>(ctx, std::move(region),
                                                   std::move(id));
}

void publish_alert(node_context& ctx, const json& stored_alert) {
  ctx.metrics->alerts.Increment();
  auto twin = stored_alert.value("twin", "");
  auto id = "alert-" + std::to_string(++ctx.event_seq);
  ctx.bus->publish(transport::make_cloud_event(
    id, stored_alert.value("type", "twin.alert"), ctx.source_prefix + twin,
    twin, stored_alert.value("time", ""), stored_alert));
}

} // namespace twin::actors::detail
