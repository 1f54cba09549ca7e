// The cluster node: ownership from the Kafka consumer group, restore from
// the changelog, exactly-once apply of the telemetry topic, routing to the
// owner over mTLS. See cluster.hpp and docs/adr/0011-cluster-on-kafka.md.

#include "twin/cluster/cluster.hpp"

#include <algorithm>
#include <atomic>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "peers.hpp"
#include "timer.hpp"
#include "twin/actors/core.hpp"
#include "twin/ids.hpp"
#include "twin/actors/sharding.hpp"
#include "twin/cluster/records.hpp"
#include "twin/kafka/kafka.hpp"

namespace twin::cluster {

using actors::json;
using actors::reply_fn;
using actors::request_context;
using std::chrono::milliseconds;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::int64_t steady_ms() {
  return std::chrono::duration_cast<milliseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

/// Our defaults, then the user's settings (which win): a Kafka that is
/// gone fails a delivery after 15 s instead of librdkafka's 5 minutes, so
/// callers get an answer and a node can still shut down.
kafka::settings to_settings(const std::vector<std::pair<std::string, std::string>>& v,
                            kafka::settings defaults = {}) {
  kafka::settings s{{"message.timeout.ms", "15000"}};
  s.insert(s.end(), defaults.begin(), defaults.end());
  s.insert(s.end(), v.begin(), v.end());
  return s;
}

/// Runs `fn` (which takes ownership of what it closes) on its own thread
/// and waits for it at most `limit`; false if it is still running (it is
/// left to finish or to die with the process).
bool bounded(std::function<void()> fn, milliseconds limit) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  std::thread([fn = std::move(fn), done] {
    fn();
    done->set_value();
  }).detach();
  return fut.wait_for(limit) == std::future_status::ready;
}

// -- errors and principals over the wire ----------------------------------------

json error_json(const error& e) {
  json errs = json::array();
  for (auto& x : e.errors)
    errs.push_back(error_json(x));
  return json{{"code", std::string{to_string(e.code)}}, {"message", e.message},
              {"rule", e.rule}, {"path", e.path}, {"source", e.source},
              {"errors", std::move(errs)}};
}

errc errc_of(const std::string& s) {
  for (int i = 0; i <= static_cast<int>(errc::internal); ++i)
    if (to_string(static_cast<errc>(i)) == s)
      return static_cast<errc>(i);
  return errc::internal;
}

error error_of(const json& j) {
  error e;
  e.code = errc_of(j.value("code", "internal"));
  e.message = j.value("message", "");
  e.rule = j.value("rule", "");
  e.path = j.value("path", "");
  e.source = j.value("source", "");
  if (auto it = j.find("errors"); it != j.end() && it->is_array())
    for (auto& x : *it)
      e.errors.push_back(error_of(x));
  return e;
}

std::string answer_json(const expected<json>& r) {
  if (r)
    return json{{"ok", *r}}.dump();
  return json{{"error", error_json(r.error())}}.dump();
}

json principal_json(const security::principal& p) {
  json roles = json::array();
  for (auto r : p.roles)
    roles.push_back(std::string{security::to_string(r)});
  return json{{"name", p.name}, {"roles", std::move(roles)}};
}

security::principal principal_of(const json& j) {
  security::principal p;
  p.name = j.value("name", "");
  const json roles = j.value("roles", json::array());
  for (auto& r : roles) {
    auto s = r.get<std::string>();
    for (auto role : {security::role::viewer, security::role::operator_, security::role::admin})
      if (security::to_string(role) == s)
        p.roles.push_back(role);
  }
  return p;
}

/// A permanent outcome of applying a record: retrying cannot change it.
bool permanent(const error& e) {
  switch (e.code) {
  case errc::unavailable:
  case errc::storage_failure:
  case errc::internal:
    return false;
  default:
    return true;
  }
}

const std::string not_owner = "not_owner";

/// POST /telemetry's body checked and parsed the way the node parses it,
/// so that a bad body is refused where it arrives, not dropped later.
expected<actors::device_data> parse_rest_ingest(const json& body) {
  if (!body.is_object())
    return make_error(errc::bad_request, "body must be a JSON object", "body-shape", "");
  actors::device_data d;
  if (auto v = body.find("values"); v != body.end()) {
    if (!v->is_object())
      return make_error(errc::bad_request, "values must be an object", "body-shape",
                        "/values");
    d.values = *v;
  }
  if (auto t = body.find("sourceTime"); t != body.end()) {
    auto parsed = t->is_string() ? actors::core::parse_time(t->get<std::string>())
                                 : std::nullopt;
    if (!parsed)
      return make_error(errc::bad_request, "sourceTime must be an RFC 3339 timestamp",
                        "time-format", "/sourceTime");
    d.source_time_ms = parsed;
  }
  if (auto s = body.find("source"); s != body.end()) {
    if (!s->is_string())
      return make_error(errc::bad_request, "source must be a string", "body-shape",
                        "/source");
    d.source = s->get<std::string>();
  }
  if (auto q = body.find("sequence"); q != body.end()) {
    if (!q->is_number_integer())
      return make_error(errc::bad_request, "sequence must be an integer", "body-shape",
                        "/sequence");
    d.sequence = q->get<std::int64_t>();
  }
  if (auto pv = body.find("pipelineVersion"); pv != body.end()) {
    if (!pv->is_string())
      return make_error(errc::bad_request, "pipelineVersion must be a string",
                        "body-shape", "/pipelineVersion");
    d.pipeline_version = pv->get<std::string>();
  }
  d.source_kind = "sensor";
  return d;
}

// -- the changelog producer ------------------------------------------------------

class replicator_impl final : public replicator {
public:
  replicator_impl(std::unique_ptr<kafka::producer> p, std::string topic, std::string node,
                  std::size_t shards)
    : producer_(std::move(p)), topic_(std::move(topic)), node_(std::move(node)),
      shards_(shards), next_(shards, 0), failed_(shards, false), fenced_(shards, true) {}

  void replicate(std::vector<persistence::twin_write> writes,
                 std::function<void(status)> done) override {
    if (writes.empty())
      return done(ok());
    struct state {
      std::atomic<std::size_t> left;
      std::mutex mtx;
      std::optional<error> err;
      std::function<void(status)> done;
    };
    auto s = std::make_shared<state>();
    s->left = writes.size();
    s->done = std::move(done);
    auto finish_one = [s](std::optional<error> e) {
      if (e) {
        std::lock_guard lk{s->mtx};
        if (!s->err)
          s->err = std::move(e);
      }
      if (--s->left == 0) {
        if (s->err)
          s->done(*s->err);
        else
          s->done(ok());
      }
    };
    for (auto& w : writes) {
      auto p = actors::shard_of(w.twin_id, static_cast<std::uint32_t>(shards_));
      {
        std::lock_guard lk{mtx_};
        if (fenced_[p]) {
          failed_[p] = true;
          finish_one(make_error(errc::unavailable,
                                "shard " + std::to_string(p)
                                  + " moved to another node while this write was in "
                                    "flight; retry"));
          continue;
        }
      }
      producer_->produce(topic_, w.twin_id, encode(w, node_),
                         [this, p, finish_one](const kafka::delivery& d) {
                           if (!d.result) {
                             std::lock_guard lk{mtx_};
                             failed_[p] = true;
                             finish_one(make_error(errc::unavailable,
                                                   "changelog write failed: "
                                                     + d.result.error().message));
                             return;
                           }
                           {
                             std::lock_guard lk{mtx_};
                             next_[p] = std::max(next_[p], d.offset + 1);
                           }
                           finish_one(std::nullopt);
                         },
                         static_cast<std::int32_t>(p));
    }
  }

