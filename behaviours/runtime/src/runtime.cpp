#include "twin/behaviours/runtime.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <variant>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "twin/behaviours/logic.hpp"
#include "twin/behaviours/spec.hpp"
#include "twin/fmu/archive.hpp"
#include "twin/fmu/instance.hpp"
#include "twin/fmu/worker.hpp"
#include "twin/ml/anomaly.hpp"
#include "twin/ml/forecast.hpp"
#include "twin/ml/model_io.hpp"
#include "twin/security/audit_chain.hpp"

namespace twin::behaviours {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// What an event of the stream says about where its values came from.
struct event_meta {
  std::uint64_t revision = 0;
  std::int64_t time_ms = 0;
  std::string source_id;
  json origin;
};

/// The "version" attribute of <fmiModelDescription> (not in the parsed
/// model_description), or "".
std::string fmu_version_attribute(const std::filesystem::path& fmu) {
  auto xml = fmu::read_archive_entry(fmu, "modelDescription.xml");
  if (!xml)
    return {};
  auto open = xml->find("<fmiModelDescription");
  if (open == std::string::npos)
    return {};
  auto close = xml->find('>', open);
  std::string tag = xml->substr(open, close == std::string::npos ? std::string::npos : close - open);
  static const std::regex re{R"re((^|\s)version\s*=\s*"([^"]*)")re"};
  std::smatch m;
  if (std::regex_search(tag, m, re))
    return m[2].str();
  return {};
}

expected<std::string> file_sha256(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in)
    return make_error(errc::not_found, "cannot read FMU file " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return security::sha256_hex(ss.str());
}

json to_json_value(const fmu::value& v) {
  return std::visit([](const auto& x) -> json {
    using T = std::decay_t<decltype(x)>;
    if constexpr (std::is_same_v<T, double>)
      return std::isfinite(x) ? json(x) : json(nullptr);
    else
      return json(x);
  }, v);
}

expected<fmu::value> from_json_value(const fmu::scalar_variable& sv, const json& j) {
  switch (sv.type) {
    case fmu::value_type::float64:
      if (j.is_number())
        return fmu::value{j.get<double>()};
      if (j.is_boolean())
        return fmu::value{j.get<bool>() ? 1.0 : 0.0};
      break;
    case fmu::value_type::int32:
      if (j.is_number())
        return fmu::value{static_cast<std::int32_t>(std::llround(j.get<double>()))};
      if (j.is_boolean())
        return fmu::value{static_cast<std::int32_t>(j.get<bool>())};
      break;
    case fmu::value_type::boolean:
      if (j.is_boolean())
        return fmu::value{j.get<bool>()};
      if (j.is_number())
        return fmu::value{j.get<double>() != 0.0};
      break;
    case fmu::value_type::string:
      if (j.is_string())
        return fmu::value{j.get<std::string>()};
      return fmu::value{j.dump()};
    case fmu::value_type::other:
      break;
  }
  return make_error(errc::bad_request, "value " + j.dump() + " does not fit FMU variable '"
                                         + sv.name + "' of type " + sv.type_name);
}

} // namespace

// -- the runtime's shared part --------------------------------------------------

struct instance;

struct behaviour_runtime::impl : std::enable_shared_from_this<behaviour_runtime::impl> {
  actors::fabric& fab;
  runtime_options opt;
  security::principal who;
  std::unique_ptr<actors::subscription> sub;

  using item = std::variant<json, std::function<void()>>;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<item> queue;
  bool stopping = false;
  bool loaded = false;
  bool busy = false;
  std::thread worker;

  // Owned by the worker thread.
  struct twin_entry {
    std::string model;
    /// Only an active twin accepts outputs: period triggers wait otherwise.
    bool active = true;
    std::map<std::string, std::unique_ptr<instance>> behaviours;
  };
  std::map<std::string, twin_entry> twins;

  std::atomic<std::uint64_t> n_events{0}, n_dropped{0}, n_steps{0}, n_scores{0},
    n_forecasts{0}, n_writes{0}, n_write_failures{0}, n_alerts{0}, n_failures{0};
  std::atomic<std::size_t> n_bindings{0};

  // Metrics (registered once per registry).
  prometheus::Counter* m_events = nullptr;
  prometheus::Counter* m_dropped = nullptr;
  prometheus::Family<prometheus::Counter>* m_steps = nullptr;
  prometheus::Family<prometheus::Counter>* m_writes = nullptr;
  prometheus::Family<prometheus::Counter>* m_alerts = nullptr;
  prometheus::Family<prometheus::Counter>* m_failures = nullptr;
  prometheus::Gauge* m_bindings = nullptr;
  prometheus::Gauge* m_queue = nullptr;

  impl(actors::fabric& f, runtime_options o) : fab(f), opt(std::move(o)) {
    who.name = opt.principal;
    who.roles = {security::role::operator_};
    if (!opt.log)
      opt.log = [](const std::string& s) { std::cerr << "behaviours: " << s << std::endl; };
    try {
      auto& reg = fab.metrics();
      using prometheus::BuildCounter;
      using prometheus::BuildGauge;
      m_events = &BuildCounter().Name("twin_behaviour_events_total")
                    .Help("Change-stream events handled by the behaviour runtime")
                    .Register(reg).Add({});
      m_dropped = &BuildCounter().Name("twin_behaviour_events_dropped_total")
                     .Help("Change-stream events dropped: the runtime's queue was full")
                     .Register(reg).Add({});
      m_steps = &BuildCounter().Name("twin_behaviour_runs_total")
                   .Help("Behaviour runs by kind (FMU steps, anomaly scores, forecasts)")
                   .Register(reg);
      m_writes = &BuildCounter().Name("twin_behaviour_writes_total")
                    .Help("Output writes through the fabric by result")
                    .Register(reg);
      m_alerts = &BuildCounter().Name("twin_behaviour_alerts_total")
                    .Help("Alerts raised by behaviours by type")
                    .Register(reg);
      m_failures = &BuildCounter().Name("twin_behaviour_failures_total")
                      .Help("Behaviour failures (FMU errors, worker crashes, refused bindings) by kind")
                      .Register(reg);
      m_bindings = &BuildGauge().Name("twin_behaviour_bindings")
                      .Help("Behaviour bindings loaded").Register(reg).Add({});
      m_queue = &BuildGauge().Name("twin_behaviour_queue")
                   .Help("Events waiting for the behaviour worker").Register(reg).Add({});
    } catch (const std::exception& e) {
      opt.log(std::string{"metrics not registered: "} + e.what());
    }
  }

  actors::request_context ctx() {
    static std::atomic<std::uint64_t> n{0};
    return actors::request_context{who, "bhv-" + std::to_string(++n)};
  }

  void count(prometheus::Family<prometheus::Counter>* fam, const std::string& label,
             const std::string& value) {
    if (fam)
      fam->Add({{label, value}}).Increment();
  }

  void post(item it) {
    {
      std::lock_guard lk{mu};
      if (stopping)
        return;
      if (std::holds_alternative<json>(it) && queue.size() >= opt.queue_capacity) {
        ++n_dropped;
        if (m_dropped)
          m_dropped->Increment();
        return;
      }
      queue.push_back(std::move(it));
      if (m_queue)
        m_queue->Set(static_cast<double>(queue.size()));
    }
    cv.notify_all();
  }

  /// Calls an asynchronous fabric method and waits (worker thread only).
  expected<json> call(const std::function<void(actors::reply_fn)>& f,
                      std::chrono::milliseconds timeout = 30s) {
    auto p = std::make_shared<std::promise<expected<json>>>();
    auto fut = p->get_future();
    f([p](expected<json> r) { p->set_value(std::move(r)); });
    if (fut.wait_for(timeout) != std::future_status::ready)
      return make_error(errc::unavailable, "the fabric did not answer in time");
    return fut.get();
  }

  void raise(const std::string& type, const std::string& severity, const std::string& twin,
             const std::string& cause, const std::string& source, json detail, json lineage) {
    json a{{"type", type},     {"severity", severity}, {"twin", twin},
           {"cause", cause},   {"source", source},     {"detail", std::move(detail)}};
    if (!lineage.is_null())
      a["lineage"] = std::move(lineage);
    ++n_alerts;
    count(m_alerts, "type", type);
    fab.raise_alert(ctx(), std::move(a), [self = shared_from_this(), type, twin](expected<json> r) {
      if (!r)
        self->opt.log("alert " + type + " for " + twin + " not stored: " + r.error().describe());
    });
  }

  void write(const std::string& twin, const std::string& name, json values,
             std::int64_t source_time_ms, std::string pipeline, json origin);

  void on_written(const std::string& twin, const std::string& name, const expected<json>& r);
  void run();
  void load_all();
  void reload_twin(const std::string& id);
  void reconcile(const std::string& id, const json& doc);
  void handle(const json& ce);
  void tick();
};

// -- instances ---------------------------------------------------------------------

struct instance {
  behaviour_runtime::impl& rt;
  std::string twin;
  binding b;
  std::set<std::string> reported; // write error codes already alerted

  instance(behaviour_runtime::impl& r, std::string t, binding bb)
    : rt(r), twin(std::move(t)), b(std::move(bb)) {}
  virtual ~instance() = default;

  std::string source() const { return "behaviour/" + b.name; }

  /// A value from the twin document at load (no step, no write).
  virtual void prime(const std::string& name, const json& value, std::uint64_t revision,
                     std::int64_t time_ms) = 0;
  virtual void after_prime() {}
  /// The values one event set.
  virtual void on_values(const json& values, const event_meta& m) = 0;
  virtual void on_tick(steady::time_point) {}

  void failed(const std::string& what, const std::string& severity, json detail = json::object()) {
    ++rt.n_failures;
    rt.count(rt.m_failures, "kind", std::string{to_string(b.kind)});
    detail["behaviour"] = b.name;
    detail["kind"] = to_string(b.kind);
    rt.opt.log("twin " + twin + ", behaviour " + b.name + ": " + what);
    rt.raise("twin.alert.behaviour_failed", severity, twin,
             "behaviour '" + b.name + "' failed: " + what, source(), std::move(detail),
             json{{"behaviour", b.name}, {"kind", to_string(b.kind)}, {"spec", b.spec}});
  }

  void write_failed(const error& e) {
    auto code = std::string{::twin::to_string(e.code)};
    if (!reported.insert(code).second)
      return;
    failed("an output write was refused: " + e.describe(), "warning",
           json{{"code", code}, {"error", e.message}});
  }
};

void behaviour_runtime::impl::write(const std::string& twin, const std::string& name,
                                    json values, std::int64_t source_time_ms,
                                    std::string pipeline, json origin) {
  actors::device_data d;
  d.values = std::move(values);
  d.source_kind = "behaviour";
  d.source_time_ms = source_time_ms;
  d.source = "behaviour/" + name;
  d.pipeline_version = std::move(pipeline);
  d.origin = std::move(origin);
  fab.ingest_data(ctx(), twin, std::move(d), [self = shared_from_this(), twin, name](expected<json> r) {
    self->on_written(twin, name, r);
  });
}

void behaviour_runtime::impl::on_written(const std::string& twin, const std::string& name,
                                         const expected<json>& r) {
  {
    if (r) {
      ++n_writes;
      count(m_writes, "result", "ok");
      return;
    }
    ++n_write_failures;
    count(m_writes, "result", std::string{::twin::to_string(r.error().code)});
    auto e = r.error();
    post(std::function<void()>{[this, twin, name, e] {
      auto t = twins.find(twin);
      if (t == twins.end())
        return;
      auto b = t->second.behaviours.find(name);
      if (b != t->second.behaviours.end())
        b->second->write_failed(e);
    }});
  }
}

// -- FMU -----------------------------------------------------------------------------

struct fmu_runner final : instance {
  const fmu_binding& f;
  input_tracker inputs;
  std::filesystem::path path;
  json identity;            // {name, instantiationToken, version, fmiVersion, sha256, file}
  std::string pipeline;
  std::shared_ptr<fmu::fmu_file> file; // in-process only
  std::unique_ptr<fmu::co_simulator> sim;
  struct var {
    std::string variable;
    std::string twin_name;
    fmu::scalar_variable sv;
  };
  std::vector<var> in, out;
  bool all_float = true;
  std::vector<fmu::value_reference> in_vrs, out_vrs;
  bool initialized = false;
  bool broken = false; // a configuration error: never retried
  double t_sim = 0.0;
  std::int64_t last_time_ms = 0;
  int failures = 0;
  steady::time_point retry_at{};
  steady::time_point healthy_since{};
  steady::time_point last_period{};

  fmu_runner(behaviour_runtime::impl& r, std::string t, binding bb)
    : instance(r, std::move(t), std::move(bb)), f(*b.fmu()),
      inputs([&] {
        std::vector<std::string> w;
        for (auto& [v, n] : b.fmu()->inputs)
          w.push_back(n);
        return w;
      }(), b.fmu()->required) {
    path = std::filesystem::path{f.fmu};
    if (path.is_relative())
      path = rt.opt.fmu_dir / path;
    if (auto st = describe(); !st) {
      broken = true;
      failed(st.error().describe(), "critical", json{{"fmu", path.string()}});
    }
  }

  ~fmu_runner() override { release(); }

  void release() {
    if (sim) {
      if (sim->state() == fmu::instance_state::step
          || sim->state() == fmu::instance_state::initialization)
        (void) sim->terminate();
      sim->free();
      sim.reset();
    }
    file.reset();
    initialized = false;
  }

  /// Identity and variable mapping (no FMU code runs: the worker client
  /// parses the description itself; in-process opens the file).
  status describe() {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      return make_error(errc::not_found, "FMU file " + path.string() + " does not exist",
                        "behaviour-fmu", "/fmu");
    auto sha = file_sha256(path);
    if (!sha)
      return sha.error();
    auto xml = fmu::read_archive_entry(path, "modelDescription.xml");
    if (!xml)
      return xml.error();
    auto md = fmu::parse_model_description(*xml);
    if (!md)
      return md.error();
    if (!md->co_simulation)
      return make_error(errc::bad_request, "FMU " + path.string() + " has no Co-Simulation",
                        "behaviour-fmu", "/fmu");
    auto version = fmu_version_attribute(path);
    identity = json{{"name", md->model_name},
                    {"instantiationToken", md->instantiation_token},
                    {"version", version},
                    {"fmiVersion", md->fmi_version_text},
                    {"sha256", *sha},
                    {"file", path.filename().string()}};
    pipeline = "fmu/" + md->model_name + "@" + (version.empty() ? sha->substr(0, 12) : version);
    for (auto& [v, n] : f.inputs) {
      const auto* sv = md->find(v);
      if (!sv)
        return make_error(errc::bad_request, "FMU " + md->model_name + " has no variable '" + v + "'",
                          "behaviour-fmu", "/inputs/" + v);
      if (sv->causality_ != fmu::causality::input && sv->causality_ != fmu::causality::parameter)
        return make_error(errc::bad_request,
                          "FMU variable '" + v + "' is " + std::string{fmu::to_string(sv->causality_)}
                            + ", not an input",
                          "behaviour-fmu", "/inputs/" + v);
      if (sv->type == fmu::value_type::other)
        return make_error(errc::bad_request, "FMU variable '" + v + "' has a type this host cannot set",
                          "behaviour-fmu", "/inputs/" + v);
      in.push_back(var{v, n, *sv});
    }
    for (auto& [v, n] : f.outputs) {
      const auto* sv = md->find(v);
      if (!sv)
        return make_error(errc::bad_request, "FMU " + md->model_name + " has no variable '" + v + "'",
                          "behaviour-fmu", "/outputs/" + v);
      if (sv->type == fmu::value_type::other)
        return make_error(errc::bad_request, "FMU variable '" + v + "' has a type this host cannot read",
                          "behaviour-fmu", "/outputs/" + v);
      out.push_back(var{v, n, *sv});
    }
    for (auto& [p, v] : f.parameters.items())
      if (!md->find(p))
        return make_error(errc::bad_request, "FMU " + md->model_name + " has no parameter '" + p + "'",
                          "behaviour-fmu", "/parameters/" + p);
    for (auto& v : in) {
      all_float = all_float && v.sv.type == fmu::value_type::float64;
      in_vrs.push_back(v.sv.vr);
    }
    for (auto& v : out) {
      all_float = all_float && v.sv.type == fmu::value_type::float64;
      out_vrs.push_back(v.sv.vr);
    }
    return ok();
  }

  void prime(const std::string& name, const json& value, std::uint64_t revision,
             std::int64_t time_ms) override {
    inputs.observe(name, value, revision, time_ms);
  }

  void after_prime() override {
    // Initialize at load if every required input is there already.
    if (!broken && inputs.ready())
      (void) ensure_initialized(latest_input_time());
  }

  std::int64_t latest_input_time() const {
    std::int64_t t = 0;
    for (auto& v : in)
      if (const auto* x = inputs.get(v.twin_name))
        t = std::max(t, x->time_ms);
    return t;
  }

  status set_inputs() {
    for (auto& v : in) {
      const auto* x = inputs.get(v.twin_name);
      if (!x)
        continue; // an optional input without a value keeps its start value
      auto val = from_json_value(v.sv, x->value);
      if (!val)
        return val.error();
      if (auto st = sim->set_value(v.sv, *val); !st)
        return st;
    }
    return ok();
  }

  /// Creates and initializes the instance once the required inputs are there.
  bool ensure_initialized(std::int64_t time_ms) {
    if (initialized)
      return true;
    if (broken || !inputs.ready() || steady::now() < retry_at)
      return false;
    auto st = initialize();
    if (!st) {
      fail(st.error());
      return false;
    }
    initialized = true;
    t_sim = 0.0;
    last_time_ms = time_ms > 0 ? time_ms : wall_ms();
    last_period = steady::now();
    healthy_since = steady::now();
    return true;
  }

  status initialize() {
    release();
    if (f.in_process) {
      auto fl = fmu::fmu_file::open(path);
      if (!fl)
        return fl.error();
      file = *fl;
      fmu::instance_options io;
      io.instance_name = twin + "." + b.name;
      auto s = fmu::fmu_instance::create(file, io);
      if (!s)
        return s.error();
      sim = std::move(*s);
    } else {
      fmu::worker_options wo;
      wo.executable = rt.opt.worker_executable;
      wo.call_timeout = rt.opt.call_timeout;
      wo.instance.instance_name = twin + "." + b.name;
      auto s = fmu::worker_fmu::create(path, wo);
      if (!s)
        return s.error();
      sim = std::move(*s);
    }
    fmu::experiment ex;
    ex.start_time = 0.0;
    if (auto st = sim->setup(ex); !st)
      return st;
    for (auto& [p, v] : f.parameters.items()) {
      std::string text = v.is_string() ? v.get<std::string>() : v.dump();
      if (auto st = sim->set_from_text(p, text); !st)
        return st;
    }
    if (auto st = sim->enter_initialization(); !st)
      return st;
    if (auto st = set_inputs(); !st)
      return st;
    if (auto st = sim->exit_initialization(); !st)
      return st;
    return ok();
  }

  void fail(const error& e) {
    ++failures;
    if (healthy_since != steady::time_point{} && steady::now() - healthy_since > 60s)
      failures = 1;
    auto delay = std::chrono::milliseconds{
      std::min<long long>(30'000, 100LL << std::min(failures - 1, 12))};
    retry_at = steady::now() + delay;
    release();
    healthy_since = {};
    failed(e.describe(), "critical",
           json{{"fmu", identity}, {"failures", failures}, {"retryInMs", delay.count()},
                {"isolation", f.in_process ? "in-process" : "worker"}});
  }

  json input_lineage() const {
    json arr = json::array();
    for (auto& v : in)
      if (const auto* x = inputs.get(v.twin_name))
        arr.push_back(json{{"twin", twin}, {"revision", x->revision}, {"name", v.twin_name},
                           {"variable", v.variable}, {"sourceTime", format_time_ms(x->time_ms)}});
    return arr;
  }

  /// Advances the FMU to source time `time_ms` and writes its outputs.
  void step_to(std::int64_t time_ms, std::int64_t write_time_ms, const json& trigger) {
    double span = static_cast<double>(time_ms - last_time_ms) / 1000.0 * f.time_scale;
    auto plan = plan_steps(span, f.step_s);
    if (plan.n == 0)
      return; // no time passed (or time went backwards): nothing to step
    std::vector<double> inv, outv(out.size());
    if (all_float)
      for (auto& v : in) {
        const auto* x = inputs.get(v.twin_name);
        inv.push_back(x && x->value.is_number() ? x->value.get<double>()
                                                : std::stod(v.sv.start.value_or("0")));
      }
    for (int i = 0; i < plan.n; ++i) {
      status st = ok();
      if (all_float) {
        st = sim->step_float64(in_vrs, inv, t_sim, plan.h, out_vrs, outv);
      } else {
        st = set_inputs();
        if (st)
          st = sim->do_step(t_sim, plan.h);
      }
      if (!st) {
        fail(st.error());
        return;
      }
      t_sim += plan.h;
      ++rt.n_steps;
    }
    rt.count(rt.m_steps, "kind", "fmu_step");
    last_time_ms = time_ms;
    json values = json::object();
    for (std::size_t i = 0; i < out.size(); ++i) {
      json v;
      if (all_float) {
        v = std::isfinite(outv[i]) ? json(outv[i]) : json(nullptr);
      } else {
        auto r = sim->get_value(out[i].sv);
        if (!r) {
          fail(r.error());
          return;
        }
        v = to_json_value(*r);
      }
      if (!v.is_null())
        values[out[i].twin_name] = std::move(v);
    }
    if (values.empty())
      return;
    json origin{{"behaviour", b.name},
                {"kind", "fmu"},
                {"fmu", identity},
                {"stepTime", t_sim},
                {"stepSize", plan.h},
                {"steps", plan.n},
                {"timeScale", f.time_scale},
                {"isolation", f.in_process ? "in-process" : "worker"},
                {"inputs", input_lineage()}};
    if (!trigger.is_null())
      origin["trigger"] = trigger;
    rt.write(twin, b.name, std::move(values), write_time_ms, pipeline, std::move(origin));
  }

  void on_values(const json& values, const event_meta& m) override {
    if (broken)
      return;
    std::vector<std::string> updated;
    for (auto& [k, v] : values.items())
      if (inputs.observe(k, v, m.revision, m.time_ms))
        updated.push_back(k);
    if (updated.empty())
      return;
    bool fresh = !initialized;
    if (!ensure_initialized(m.time_ms))
      return; // init contract: not before every required input has a value
    if (fresh)
      return; // initialized at this instant: nothing to advance yet
    if (triggers(f.trigger, updated))
      step_to(m.time_ms, m.time_ms, json{{"revision", m.revision}, {"names", updated}});
  }

  void on_tick(steady::time_point now) override {
    if (broken)
      return;
    if (!initialized) {
      if (inputs.ready() && now >= retry_at && failures > 0)
        (void) ensure_initialized(latest_input_time());
      return;
    }
    if (f.trigger.on != trigger_spec::mode::period)
      return;
    if (now - last_period < std::chrono::duration<double>(f.trigger.period_s))
      return;
    last_period = now;
    auto t = wall_ms();
    step_to(std::max(t, last_time_ms), t, json{{"period", f.trigger.period_s}});
  }
};

// -- forecast ---------------------------------------------------------------------

struct forecast_runner final : instance {
  const forecast_binding& f;
  std::deque<ml::observation> window;
  std::optional<ml::holt_forecaster> holt;
  ml::model_binding mb;
  level_alarm alarm;
  bool broken = false;

  forecast_runner(behaviour_runtime::impl& r, std::string t, binding bb, const std::string& twin_model)
    : instance(r, std::move(t), std::move(bb)), f(*b.forecast()),
      alarm(level_alarm::direction::falling, f.horizon_days, f.critical_days, f.hysteresis) {
    mb.behaviour_version = f.version;
    auto d = model::parse_dtmi(twin_model);
    if (!d) {
      broken = true;
      failed("twin model '" + twin_model + "' is not a DTMI", "critical");
      return;
    }
    mb.bound_model = *d;
  }

  void prime(const std::string&, const json&, std::uint64_t, std::int64_t) override {}

  double unit_days() const {
    return f.time_unit == "hours" ? 24.0 : f.time_unit == "seconds" ? 86400.0 : 1.0;
  }

  void on_values(const json& values, const event_meta& m) override {
    if (broken)
      return;
    auto it = values.find(f.indicator);
    if (it == values.end() || !it->is_number())
      return;
    double t = static_cast<double>(m.time_ms) / 1000.0 * f.time_scale;
    double y = it->get<double>();
    if (!window.empty() && t <= window.back().t) {
      if (t == window.back().t)
        window.back().value = y;
      return;
    }
    window.push_back({t, y});
    while (window.size() > f.window)
      window.pop_front();
    if (window.size() < f.min_points)
      return;
    ml::crossing_query q;
    q.limit = f.limit;
    q.side = f.above ? ml::failure_side::above : ml::failure_side::below;
    q.now = t;
    q.horizon_s = std::max(q.horizon_s, f.horizon_days * 86400.0 * 100);
    expected<ml::rul_estimate> est = make_error(errc::internal, "no estimate");
    json model_json;
    std::vector<ml::observation> pts(window.begin(), window.end());
    if (f.method == "holt") {
      if (!holt) {
        ml::holt_options ho;
        ho.init_points = std::min<std::size_t>(10, pts.size() - 2);
        ho.fit_lead = 1;
        auto h = ml::holt_forecaster::fit(mb, f.indicator, pts, ho);
        if (!h)
          return;
        holt = std::move(*h);
      } else if (!holt->update(t, y)) {
        return;
      }
      est = holt->rul(q);
      if (est)
        model_json = json{{"kind", ml::kind_forecast_holt}, {"alpha", holt->alpha()},
                          {"beta", holt->beta()}};
    } else {
      auto fit = ml::degradation_fit::fit(mb, f.indicator, pts, {});
      if (!fit)
        return; // e.g. every point at one time: wait for more
      est = fit->rul(q);
      if (est)
        model_json = json{{"kind", ml::kind_rul_degradation}, {"slope", fit->slope()},
                          {"sigma", fit->sigma()}, {"samples", fit->samples()}};
    }
    if (!est)
      return;
    ++rt.n_forecasts;
    rt.count(rt.m_steps, "kind", "forecast");
    std::optional<double> rul_days;
    if (est->result == ml::rul_estimate::outcome::predicted && est->rul_s)
      rul_days = *est->rul_s / 86400.0;
    else if (est->result == ml::rul_estimate::outcome::already_crossed)
      rul_days = 0.0;
    auto days = [](const std::optional<double>& s) -> json {
      return s ? json(*s / 86400.0) : json(nullptr);
    };
    model_json["version"] = f.version;
    model_json["boundModel"] = mb.bound_model.value();
    model_json["method"] = f.method;
    json inputs = json::array({json{{"twin", twin}, {"revision", m.revision},
                                    {"name", f.indicator},
                                    {"sourceTime", format_time_ms(m.time_ms)}}});
    if (m.origin.is_object() && m.origin.contains("behaviour")) {
      inputs[0]["behaviour"] = m.origin["behaviour"];
      if (m.origin.contains("fmu"))
        inputs[0]["fmu"] = m.origin["fmu"];
    }
    json origin{{"behaviour", b.name},
                {"kind", "forecast"},
                {"model", model_json},
                {"outcome", ml::to_string(est->result)},
                {"rulDays", rul_days ? json(*rul_days) : json(nullptr)},
                {"rulLowDays", days(est->rul_low_s)},
                {"rulHighDays", days(est->rul_high_s)},
                {"window", pts.size()},
                {"inputs", inputs}};
    if (inputs[0].contains("fmu"))
      origin["fmu"] = inputs[0]["fmu"]; // the FMU whose output was forecast
    if (!f.output.empty() && rul_days)
      rt.write(twin, b.name, json{{f.output, *rul_days * unit_days()}}, m.time_ms,
               "ml/forecast@" + f.version, origin);
    if (auto sev = alarm.update(rul_days)) {
      std::ostringstream cause;
      cause.precision(3);
      cause << "predicted RUL " << *rul_days << " d of " << f.indicator << " (limit " << f.limit
            << ") is below the " << f.horizon_days << " d horizon";
      rt.raise("twin.alert.rul_below_horizon", *sev, twin, cause.str(), source(),
               json{{"behaviour", b.name},
                    {"indicator", f.indicator},
                    {"value", y},
                    {"limit", f.limit},
                    {"rulDays", *rul_days},
                    {"rulLowDays", days(est->rul_low_s)},
                    {"rulHighDays", days(est->rul_high_s)},
                    {"horizonDays", f.horizon_days},
                    {"criticalDays", f.critical_days},
                    {"crossingTime", est->crossing_time
                                       ? json(format_time_ms(static_cast<std::int64_t>(
                                           *est->crossing_time / f.time_scale * 1000.0)))
                                       : json(nullptr)}},
               origin);
    }
  }
};

// -- anomaly ----------------------------------------------------------------------

struct anomaly_runner final : instance {
  const anomaly_binding& a;
  std::string twin_model;
  std::map<std::string, double> latest;
  std::vector<std::vector<double>> samples;
  std::optional<ml::anomaly_detector> det;
  std::optional<level_alarm> alarm;
  bool broken = false;
  bool stored = false;

  anomaly_runner(behaviour_runtime::impl& r, std::string t, binding bb, std::string model)
    : instance(r, std::move(t), std::move(bb)), a(*b.anomaly()), twin_model(std::move(model)) {
    if (!a.trained.is_null()) {
      auto d = model::parse_dtmi(twin_model);
      if (!d) {
        broken = true;
        failed("twin model '" + twin_model + "' is not a DTMI", "critical");
        return;
      }
      if (auto st = ml::check_binding(a.trained, *d, a.version); !st) {
        broken = true;
        failed("the stored model refuses to run: " + st.error().describe(), "critical");
        return;
      }
      auto m = ml::anomaly_detector::from_json(a.trained);
      if (!m) {
        broken = true;
        failed("the stored model does not load: " + m.error().describe(), "critical");
        return;
      }
      set_model(std::move(*m));
      stored = true;
    } else if (!a.training_from.empty()) {
      train_from_history();
    }
  }

  void set_model(ml::anomaly_detector m) {
    double thr = a.threshold.value_or(m.threshold());
    alarm.emplace(level_alarm::direction::rising, thr, thr * 2.0, 0.1);
    det = std::move(m);
  }

  void train_from_history() {
    // Aligns the features by source time (one event carries them together).
    std::map<std::string, std::vector<double>> rows;
    for (std::size_t j = 0; j < a.features.size(); ++j) {
      actors::history_request q;
      q.name = a.features[j];
      q.from = a.training_from;
      q.to = a.training_to;
      q.resolution = "raw";
      q.limit = 100000;
      auto r = rt.call([&](actors::reply_fn done) {
        rt.fab.history(rt.ctx(), twin, q, std::move(done));
      });
      if (!r) {
        failed("training history of '" + a.features[j] + "': " + r.error().describe(), "warning");
        broken = true;
        return;
      }
      for (auto& p : r->value("points", json::array())) {
        if (!p["value"].is_number())
          continue;
        auto& row = rows[p.value("time", "")];
        if (row.size() == j)
          row.push_back(p["value"].get<double>());
      }
    }
    for (auto& [t, row] : rows)
      if (row.size() == a.features.size())
        samples.push_back(row);
    train();
  }

  void train() {
    ml::model_binding mb;
    mb.behaviour_version = a.version;
    auto d = model::parse_dtmi(twin_model);
    if (!d) {
      broken = true;
      return;
    }
    mb.bound_model = *d;
    auto m = ml::anomaly_detector::train(mb, a.features, samples);
    samples.clear();
    samples.shrink_to_fit();
    if (!m) {
      broken = true;
      failed("training failed: " + m.error().describe(), "warning");
      return;
    }
    auto model_json = m->to_json();
    set_model(std::move(*m));
    // Stored with the twin: re-attach the binding with its trained model.
    json spec = b.spec;
    spec["trained"] = std::move(model_json);
    auto name = b.name;
    auto tw = twin;
    auto rtp = rt.shared_from_this();
    rt.fab.attach_behaviour(rt.ctx(), twin, name, std::move(spec),
                            [rtp, tw, name](expected<json> r) {
                              if (r)
                                return;
                              rtp->raise("twin.alert.behaviour_failed", "warning", tw,
                                         "behaviour '" + name + "': the trained model was not "
                                         "stored: " + r.error().describe(),
                                         "behaviour/" + name, json{{"behaviour", name}}, nullptr);
                            });
  }

  void prime(const std::string& name, const json& value, std::uint64_t, std::int64_t) override {
    if (value.is_number())
      latest[name] = value.get<double>();
  }

  void on_values(const json& values, const event_meta& m) override {
    if (broken)
      return;
    bool touched = false;
    for (auto& fname : a.features)
      if (auto it = values.find(fname); it != values.end() && it->is_number()) {
        latest[fname] = it->get<double>();
        touched = true;
      }
    if (!touched || latest.size() < a.features.size())
      return;
    std::vector<double> x;
    for (auto& fname : a.features) {
      auto it = latest.find(fname);
      if (it == latest.end())
        return;
      x.push_back(it->second);
    }
    if (!det) {
      if (a.training_samples == 0)
        return; // history training failed or is pending
      samples.push_back(std::move(x));
      if (samples.size() >= a.training_samples)
        train();
      return;
    }
    auto s = det->score(x);
    if (!s)
      return;
    ++rt.n_scores;
    rt.count(rt.m_steps, "kind", "anomaly_score");
    double thr = a.threshold.value_or(s->threshold);
    json origin{{"behaviour", b.name},
                {"kind", "anomaly"},
                {"model", json{{"kind", ml::kind_anomaly_mcd}, {"version", a.version},
                               {"boundModel", twin_model}, {"threshold", thr},
                               {"trainedSamples", det->trained_samples()}}},
                {"inputs", json::array({json{{"twin", twin}, {"revision", m.revision},
                                             {"names", a.features}}})}};
    rt.write(twin, b.name, json{{a.output, s->distance}}, m.time_ms, "ml/anomaly@" + a.version,
             origin);
    if (auto sev = alarm->update(s->distance)) {
      std::ostringstream cause;
      cause.precision(3);
      cause << "anomaly score " << s->distance << " crossed the threshold " << thr;
      json detail{{"behaviour", b.name}, {"score", s->distance}, {"threshold", thr},
                  {"features", a.features}, {"values", x}};
      rt.raise("twin.alert.anomaly", *sev, twin, cause.str(), source(), std::move(detail),
               origin);
    }
  }
};

// -- the worker ---------------------------------------------------------------------

std::unique_ptr<instance> make_instance(behaviour_runtime::impl& rt, const std::string& twin,
                                        binding b, const std::string& model) {
  switch (b.kind) {
    case behaviour_kind::fmu:
      return std::make_unique<fmu_runner>(rt, twin, std::move(b));
    case behaviour_kind::forecast:
      return std::make_unique<forecast_runner>(rt, twin, std::move(b), model);
    case behaviour_kind::anomaly:
      return std::make_unique<anomaly_runner>(rt, twin, std::move(b), model);
  }
  return nullptr;
}

void behaviour_runtime::impl::reconcile(const std::string& id, const json& doc) {
  auto model = doc.value("$model", "");
  json specs = doc.contains("$behaviours") && doc["$behaviours"].is_object() ? doc["$behaviours"]
                                                                              : json::object();
  auto& entry = twins[id];
  entry.active = doc.value("$lifecycle", "active") == "active";
  if (entry.model != model) {
    entry.behaviours.clear(); // another model: every binding is re-checked
    entry.model = model;
  }
  for (auto it = entry.behaviours.begin(); it != entry.behaviours.end();) {
    if (!specs.contains(it->first) || specs[it->first] != it->second->b.spec)
      it = entry.behaviours.erase(it);
    else
      ++it;
  }
  for (auto& [name, spec] : specs.items()) {
    if (entry.behaviours.count(name))
      continue;
    auto b = parse_binding(name, spec);
    if (!b) {
      ++n_failures;
      raise("twin.alert.behaviour_failed", "critical", id,
            "behaviour '" + name + "' has an invalid spec: " + b.error().describe(),
            "behaviour/" + name, json{{"behaviour", name}, {"path", b.error().path}}, nullptr);
      continue;
    }
    if (auto st = check_model(*b, model); !st) {
      ++n_failures;
      count(m_failures, "kind", std::string{to_string(b->kind)});
      raise("twin.alert.behaviour_failed", "critical", id, st.error().message,
            "behaviour/" + name,
            json{{"behaviour", name}, {"code", "binding_model_mismatch"},
                 {"bindingModel", b->model}, {"twinModel", model}},
            nullptr);
      continue;
    }
    auto inst = make_instance(*this, id, std::move(*b), model);
    for (const char* key : {"properties", "telemetry"})
      if (auto vals = doc.find(key); vals != doc.end() && vals->is_object())
        for (auto& [n, v] : vals->items()) {
          if (!v.is_object() || !v.contains("value"))
            continue;
          auto t = parse_time_ms(v.value("sourceTime", "")).value_or(0);
          inst->prime(n, v["value"], v.value("version", std::uint64_t{0}), t);
        }
    inst->after_prime();
    opt.log("twin " + id + ": behaviour " + name + " (" + std::string{to_string(inst->b.kind)}
            + ") loaded");
    entry.behaviours.emplace(name, std::move(inst));
  }
  if (entry.behaviours.empty())
    twins.erase(id);
  std::size_t n = 0;
  for (auto& [t, e] : twins)
    n += e.behaviours.size();
  n_bindings = n;
  if (m_bindings)
    m_bindings->Set(static_cast<double>(n));
}

void behaviour_runtime::impl::reload_twin(const std::string& id) {
  auto r = call([&](actors::reply_fn done) { fab.get_twin(ctx(), id, std::move(done)); });
  if (!r) {
    if (r.error().code == errc::not_found) {
      twins.erase(id);
      return;
    }
    opt.log("cannot load twin " + id + ": " + r.error().describe());
    return;
  }
  reconcile(id, *r);
}

void behaviour_runtime::impl::load_all() {
  std::string after;
  for (;;) {
    actors::list_query q;
    q.after = after;
    q.limit = 1000;
    auto r = call([&](actors::reply_fn done) { fab.list_twins(ctx(), q, std::move(done)); });
    if (!r) {
      opt.log("cannot list twins: " + r.error().describe());
      return;
    }
    for (auto& item : r->value("items", json::array())) {
      auto id = item.value("$id", "");
      if (id.empty())
        continue;
      if (item.value("$lifecycle", "") == "retired")
        continue;
      // The index names the twins with bindings: only those are read (and
      // woken); the rest of the fleet stays passive.
      if (!item.contains("$behaviours"))
        continue;
      reload_twin(id);
    }
    after = r->value("nextPageToken", "");
    if (after.empty())
      return;
  }
}

void behaviour_runtime::impl::handle(const json& ce) {
  ++n_events;
  if (m_events)
    m_events->Increment();
  auto type = ce.value("type", "");
  auto twin = ce.value("subject", "");
  if (twin.empty())
    return;
  if (type == "twin.behaviour_attached" || type == "twin.behaviour_detached") {
    reload_twin(twin);
    return;
  }
  auto it = twins.find(twin);
  if (it == twins.end())
    return;
  const json& data = ce.contains("data") ? ce["data"] : json::object();
  if (type == "twin.lifecycle_changed") {
    it->second.active = data.value("to", "") == "active";
    return;
  }
  if (type != "twin.telemetry_received" && type != "twin.property_updated")
    return;
  auto values = event_values(data);
  if (values.empty())
    return;
  event_meta m;
  m.revision = data.value("revision", std::uint64_t{0});
  const json lin = data.value("lineage", json::object());
  m.time_ms = parse_time_ms(lin.value("sourceTime", "")).value_or(wall_ms());
  if (auto s = lin.find("source"); s != lin.end() && s->is_object())
    m.source_id = s->value("id", "");
  m.origin = lin.value("origin", json());
  for (auto& [name, inst] : it->second.behaviours) {
    if (m.source_id == "behaviour/" + name)
      continue; // our own output: no feedback loop
    inst->on_values(values, m);
  }
}

void behaviour_runtime::impl::tick() {
  auto now = steady::now();
  for (auto& [id, e] : twins)
    if (e.active)
      for (auto& [n, inst] : e.behaviours)
        inst->on_tick(now);
}

void behaviour_runtime::impl::run() {
  load_all();
  {
    std::lock_guard lk{mu};
    loaded = true;
  }
  cv.notify_all();
  auto next_tick = steady::now() + 100ms;
  for (;;) {
    item it;
    {
      std::unique_lock lk{mu};
      busy = false;
      cv.notify_all();
      cv.wait_until(lk, next_tick, [&] { return stopping || !queue.empty(); });
      if (stopping)
        return;
      if (!queue.empty()) {
        it = std::move(queue.front());
        queue.pop_front();
        busy = true;
        if (m_queue)
          m_queue->Set(static_cast<double>(queue.size()));
      }
    }
    try {
      if (busy) {
        if (auto* ce = std::get_if<json>(&it))
          handle(*ce);
        else if (auto* fn = std::get_if<std::function<void()>>(&it))
          (*fn)();
      }
      if (steady::now() >= next_tick) {
        tick();
        next_tick = steady::now() + 100ms;
      }
    } catch (const std::exception& e) {
      opt.log(std::string{"unexpected error: "} + e.what());
    }
  }
}

// -- public ---------------------------------------------------------------------------

behaviour_runtime::behaviour_runtime(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

behaviour_runtime::~behaviour_runtime() { stop(); }

expected<std::unique_ptr<behaviour_runtime>> behaviour_runtime::start(actors::fabric& fabric,
                                                                      runtime_options options) {
  auto p = std::make_shared<impl>(fabric, std::move(options));
  auto* raw = p.get();
  // Device data of twins without behaviours (nearly all of it) is never
  // turned into JSON for us: only bindings changing, and the changes of
  // twins that have one.
  auto interest = [](const transport::change_kind& k) {
    return k.subject_has_behaviours || k.type == "twin.behaviour_attached"
           || k.type == "twin.behaviour_detached";
  };
  auto sub = fabric.subscribe_filtered(raw->ctx(), interest, [raw](const json& ce) {
    // Only what a behaviour may need; never blocks.
    auto type = ce.value("type", "");
    if (type == "twin.telemetry_received" || type == "twin.property_updated"
        || type == "twin.behaviour_attached" || type == "twin.behaviour_detached"
        || type == "twin.lifecycle_changed")
      raw->post(ce);
  });
  if (!sub)
    return sub.error();
  raw->sub = std::move(*sub);
  raw->worker = std::thread([raw] { raw->run(); });
  return std::unique_ptr<behaviour_runtime>(new behaviour_runtime(std::move(p)));
}

void behaviour_runtime::stop() {
  if (!impl_)
    return;
  impl_->sub.reset();
  {
    std::lock_guard lk{impl_->mu};
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->worker.joinable())
    impl_->worker.join();
  impl_->twins.clear(); // frees FMUs (terminates workers)
}

bool behaviour_runtime::wait_loaded(std::chrono::milliseconds timeout) {
  std::unique_lock lk{impl_->mu};
  return impl_->cv.wait_for(lk, timeout, [&] { return impl_->loaded; });
}

bool behaviour_runtime::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lk{impl_->mu};
  return impl_->cv.wait_for(lk, timeout, [&] {
    return impl_->loaded && impl_->queue.empty() && !impl_->busy;
  });
}

runtime_stats behaviour_runtime::stats() const {
  runtime_stats s;
  s.events = impl_->n_events;
  s.dropped = impl_->n_dropped;
  s.fmu_steps = impl_->n_steps;
  s.scores = impl_->n_scores;
  s.forecasts = impl_->n_forecasts;
  s.writes = impl_->n_writes;
  s.write_failures = impl_->n_write_failures;
  s.alerts = impl_->n_alerts;
  s.failures = impl_->n_failures;
  s.bindings = impl_->n_bindings;
  return s;
}

} // namespace twin::behaviours