  /// Shard p restored up to `next`: accept its writes.
  void open(std::uint32_t p, std::int64_t next) {
    std::lock_guard lk{mtx_};
    next_[p] = next;
    failed_[p] = false;
    fenced_[p] = false;
  }
  /// Shard p is being given away: refuse its writes from now on.
  void fence(std::uint32_t p) {
    std::lock_guard lk{mtx_};
    fenced_[p] = true;
  }
  /// (next changelog offset, whether every write since open() made it).
  std::pair<std::int64_t, bool> position(std::uint32_t p) {
    std::lock_guard lk{mtx_};
    return {next_[p], !failed_[p]};
  }
  status flush(milliseconds t) { return producer_->flush(t); }
  const std::string& topic() const { return topic_; }

private:
  std::unique_ptr<kafka::producer> producer_;
  std::string topic_, node_;
  std::size_t shards_;
  std::mutex mtx_;
  std::vector<std::int64_t> next_;
  std::vector<bool> failed_, fenced_;
};

struct live_subscription final : actors::subscription {
  std::function<void()> cancel;
  ~live_subscription() override {
    if (cancel)
      cancel();
  }
};

} // namespace

expected<std::shared_ptr<replicator>> replicator::create(const cluster_options& o,
                                                         std::size_t shards) {
  auto settings = to_settings(o.kafka_settings);
  auto p = kafka::producer::create(o.bootstrap, settings, true);
  if (!p)
    return p.error();
  return std::shared_ptr<replicator>(std::make_shared<replicator_impl>(
    std::move(*p), o.topic_prefix + "changelog", o.node_id, shards));
}

// -- the node -------------------------------------------------------------------

struct cluster_node::impl {
  enum class shard_state : std::uint8_t { unassigned, restoring, serving };

  actors::node& local;
  cluster_options o;
  std::shared_ptr<replicator_impl> repl;
  std::uint32_t shards = 0;
  std::optional<security::node_identity> identity;
  std::optional<security::trust_anchor> ca;
  std::string t_telemetry, t_changelog, t_events, t_cluster;
  std::int64_t started = now_ms();
  std::ostream& log;
  std::mutex log_mtx;

  std::unique_ptr<kafka::producer> producer; // telemetry, cluster, events
  std::unique_ptr<kafka::reader> restore_reader;
  std::mutex sync_mtx;
  std::unique_ptr<kafka::reader> sync_reader; // cluster topic watermarks
  std::unique_ptr<kafka::tailer> cluster_tail;
  std::unique_ptr<kafka::tailer> events_tail;
  std::unique_ptr<kafka::group_consumer> consumer;
  std::unique_ptr<detail::peer_link> link;
  std::unique_ptr<actors::subscription> local_events;
  detail::timer_queue timers;

  std::mutex mtx; // everything below
  std::vector<shard_state> state;
  std::vector<kafka::offset_tracker> trackers;
  std::vector<std::int64_t> committed;
  std::map<std::uint32_t, shard_progress> progress;
  std::map<std::uint32_t, std::int64_t> lag;
  routing_table routes{4000};
  std::size_t in_flight = 0;
  bool paused = false;
  std::atomic<std::int64_t> cluster_offset{-1}; // last cluster-topic offset seen
  std::size_t verified_peers = 0, rejected_peers = 0;
  std::map<std::uint64_t, std::function<void(const json&)>> subscribers;
  std::uint64_t next_sub = 0;
  std::string endpoint;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> forwarded{0};
  /// False when stop() had to leave a part (Kafka consumer, peer link)
  /// still shutting down.
  bool clean = true;

  // metrics
  prometheus::Family<prometheus::Gauge>* lag_family = nullptr;
  prometheus::Family<prometheus::Gauge>* restore_family = nullptr;
  prometheus::Counter* forwarded_total = nullptr;
  prometheus::Counter* produced_total = nullptr;
  prometheus::Counter* applied_total = nullptr;
  prometheus::Counter* rejected_total = nullptr;
  prometheus::Counter* bad_records = nullptr;
  prometheus::Gauge* owned_gauge = nullptr;
  prometheus::Gauge* peers_gauge = nullptr;

  impl(actors::node& n, cluster_options opts)
    : local(n), o(std::move(opts)), log(o.log ? *o.log : std::cerr) {}

  template <class... Ts>
  void say(const Ts&... xs) {
    std::ostringstream os;
    os << "cluster[" << o.node_id << "]: ";
    (os << ... << xs);
    std::lock_guard lk{log_mtx};
    log << os.str() << std::endl;
  }

  request_context system_ctx(const std::string& name = "cluster") {
    return request_context{security::principal{name, {security::role::admin}},
                           "cluster-" + std::to_string(steady_ms())};
  }

  bool serving(std::uint32_t s) {
    std::lock_guard lk{mtx};
    return state[s] == shard_state::serving;
  }

  std::uint32_t shard_of(const std::string& id) const {
    return actors::shard_of(id, shards);
  }

  // -- announcements ----------------------------------------------------------

  announcement self_announcement(bool leaving) {
    announcement a;
    a.node = o.node_id;
    a.endpoint = endpoint;
    a.time_ms = now_ms();
    a.started_ms = started;
    a.leaving = leaving;
    a.certificate = identity->certificate_pem();
    a.forwarded = forwarded.load();
    std::lock_guard lk{mtx};
    a.http = o.http_url;
    for (std::uint32_t s = 0; s < shards; ++s)
      if (state[s] == shard_state::serving && !leaving)
        a.shards.push_back(s);
    for (auto& [s, p] : progress)
      a.restoring[s] = p;
    a.lag = lag;
    return a;
  }

  void announce(bool leaving = false) {
    auto a = self_announcement(leaving);
    auto sig = security::to_base64(identity->sign(signed_bytes(a)));
    auto bytes = encode(a, sig);
    // Our own view first: requests routed right after a change see it.
    {
      std::lock_guard lk{mtx};
      routes.apply(a, now_ms());
    }
    std::promise<void> sent;
    auto fut = sent.get_future();
    producer->produce(t_cluster, o.node_id, bytes,
                      [this, leaving, p = std::make_shared<std::promise<void>>(std::move(sent))](
                        const kafka::delivery& d) {
                        if (!d.result)
                          say("announcement not delivered: ", d.result.error().message);
                        if (leaving)
                          p->set_value();
                      },
                      0);
    if (leaving)
      fut.wait_for(std::chrono::seconds{3});
  }

  void on_cluster_record(kafka::record&& rec) {
    auto r = decode_cluster(rec.value);
    cluster_offset = rec.offset;
    if (!r) {
      bad_records->Increment();
      say("cluster topic offset ", rec.offset, ": ", r.error().message);
      return;
    }
    if (r->kind == "models") {
      if (r->models.value("node", "") == o.node_id)
        return; // ours, stored already
      if (auto st = local.import_models(r->models["documents"]); !st)
        say("models from ", r->models.value("node", ""), " not imported: ",
            st.error().describe());
      return;
    }
    auto& sa = *r->announce;
    auto sig = security::from_base64(sa.signature_b64);
    expected<std::string> who = sig ? ca->verify_signed(sa.a.certificate,
                                                        signed_bytes(sa.a), *sig)
                                    : expected<std::string>{sig.error()};
    auto now = now_ms();
    std::lock_guard lk{mtx};
    if (!who || *who != sa.a.node) {
      if (now - rec.timestamp_ms < 60'000 || rec.timestamp_ms == 0)
        ++rejected_peers;
      say("rejected announcement of '", sa.a.node, "': ",
          who ? "its certificate names '" + *who + "'" : who.error().message);
      return;
    }
    if (sa.a.node == o.node_id && sa.a.started_ms == started)
      return; // our own echo; applied when sent
    // History read at start: an old announcement counts from its own time.
    auto seen = (rec.timestamp_ms > 0 && now - rec.timestamp_ms > o.node_timeout.count())
                  ? rec.timestamp_ms
                  : now;
    if (sa.a.node != o.node_id) {
      ++verified_peers;
      if (link && !sa.a.leaving && seen == now)
        link->introduce(sa.a.node, sa.a.endpoint);
    }
    routes.apply(sa.a, seen);
  }

  /// Waits (bounded) until the cluster topic has been read up to its end
  /// as of now: models uploaded elsewhere are known here afterwards.
  bool sync_cluster_topic(milliseconds limit) {
    std::int64_t high = 0;
    {
      std::lock_guard lk{sync_mtx};
      auto wm = sync_reader->watermarks(t_cluster, 0, milliseconds{3000});
      if (!wm)
        return false;
      high = wm->second;
    }
    auto deadline = steady_ms() + limit.count();
    while (cluster_offset.load() + 1 < high) {
      if (steady_ms() > deadline)
        return false;
      std::this_thread::sleep_for(milliseconds{10});
    }
    return true;
  }

  // -- ownership ----------------------------------------------------------------

  void wait_release(std::uint32_t s) {
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    local.release_shard(s, [done] { done->set_value(); });
    if (fut.wait_for(std::chrono::seconds{60}) != std::future_status::ready)
      say("shard ", s, ": twins still busy after 60 s of release");
  }

  std::string checkpoint_key(std::uint32_t s) const {
    return "cluster.changelog." + std::to_string(s);
  }

  /// Brings the local store's twins of shard s to the changelog's state.
  status restore(std::uint32_t s) {
    auto t0 = steady_ms();
    wait_release(s);
    auto& st = local.store();
    std::int64_t from = 0;
    bool clean = false;
    if (auto m = st.get_meta(checkpoint_key(s)); m && *m) {
      try {
        from = std::stoll(**m);
        clean = true;
      } catch (...) {
      }
    }
    // From now on the local copy may run ahead of the changelog until the
    // next clean hand-over.
    if (auto d = st.delete_meta(checkpoint_key(s)); !d)
      return d.error();
    auto wm = restore_reader->watermarks(t_changelog, static_cast<std::int32_t>(s),
                                         milliseconds{10000});
    if (!wm)
      return wm.error();
    from = std::max(from, wm->first);
    auto high = wm->second;
    {
      std::lock_guard lk{mtx};
      progress[s] = shard_progress{0, static_cast<std::uint64_t>(std::max<std::int64_t>(0, high - from)), 0, false};
    }
    std::map<std::string, std::uint64_t> seen;
    persistence::write_request batch;
    status failure = ok();
    auto flush = [&] {
      if (batch.twins.empty() || !failure)
        return;
      if (auto w = st.write(std::move(batch)); !w)
        failure = w.error();
      batch = {};
    };
    std::uint64_t n = 0;
    if (high > from) {
      auto reached = restore_reader->read_to_end(
        t_changelog, static_cast<std::int32_t>(s), from,
        [&](const kafka::record& rec) {
          ++n;
          if (n % 256 == 0) {
            std::lock_guard lk{mtx};
            progress[s].records = n;
            progress[s].elapsed_ms = steady_ms() - t0;
          }
          auto cr = decode_changelog(rec.value);
          if (!cr) {
            bad_records->Increment();
            say("changelog ", s, "@", rec.offset, ": ", cr.error().message);
            return;
          }
          auto& w = cr->write;
          if (!w.events.empty()) {
            auto& top = seen[w.twin_id];
            top = std::max(top, w.events.back().first);
            // Skip events the local journal already holds byte for byte
            // (and their samples: history must not count them twice).
            auto have = st.read_journal(w.twin_id, w.events.front().first,
                                        w.events.back().first);
            bool same = have && have->size() == w.events.size();
            for (std::size_t i = 0; same && i < w.events.size(); ++i)
              same = (*have)[i].revision == w.events[i].first
                     && (*have)[i].bytes == w.events[i].second;
            if (same) {
              w.events.clear();
              w.samples.clear();
            }
          }
          if (w.events.empty() && !w.snapshot && !w.index_entry)
            return;
          batch.twins.push_back(std::move(w));
          if (batch.twins.size() >= 256)
            flush();
        },
        milliseconds{120000});
      if (!reached)
        return reached.error();
    }
    flush();
    if (!failure)
      return failure;
    // Local revisions beyond the changelog were never acknowledged (the
    // owner answers only after the changelog has them): drop them. Without
    // a clean checkpoint, twins of this shard the changelog does not know
    // at all are dropped too.
    persistence::write_request trunc;
    for (auto& [twin, top] : seen)
      trunc.truncate.emplace_back(twin, top);
    if (!clean) {
      auto scan = st.scan_index("", [&](const std::string& id, const std::string&) {
        if (shard_of(id) == s && !seen.count(id))
          trunc.truncate.emplace_back(id, 0);
        return true;
      });
      if (!scan)
        return scan.error();
    }
    if (!trunc.truncate.empty())
      if (auto w = st.write(std::move(trunc)); !w)
        return w.error();
    repl->open(s, high);
    auto elapsed = steady_ms() - t0;
    {
      std::lock_guard lk{mtx};
      progress[s] = shard_progress{n, n, elapsed, true};
    }
    restore_family->Add({{"shard", std::to_string(s)}}).Set(static_cast<double>(elapsed) / 1000.0);
    say("shard ", s, " restored: ", n, " changelog records from offset ", from,
        clean ? " (clean checkpoint)" : " (full)", " in ", elapsed, " ms");
    return ok();
  }

  void on_assigned(std::vector<std::int32_t> parts) {
    std::sort(parts.begin(), parts.end());
    {
      std::lock_guard lk{mtx};
      for (auto p : parts) {
        state[p] = shard_state::restoring;
        trackers[p] = kafka::offset_tracker{};
        committed[p] = -1;
      }
    }
    announce();
    std::vector<std::int32_t> failed;
    for (auto p : parts) {
      auto s = static_cast<std::uint32_t>(p);
      auto st = restore(s);
      std::lock_guard lk{mtx};
      if (!st) {
        say("shard ", s, " NOT restored: ", st.error().describe(),
            "; it stays unserved until the next rebalance");
        state[s] = shard_state::unassigned;
        failed.push_back(p);
        continue;
      }
      state[s] = shard_state::serving;
    }
    if (!failed.empty())
      consumer_pause(failed);
    update_owned();
    announce();
  }

  void consumer_pause(const std::vector<std::int32_t>& parts) {
    // Records of an unrestored shard must not be applied; pausing keeps them
    // in Kafka for whoever restores it.
    if (consumer)
      consumer->pause(parts);
  }

  void on_revoked(std::vector<std::int32_t> parts) {
    {
      std::lock_guard lk{mtx};
      for (auto p : parts)
        state[p] = shard_state::unassigned;
    }
    announce();
    for (auto p : parts) {
      auto s = static_cast<std::uint32_t>(p);
      // Let applied-but-not-durable records finish (bounded), then commit.
      auto deadline = steady_ms() + 10000;
      for (;;) {
        std::size_t busy = 0;
        {
          std::lock_guard lk{mtx};
          busy = trackers[s].in_flight();
        }
        if (busy == 0 || steady_ms() > deadline)
          break;
        std::this_thread::sleep_for(milliseconds{5});
      }
      commit_shard(s);
      // Twins leave memory once their in-flight writes are replicated;
      // then no further write of this shard may reach the changelog.
      wait_release(s);
      repl->fence(s);
      (void) repl->flush(milliseconds{10000});
      auto [next, intact] = repl->position(s);
      if (intact) {
        if (auto st = local.store().put_meta(checkpoint_key(s), std::to_string(next)); !st)
          say("shard ", s, ": checkpoint not stored: ", st.error().describe());
      }
      std::lock_guard lk{mtx};
      progress.erase(s);
      lag.erase(s);
    }
    update_owned();
    std::string list;
    for (auto p : parts)
      list += (list.empty() ? "" : ",") + std::to_string(p);
    say("released shards ", list);
  }

  void update_owned() {
    std::size_t n = 0;
    {
      std::lock_guard lk{mtx};
      for (auto st : state)
        n += st == shard_state::serving;
    }
    owned_gauge->Set(static_cast<double>(n));
  }

  // -- applying the telemetry topic ---------------------------------------------

  void on_record(kafka::record&& rec) {
    auto s = static_cast<std::uint32_t>(rec.partition);
    {
      std::lock_guard lk{mtx};
      if (state[s] != shard_state::serving)
        return; // not ours (yet): it stays uncommitted for the owner
      trackers[s].started(rec.offset);
      ++in_flight;
      if (!paused && in_flight >= o.max_in_flight) {
        paused = true;
        std::vector<std::int32_t> mine;
        for (std::uint32_t i = 0; i < shards; ++i)
          if (state[i] == shard_state::serving)
            mine.push_back(static_cast<std::int32_t>(i));
        consumer->pause(mine);
      }
    }
    auto r = decode_ingest(rec.value);
    if (!r) {
      bad_records->Increment();
      say("telemetry ", s, "@", rec.offset, " dropped: ", r.error().message);
      return finished(s, rec.offset);
    }
    apply(s, rec.offset, std::make_shared<ingest_record>(std::move(*r)), 0);
  }

  void apply(std::uint32_t s, std::int64_t offset, std::shared_ptr<ingest_record> r,
             int attempt) {
    request_context ctx{security::principal{r->principal, {security::role::operator_}},
                        r->request_id};
    auto done = [this, s, offset, r, attempt](expected<json> res) {
      if (res || permanent(res.error())) {
        if (res)
          applied_total->Increment();
        else {
          rejected_total->Increment();
          say("telemetry for ", r->twin, " (", s, "@", offset, ") rejected: ",
              res.error().describe());
        }
        return finished(s, offset);
      }
      // Transient (store or changelog trouble): retry while we own the shard;
      // else leave it uncommitted for the next owner.
      if (!serving(s) || stopping.load())
        return;
      timers.after(milliseconds{std::min(2000, 100 << std::min(attempt, 4))},
                   [this, s, offset, r, attempt] { apply(s, offset, r, attempt + 1); });
    };
    if (r->kind == "connectivity") {
      auto u = r->link;
      u.bus_offset = offset;
      local.set_connectivity(ctx, r->twin, std::move(u), done);
    } else {
      auto d = r->data;
      d.bus_offset = offset;
      local.ingest_data(ctx, r->twin, std::move(d), done);
    }
  }

  void finished(std::uint32_t s, std::int64_t offset) {
    std::lock_guard lk{mtx};
    trackers[s].done(offset);
    if (in_flight > 0)
      --in_flight;
    if (paused && in_flight <= o.max_in_flight / 2) {
      paused = false;
      std::vector<std::int32_t> mine;
      for (std::uint32_t i = 0; i < shards; ++i)
        if (state[i] == shard_state::serving)
          mine.push_back(static_cast<std::int32_t>(i));
      consumer->resume(mine);
    }
  }

  void commit_shard(std::uint32_t s) {
    std::int64_t c = -1;
    {
      std::lock_guard lk{mtx};
      c = trackers[s].committable();
      if (c < 0 || c <= committed[s])
        return;
      committed[s] = c;
    }
    consumer->commit(static_cast<std::int32_t>(s), c);
  }

  void tick_commit() {
    if (stopping.load())
      return;
    for (std::uint32_t s = 0; s < shards; ++s)
      if (serving(s))
        commit_shard(s);
    timers.after(milliseconds{200}, [this] { tick_commit(); });
  }

  void tick_announce() {
    if (stopping.load())
      return;
    if (consumer) {
      auto l = consumer->lag(milliseconds{2000});
      if (l) {
        std::lock_guard lk{mtx};
        lag.clear();
        for (auto& x : *l) {
          auto s = static_cast<std::uint32_t>(x.partition);
          if (state[s] != shard_state::serving)
            continue;
          auto n = std::max<std::int64_t>(0, x.high - std::max<std::int64_t>(0, x.committed));
          lag[s] = n;
          lag_family->Add({{"shard", std::to_string(s)}}).Set(static_cast<double>(n));
        }
      }
    }
    announce();
    {
      std::lock_guard lk{mtx};
      peers_gauge->Set(static_cast<double>(routes.alive_nodes(now_ms()).size()));
    }
    timers.after(o.announce_interval, [this] { tick_announce(); });
  }

  // -- routing ----------------------------------------------------------------

  /// Runs `local_fn` if this node serves the twin's shard, else forwards
  /// `req` to the owner; waits (bounded) while the shard has no owner.
  void dispatch(const std::string& twin, json req, std::function<void(reply_fn)> local_fn,
                reply_fn reply, std::int64_t deadline = 0) {
    if (deadline == 0)
      deadline = steady_ms() + o.move_wait.count();
    auto s = shard_of(twin);
    if (serving(s))
      return local_fn(std::move(reply));
    std::optional<std::string> owner;
    std::string ep;
    {
      std::lock_guard lk{mtx};
      owner = routes.owner(s, now_ms());
      if (owner)
        if (auto* e = routes.find(*owner))
          ep = e->last.endpoint;
    }
    auto retry = [this, twin, req, local_fn, reply, deadline, s](const std::string& why) mutable {
      if (steady_ms() >= deadline || stopping.load())
        return reply(make_error(errc::unavailable,
                                "shard " + std::to_string(s) + " of twin '" + twin
                                  + "' has no serving owner right now (" + why
                                  + "); retry",
                                "shard-moving"));
      timers.after(milliseconds{50}, [this, twin, req, local_fn, reply, deadline]() mutable {
        dispatch(twin, std::move(req), std::move(local_fn), std::move(reply), deadline);
      });
    };
    if (!owner || *owner == o.node_id || ep.empty())
      return retry(owner ? "restoring here" : "moving");
    forwarded++;
    forwarded_total->Increment();
    link->call(*owner, ep, req.dump(), o.forward_timeout,
               [this, owner = *owner, reply, retry](expected<std::string> r) mutable {
                 if (!r)
                   return retry(r.error().message);
                 auto j = json::parse(*r, nullptr, false);
                 if (j.is_discarded())
                   return reply(make_error(errc::internal, "bad answer from " + owner));
                 if (auto ok = j.find("ok"); ok != j.end())
                   return reply(std::move(*ok));
                 auto e = error_of(j.value("error", json::object()));
                 if (e.rule == not_owner)
                   return retry("it moved from " + owner);
                 reply(std::move(e));
               });
  }

  /// Creates a twin here; a model not known yet may still be on its way
  /// from the cluster topic (uploaded on another node): catch up, retry once.
  void create_local(const request_context& ctx, const std::string& id, json body,
                    reply_fn reply) {
    local.create_twin(ctx, id, body, [this, ctx, id, body, reply](expected<json> r) mutable {
      if (r || r.error().rule != "unknown-model" || stopping.load())
        return reply(std::move(r));
      std::thread([this, ctx, id, body = std::move(body), reply = std::move(reply)]() mutable {
        sync_cluster_topic(milliseconds{3000});
        local.create_twin(ctx, id, std::move(body), std::move(reply));
      }).detach();
    });
  }

  json request(const std::string& op, const request_context& ctx, const std::string& twin) {
    return json{{"op", op}, {"twin", twin}, {"principal", principal_json(ctx.who)},
                {"requestId", ctx.request_id}, {"via", o.node_id}};
  }

  /// Serves a request from a peer (CAF thread).
  void serve(std::string text, std::function<void(std::string)> respond) {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return respond(answer_json(make_error(errc::bad_request, "not a JSON request")));
    auto op = j.value("op", "");
    request_context ctx{principal_of(j.value("principal", json::object())),
                        j.value("requestId", "")};
    auto reply = [respond](expected<json> r) { respond(answer_json(r)); };
    if (op == "list") {
      actors::list_query q;
      q.model = j.value("model", "");
      q.lifecycle = j.value("lifecycle", "");
      q.after = j.value("after", "");
      q.limit = j.value("limit", std::size_t{100});
      q.include = [this](const std::string& id) { return serving(shard_of(id)); };
      return local.list_twins(ctx, std::move(q), reply);
    }
    auto twin = j.value("twin", "");
    if (!serving(shard_of(twin)))
      return respond(answer_json(make_error(errc::unavailable,
                                            o.node_id + " does not serve twin '" + twin
                                              + "'",
                                            not_owner)));
    if (op == "create")
      return create_local(ctx, twin, j["body"], reply);
    if (op == "get")
      return local.get_twin(ctx, twin, reply);
    if (op == "patch") {
      std::optional<std::uint64_t> m;
      if (j.contains("ifMatch") && !j["ifMatch"].is_null())
        m = j["ifMatch"].get<std::uint64_t>();
      return local.patch_twin(ctx, twin, j["body"], m, reply);
    }
    if (op == "transition")
      return local.transition(ctx, twin, j["body"], reply);
    if (op == "lineage") {
      std::optional<std::string> at;
      if (j.contains("at") && j["at"].is_string())
        at = j["at"].get<std::string>();
      return local.lineage(ctx, twin, j.value("property", ""), at, reply);
    }
    if (op == "history") {
      actors::history_request q;
      q.name = j.value("name", "");
      q.from = j.value("from", "");
      q.to = j.value("to", "");
      q.resolution = j.value("resolution", "auto");
      q.limit = j.value("limit", std::size_t{10000});
      return local.history(ctx, twin, std::move(q), reply);
    }
    if (op == "attach")
      return local.attach_behaviour(ctx, twin, j.value("name", ""), j["body"], reply);
    if (op == "detach")
      return local.detach_behaviour(ctx, twin, j.value("name", ""), reply);
    respond(answer_json(make_error(errc::bad_request, "unknown cluster op '" + op + "'")));
  }

  /// Produces device data to the telemetry topic; answers when Kafka has it.
  void produce_ingest(const request_context& ctx, ingest_record r, reply_fn reply) {
    if (!is_valid_twin_id(r.twin))
      return reply(make_error(errc::bad_request,
                              "invalid twin id: 1..128 of [A-Za-z0-9._:-]", "twin-id", "/$id"));
    if (auto st = security::authorize(ctx.who, security::action::ingest); !st)
      return reply(st.error());
    r.principal = ctx.who.name;
    r.request_id = ctx.request_id;
    r.via = o.node_id;
    auto s = shard_of(r.twin);
    auto key = r.twin;
    producer->produce(t_telemetry, key, encode(r),
                      [this, reply = std::move(reply)](const kafka::delivery& d) {
                        if (!d.result)
                          return reply(make_error(errc::unavailable,
                                                  "telemetry not accepted by Kafka: "
                                                    + d.result.error().message));
                        produced_total->Increment();
                        reply(json{{"accepted", true},
                                   {"partition", d.partition},
                                   {"offset", d.offset}});
                      },
                      static_cast<std::int32_t>(s));
  }

  // -- the change stream --------------------------------------------------------

  void on_change_event(kafka::record&& rec) {
    auto j = json::parse(rec.value, nullptr, false);
    if (j.is_discarded())
      return;
    std::vector<std::function<void(const json&)>> subs;
    {
      std::lock_guard lk{mtx};
      for (auto& [id, f] : subscribers)
        subs.push_back(f);
    }
    for (auto& f : subs)
      f(j);
  }

  json status_json() {
    auto now = now_ms();
    std::lock_guard lk{mtx};
    json nodes = json::array();
    std::map<std::uint32_t, std::string> owner;
    for (auto& [id, e] : routes.nodes()) {
      bool alive = routes.alive(id, now);
      if (!alive && now - e.seen_ms > 10 * o.node_timeout.count())
        continue; // long gone
      nodes.push_back(json{{"id", id},
                           {"endpoint", e.last.endpoint},
                           {"http", e.last.http},
                           {"shards", e.last.shards},
                           {"lastSeenMs", now - e.seen_ms},
                           {"alive", alive},
                           {"self", id == o.node_id}});
    }
    json states = json::array();
    for (std::uint32_t s = 0; s < shards; ++s) {
      json st{{"shard", s}};
      auto own = routes.owner(s, now);
      std::string state_name = "unassigned";
      const announcement* a = nullptr;
      if (own) {
        state_name = "serving";
        if (auto* e = routes.find(*own))
          a = &e->last;
      } else {
        // A node restoring it?
        for (auto& [id, e] : routes.nodes())
          if (routes.alive(id, now) && e.last.restoring.count(s)
              && !e.last.restoring.at(s).done) {
            own = id;
            a = &e.last;
            state_name = "restoring";
          }
      }
      st["owner"] = own ? json(*own) : json(nullptr);
      st["state"] = state_name;
      st["lag"] = nullptr;
      if (a) {
        if (auto it = a->lag.find(s); it != a->lag.end())
          st["lag"] = it->second;
        if (auto it = a->restoring.find(s); it != a->restoring.end())
          st["restore"] = json{{"records", it->second.records},
                               {"total", it->second.total},
                               {"elapsedMs", it->second.elapsed_ms}};
      }
      states.push_back(std::move(st));
    }
    return json{{"mode", "cluster"},
                {"nodeId", o.node_id},
                {"shards", shards},
                {"forwarded", forwarded.load()},
                {"nodes", std::move(nodes)},
                {"shardStates", std::move(states)}};
  }
};

// -- start / stop ---------------------------------------------------------------

cluster_node::cluster_node(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

cluster_node::~cluster_node() {
  stop();
}

expected<std::unique_ptr<cluster_node>>
cluster_node::start(actors::node& local, std::shared_ptr<replicator> repl,
                    cluster_options o) {
  auto p = std::make_unique<impl>(local, std::move(o));
  auto& x = *p;
  x.repl = std::dynamic_pointer_cast<replicator_impl>(repl);
  if (!x.repl)
    return make_error(errc::internal, "cluster: the replicator was not made by replicator::create");
  x.shards = static_cast<std::uint32_t>(local.shard_count());
  x.routes = routing_table{x.o.node_timeout.count()};
  x.state.assign(x.shards, impl::shard_state::unassigned);
  x.trackers.assign(x.shards, kafka::offset_tracker{});
  x.committed.assign(x.shards, -1);
  x.t_telemetry = x.o.topic_prefix + "telemetry";
  x.t_changelog = x.o.topic_prefix + "changelog";
  x.t_events = x.o.topic_prefix + "events";
  x.t_cluster = x.o.topic_prefix + "cluster";

  // Identity first: CAF would die at the first connection on a bad file.
  auto id = security::node_identity::load(x.o.tls);
  if (!id)
    return id.error();
  if (id->node_id() != x.o.node_id)
    return make_error(errc::bad_request, "cluster certificate " + x.o.tls.certificate
                                           + " is issued to '" + id->node_id()
                                           + "', not to --node-id '" + x.o.node_id + "'");
  x.identity.emplace(std::move(*id));
  auto ca = security::trust_anchor::load(x.o.tls.ca);
  if (!ca)
    return ca.error();
  x.ca.emplace(std::move(*ca));

  auto& reg = local.metrics();
  x.lag_family = &prometheus::BuildGauge().Name("twin_cluster_shard_lag")
                    .Help("Telemetry records not yet applied, per owned shard").Register(reg);
  x.restore_family = &prometheus::BuildGauge().Name("twin_cluster_restore_seconds")
                        .Help("Duration of the last restore of a shard from the changelog")
                        .Register(reg);
  x.forwarded_total = &prometheus::BuildCounter().Name("twin_cluster_forwarded_total")
                         .Help("Requests forwarded to the owner node").Register(reg).Add({});
  auto& ingest = prometheus::BuildCounter().Name("twin_cluster_telemetry_total")
                   .Help("Telemetry records by outcome").Register(reg);
  x.produced_total = &ingest.Add({{"outcome", "produced"}});
  x.applied_total = &ingest.Add({{"outcome", "applied"}});
  x.rejected_total = &ingest.Add({{"outcome", "rejected"}});
  x.bad_records = &ingest.Add({{"outcome", "undecodable"}});
  x.owned_gauge = &prometheus::BuildGauge().Name("twin_cluster_shards_served")
                     .Help("Shards this node serves").Register(reg).Add({});
  x.peers_gauge = &prometheus::BuildGauge().Name("twin_cluster_nodes_alive")
                     .Help("Nodes announcing themselves, this one included").Register(reg).Add({});

  auto settings = to_settings(x.o.kafka_settings);
  auto prod = kafka::producer::create(x.o.bootstrap, settings, true);
  if (!prod)
    return prod.error();
  x.producer = std::move(*prod);
  // Readers and followers: a fetch that finds nothing new returns within
  // 10-50 ms instead of librdkafka's 500 ms (each restore ends on one, and
  // announcements are the routing table's freshness).
  auto quick = to_settings(x.o.kafka_settings, {{"fetch.wait.max.ms", "10"}});
  auto follow = to_settings(x.o.kafka_settings, {{"fetch.wait.max.ms", "50"}});
  auto rr = kafka::reader::create(x.o.bootstrap, quick);
  if (!rr)
    return rr.error();
  x.restore_reader = std::move(*rr);
  auto sr = kafka::reader::create(x.o.bootstrap, quick);
  if (!sr)
    return sr.error();
  x.sync_reader = std::move(*sr);

  // The cluster topic from the beginning: models and who is out there.
  auto tail = kafka::tailer::create(x.o.bootstrap, x.t_cluster, 1, kafka::tailer::start::beginning,
                                    follow, [raw = p.get()](kafka::record&& r) {
                                      raw->on_cluster_record(std::move(r));
                                    });
  if (!tail)
    return tail.error();
  x.cluster_tail = std::move(*tail);
  if (!x.sync_cluster_topic(milliseconds{15000}))
    return make_error(errc::unavailable, "cannot read the cluster topic " + x.t_cluster
                                           + " at " + x.o.bootstrap);
  {
    std::lock_guard lk{x.mtx};
    if (x.rejected_peers > 0 && x.verified_peers == 0)
      return make_error(errc::unauthorized,
                        "refusing to join: " + std::to_string(x.rejected_peers)
                          + " recent announcement(s) on " + x.t_cluster
                          + " carry certificates that do not verify against our fabric CA "
                          + x.o.tls.ca + ", and none does");
  }

  // The mTLS listener.
  detail::peer_link::options lo;
  lo.tls = x.o.tls;
  lo.host = x.o.listen_host;
  lo.port = x.o.listen_port;
  auto link = detail::peer_link::start(
    lo,
    [raw = p.get()](std::string req, std::function<void(std::string)> respond) {
      raw->serve(std::move(req), std::move(respond));
    },
    &*x.ca, &*x.identity);
  if (!link)
    return link.error();
  {
    std::lock_guard lk{x.mtx};
    x.link = std::move(*link);
  }
  x.endpoint = x.o.advertise.empty() ? x.o.listen_host + ":" + std::to_string(x.link->port())
                                     : x.o.advertise;

  // Changes of the twins we own go to the events topic for everyone.
  auto sub = local.subscribe(x.system_ctx(), [raw = p.get()](const json& ce) {
    raw->producer->produce(raw->t_events, ce.value("subject", ""), ce.dump(),
                           [raw](const kafka::delivery& d) {
                             if (!d.result)
                               raw->say("change event not delivered: ",
                                        d.result.error().message);
                           });
  });
  if (!sub)
    return sub.error();
  x.local_events = std::move(*sub);

  x.announce();
  auto cs = to_settings(x.o.kafka_settings,
                        {{"session.timeout.ms", std::to_string(x.o.session_timeout_ms)},
                         {"heartbeat.interval.ms", std::to_string(x.o.heartbeat_interval_ms)},
                         {"fetch.wait.max.ms", "100"}});
  kafka::group_consumer::callbacks cb;
  auto* raw = p.get();
  cb.on_assigned = [raw](std::vector<std::int32_t> parts) { raw->on_assigned(std::move(parts)); };
  cb.on_revoked = [raw](std::vector<std::int32_t> parts) { raw->on_revoked(std::move(parts)); };
  cb.on_record = [raw](kafka::record&& r) { raw->on_record(std::move(r)); };
  cb.on_error = [raw](const error& e) { raw->say("kafka: ", e.describe()); };
  auto cons = kafka::group_consumer::create(x.o.bootstrap, x.o.group, x.t_telemetry, cs, cb);
  if (!cons)
    return cons.error();
  x.consumer = std::move(*cons);
  x.timers.after(milliseconds{200}, [raw] { raw->tick_commit(); });
  x.timers.after(x.o.announce_interval, [raw] { raw->tick_announce(); });
  x.say("joined group ", x.o.group, " at ", x.o.bootstrap, "; cluster endpoint ", x.endpoint);
  return std::unique_ptr<cluster_node>(new cluster_node(std::move(p)));
}

void cluster_node::stop() {
  if (!impl_ || impl_->stopping.exchange(true))
    return;
  auto& x = *impl_;
  x.say("leaving the cluster");
  // Each step is bounded: a Kafka or a peer that is gone must not keep the
  // node from shutting down (its store is closed by the node afterwards).
  auto t = steady_ms();
  auto step = [&](const char* what) {
    auto now = steady_ms();
    if (now - t > 1000)
      x.say("stop: ", what, " took ", now - t, " ms");
    t = now;
  };
  // Timers first: their tasks (commits, retries, announcements) use the
  // consumer; the revocation below commits and announces by itself, and a
  // record whose retry is dropped stays uncommitted for the next owner.
  x.timers.stop();
  step("stopping timers");
  // Leaving the group revokes our shards (flush, commit, checkpoint); the
  // revocation callbacks still use `consumer`, so it is closed in place.
  // With Kafka gone that cannot finish: after 20 s we leave without a clean
  // hand-over (no checkpoints: the next owners restore in full).
  if (x.consumer) {
    auto* c = x.consumer.get();
    if (bounded([c] { c->close(); }, milliseconds{20000})) {
      // Destroying a librdkafka handle can itself wait on the broker.
      auto* raw = x.consumer.release();
      if (!bounded([raw] { delete raw; }, milliseconds{5000}))
        x.clean = false;
    } else {
      x.say("Kafka did not let us leave the group within 20 s; stopping without a clean "
            "hand-over (the next owners restore these shards in full)");
      (void) x.consumer.release(); // still closing: left to the process exit
      x.clean = false;
    }
  }
  step("leaving the group");
  x.announce(true);
  step("announcing the departure");
  auto close_quietly = [&x](auto& p) {
    if (auto* raw = p.release())
      if (!bounded([raw] { delete raw; }, milliseconds{5000}))
        x.clean = false;
  };
  close_quietly(x.events_tail);
  x.local_events.reset();
  (void) x.producer->flush(milliseconds{5000});
  step("flushing");
  if (x.link) {
    auto* l = x.link.get();
    if (bounded([l] { l->stop(); }, milliseconds{5000})) {
      x.link.reset();
    } else {
      x.say("the peer link did not stop within 5 s; left to the process exit");
      (void) x.link.release();
      x.clean = false;
    }
  }
  step("stopping the peer link");
  close_quietly(x.cluster_tail);
  close_quietly(x.restore_reader);
  close_quietly(x.sync_reader);
  step("closing the cluster topic and readers");
}

bool cluster_node::stopped_cleanly() const {
  return impl_->clean;
}

std::string cluster_node::endpoint() const {
  return impl_->endpoint;
}

void cluster_node::set_http_url(std::string url) {
  std::lock_guard lk{impl_->mtx};
  impl_->o.http_url = std::move(url);
}

// -- the fabric port --------------------------------------------------------------

std::shared_ptr<const actors::twin_body>
cluster_node::cached_twin(const request_context& ctx, const std::string& id) {
  if (!impl_->serving(impl_->shard_of(id)))
    return nullptr;
  return impl_->local.cached_twin(ctx, id);
}

void cluster_node::create_twin(const request_context& ctx, const std::string& id, json body,
                               reply_fn reply) {
  auto req = impl_->request("create", ctx, id);
  req["body"] = body;
  auto* x = impl_.get();
  x->dispatch(id, std::move(req),
              [x, ctx, id, body](reply_fn r) mutable {
                x->create_local(ctx, id, std::move(body), std::move(r));
              },
              std::move(reply));
}

void cluster_node::get_twin(const request_context& ctx, const std::string& id, reply_fn reply) {
  auto* x = impl_.get();
  x->dispatch(id, x->request("get", ctx, id),
              [x, ctx, id](reply_fn r) { x->local.get_twin(ctx, id, std::move(r)); },
              std::move(reply));
}

void cluster_node::patch_twin(const request_context& ctx, const std::string& id,
                              json merge_patch, std::optional<std::uint64_t> if_match,
                              reply_fn reply) {
  auto* x = impl_.get();
  auto req = x->request("patch", ctx, id);
  req["body"] = merge_patch;
  req["ifMatch"] = if_match ? json(*if_match) : json(nullptr);
  x->dispatch(id, std::move(req),
              [x, ctx, id, merge_patch, if_match](reply_fn r) mutable {
                x->local.patch_twin(ctx, id, std::move(merge_patch), if_match, std::move(r));
              },
              std::move(reply));
}

void cluster_node::ingest(const request_context& ctx, const std::string& id, json body,
                          reply_fn reply) {
  auto d = parse_rest_ingest(body);
  if (!d)
    return reply(d.error());
  ingest_record r;
  r.twin = id;
  r.data = std::move(*d);
  impl_->produce_ingest(ctx, std::move(r), std::move(reply));
}

void cluster_node::ingest_data(const request_context& ctx, const std::string& id,
                               actors::device_data data, reply_fn reply) {
  ingest_record r;
  r.twin = id;
  r.data = std::move(data);
  impl_->produce_ingest(ctx, std::move(r), std::move(reply));
}

void cluster_node::set_connectivity(const request_context& ctx, const std::string& id,
                                    actors::connectivity_update u, reply_fn reply) {
  ingest_record r;
  r.kind = "connectivity";
  r.twin = id;
  r.link = std::move(u);
  impl_->produce_ingest(ctx, std::move(r), std::move(reply));
}

void cluster_node::history(const request_context& ctx, const std::string& id,
                           actors::history_request q, reply_fn reply) {
  auto* x = impl_.get();
  auto req = x->request("history", ctx, id);
  req["name"] = q.name;
  req["from"] = q.from;
  req["to"] = q.to;
  req["resolution"] = q.resolution;
  req["limit"] = q.limit;
  x->dispatch(id, std::move(req),
              [x, ctx, id, q](reply_fn r) mutable {
                x->local.history(ctx, id, std::move(q), std::move(r));
              },
              std::move(reply));
}

void cluster_node::attach_behaviour(const request_context& ctx, const std::string& id,
                                    const std::string& name, json spec, reply_fn reply) {
  auto* x = impl_.get();
  auto req = x->request("attach", ctx, id);
  req["name"] = name;
  req["body"] = spec;
  x->dispatch(id, std::move(req),
              [x, ctx, id, name, spec](reply_fn r) mutable {
                x->local.attach_behaviour(ctx, id, name, std::move(spec), std::move(r));
              },
              std::move(reply));
}

void cluster_node::detach_behaviour(const request_context& ctx, const std::string& id,
                                    const std::string& name, reply_fn reply) {
  auto* x = impl_.get();
  auto req = x->request("detach", ctx, id);
  req["name"] = name;
  x->dispatch(id, std::move(req),
              [x, ctx, id, name](reply_fn r) {
                x->local.detach_behaviour(ctx, id, name, std::move(r));
              },
              std::move(reply));
}

void cluster_node::raise_alert(const request_context& ctx, json alert, reply_fn reply) {
  impl_->local.raise_alert(ctx, std::move(alert), std::move(reply));
}

void cluster_node::transition(const request_context& ctx, const std::string& id, json body,
                              reply_fn reply) {
  auto* x = impl_.get();
  auto req = x->request("transition", ctx, id);
  req["body"] = body;
  x->dispatch(id, std::move(req),
              [x, ctx, id, body](reply_fn r) mutable {
                x->local.transition(ctx, id, std::move(body), std::move(r));
              },
              std::move(reply));
}

void cluster_node::lineage(const request_context& ctx, const std::string& id,
                           const std::string& property, const std::optional<std::string>& at,
                           reply_fn reply) {
  auto* x = impl_.get();
  auto req = x->request("lineage", ctx, id);
  req["property"] = property;
  req["at"] = at ? json(*at) : json(nullptr);
  x->dispatch(id, std::move(req),
              [x, ctx, id, property, at](reply_fn r) {
                x->local.lineage(ctx, id, property, at, std::move(r));
              },
              std::move(reply));
}

void cluster_node::list_twins(const request_context& ctx, actors::list_query q,
                              reply_fn reply) {
  auto* x = impl_.get();
  if (auto st = security::authorize(ctx.who, security::action::read); !st)
    return reply(st.error());
  if (q.limit == 0 || q.limit > 1000)
    return reply(make_error(errc::bad_request, "limit must be 1..1000", "query", "limit"));
  // Every shard must have a serving owner, or the list would silently miss
  // twins: wait (bounded) while shards move.
  struct agg {
    std::mutex mtx;
    std::size_t left = 0;
    std::vector<json> items;
    bool more = false;
    std::optional<error> err;
    reply_fn reply;
    std::size_t limit = 100;
  };
  auto deadline = steady_ms() + x->o.move_wait.count();
  std::function<void()> attempt;
  auto attempt_ptr = std::make_shared<std::function<void()>>();
  *attempt_ptr = [x, ctx, q, reply, deadline, attempt_ptr]() {
    auto now = now_ms();
    std::vector<std::pair<std::string, std::string>> peers; // id, endpoint
    bool complete = true;
    {
      std::lock_guard lk{x->mtx};
      std::set<std::string> owners;
      for (std::uint32_t s = 0; s < x->shards; ++s) {
        if (x->state[s] == impl::shard_state::serving) {
          owners.insert(x->o.node_id);
          continue;
        }
        auto own = x->routes.owner(s, now);
        if (!own || *own == x->o.node_id) {
          complete = false;
          break;
        }
        owners.insert(*own);
      }
      for (auto& id : owners)
        if (id != x->o.node_id)
          if (auto* e = x->routes.find(id))
            peers.emplace_back(id, e->last.endpoint);
    }
    if (!complete) {
      if (steady_ms() >= deadline)
        return reply(make_error(errc::unavailable,
                                "some shards have no serving owner right now; retry",
                                "shard-moving"));
      x->timers.after(milliseconds{50}, [attempt_ptr] { (*attempt_ptr)(); });
      return;
    }
    auto a = std::make_shared<agg>();
    a->left = peers.size() + 1;
    a->reply = reply;
    a->limit = q.limit;
    auto part = [a](expected<json> r) {
      std::lock_guard lk{a->mtx};
      if (!r) {
        if (!a->err)
          a->err = r.error();
      } else {
        for (auto& it : (*r)["items"])
          a->items.push_back(it);
        if (r->contains("nextPageToken"))
          a->more = true;
      }
      if (--a->left > 0)
        return;
      if (a->err)
        return a->reply(*a->err);
      std::sort(a->items.begin(), a->items.end(), [](const json& l, const json& r) {
        return l.value("$id", "") < r.value("$id", "");
      });
      bool more = a->more || a->items.size() > a->limit;
      if (a->items.size() > a->limit)
        a->items.resize(a->limit);
      json out{{"items", a->items}};
      if (more && !a->items.empty())
        out["nextPageToken"] = a->items.back().value("$id", "");
      a->reply(std::move(out));
    };
    auto mine = q;
    mine.include = [x](const std::string& id) { return x->serving(x->shard_of(id)); };
    x->local.list_twins(ctx, std::move(mine), part);
    for (auto& [id, ep] : peers) {
      auto req = x->request("list", ctx, "");
      req["model"] = q.model;
      req["lifecycle"] = q.lifecycle;
      req["after"] = q.after;
      req["limit"] = q.limit;
      x->forwarded++;
      x->forwarded_total->Increment();
      x->link->call(id, ep, req.dump(), x->o.forward_timeout,
                    [part, id = id](expected<std::string> r) {
                      if (!r)
                        return part(make_error(errc::unavailable,
                                               "node " + id + " did not answer the list: "
                                                 + r.error().message));
                      auto j = json::parse(*r, nullptr, false);
                      if (j.is_discarded())
                        return part(make_error(errc::internal, "bad answer from " + id));
                      if (auto ok = j.find("ok"); ok != j.end())
                        return part(std::move(*ok));
                      part(error_of(j.value("error", json::object())));
                    });
    }
  };
  (*attempt_ptr)();
}

void cluster_node::add_models(const request_context& ctx, json body, reply_fn reply) {
  auto* x = impl_.get();
  json docs = body.is_array() ? body : json::array({body});
  x->local.add_models(ctx, std::move(body),
                      [x, docs, reply](expected<json> r) {
                        if (!r)
                          return reply(std::move(r));
                        // Every other node imports them from the cluster topic.
                        x->producer->produce(
                          x->t_cluster, "models", encode_models(x->o.node_id, docs),
                          [reply, r](const kafka::delivery& d) {
                            if (!d.result)
                              return reply(make_error(
                                errc::unavailable,
                                "models stored on this node but not published to the "
                                "cluster: " + d.result.error().message + "; upload again"));
                            reply(*r);
                          },
                          0);
                      });
}

void cluster_node::list_models(const request_context& ctx, reply_fn reply) {
  impl_->local.list_models(ctx, std::move(reply));
}

void cluster_node::get_model(const request_context& ctx, const std::string& dtmi,
                             reply_fn reply) {
  impl_->local.get_model(ctx, dtmi, std::move(reply));
}

void cluster_node::delete_model(const request_context& ctx, const std::string& dtmi,
                                reply_fn reply) {
  if (auto st = security::authorize(ctx.who, security::action::manage_models); !st)
    return reply(st.error());
  (void) dtmi;
  reply(make_error(errc::model_in_use,
                   "deleting a model is not available in cluster mode: every node holds "
                   "the model registry and twins of any node may use it",
                   "cluster-model-delete"));
}

void cluster_node::list_audit(const request_context& ctx, std::uint64_t from,
                              std::size_t limit, reply_fn reply) {
  impl_->local.list_audit(ctx, from, limit, std::move(reply));
}

void cluster_node::verify_audit(const request_context& ctx, reply_fn reply) {
  impl_->local.verify_audit(ctx, std::move(reply));
}

void cluster_node::list_alerts(const request_context& ctx, std::uint64_t from,
                               std::size_t limit, reply_fn reply) {
  impl_->local.list_alerts(ctx, from, limit, std::move(reply));
}

expected<std::unique_ptr<actors::subscription>>
cluster_node::subscribe(const request_context& ctx,
                        std::function<void(const json&)> on_event) {
  if (auto st = security::authorize(ctx.who, security::action::read); !st)
    return st.error();
  auto* x = impl_.get();
  std::uint64_t id = 0;
  bool start_tail = false;
  {
    std::lock_guard lk{x->mtx};
    id = ++x->next_sub;
    x->subscribers.emplace(id, std::move(on_event));
    start_tail = !x->events_tail;
  }
  if (start_tail) {
    // One follower of the events topic for all subscribers: every node's
    // changes, from now on.
    auto t = kafka::tailer::create(x->o.bootstrap, x->t_events,
                                   static_cast<std::int32_t>(x->shards),
                                   kafka::tailer::start::end, to_settings(x->o.kafka_settings),
                                   [x](kafka::record&& r) { x->on_change_event(std::move(r)); });
    if (!t) {
      std::lock_guard lk{x->mtx};
      x->subscribers.erase(id);
      return t.error();
    }
    std::lock_guard lk{x->mtx};
    if (!x->events_tail)
      x->events_tail = std::move(*t);
  }
  auto sub = std::make_unique<live_subscription>();
  sub->cancel = [x, id] {
    std::lock_guard lk{x->mtx};
    x->subscribers.erase(id);
  };
  return std::unique_ptr<actors::subscription>(std::move(sub));
}

void cluster_node::cluster_status(const request_context& ctx, reply_fn reply) {
  if (auto st = security::authorize(ctx.who, security::action::read); !st)
    return reply(st.error());
  reply(impl_->status_json());
}

json cluster_node::health() {
  auto h = impl_->local.health();
  std::size_t serving = 0, restoring = 0;
  {
    std::lock_guard lk{impl_->mtx};
    for (auto s : impl_->state) {
      serving += s == impl::shard_state::serving;
      restoring += s == impl::shard_state::restoring;
    }
  }
  h["cluster"] = json{{"node", impl_->o.node_id},
                      {"shardsServing", serving},
                      {"shardsRestoring", restoring}};
  return h;
}

prometheus::Registry& cluster_node::metrics() {
  return impl_->local.metrics();
}

} // namespace twin::cluster
