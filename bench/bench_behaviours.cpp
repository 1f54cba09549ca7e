// Behaviours through the fabric (issue 4): FMU steps/s and ML scores/s per
// twin update, next to the same work without the fabric, in the same run.
//
//   bench_behaviours [--twins 100] [--updates 20000] [--worker-updates 20000]
//                    [--ml-updates 20000] [--train 200] [--window 1000]
//                    [--steps 2000000] [--worker-steps 50000] [--scores 2000000]
//                    [--phases nipwm]  (n input only, i in-process, w worker,
//                                       m ML; default all)
//
// Fabric path, per cycle: node::ingest_data (load, shaftSpeed, temperature;
// sync group commit) -> change stream -> behaviour_runtime (started on the
// node as twin-node does) -> bearing-wear binding (trigger on load, one
// doStep of 60 simulated s per update: 1 s of source time x timeScale 60,
// step 600) -> fabric::ingest_data of `wear` (source kind "behaviour") ->
// durable -> its property_updated event, counted here by a subscription.
// A cycle is complete when that output event arrives. The driver keeps at
// most --window cycles open (inputs sent - outputs seen), one thread,
// twins round-robin. Untimed setup: model, twins, attach, one update per
// twin (the init contract: the first complete input set initializes, no
// step), for the worker run the twin-fmu-worker processes (one per twin).
//
// ML: an anomaly binding (vibrationRms, kurtosis, bandEnergyHigh,
// temperature) trained on the first --train samples of each twin (untimed,
// until the trained model is stored with every twin), then every update is
// one score written to anomalyScore.
//
// Baselines, same FMU, same per-step exchange (set 3 inputs, doStep, get
// wear): the FMU's fmi3 C functions called directly; twin_fmu's in-process
// fmu_instance::step_float64; a worker_fmu (one round trip, the runtime's
// path). ML: anomaly_detector::score alone on the same kind of vectors.
// Reference: the same updates with the runtime on but no binding, a cycle
// ending at the input's durable ack (the fabric's share of a cycle).

#include <array>
#include <cmath>
#include <ctime>
#include <dlfcn.h>
#include <fstream>
#include <future>
#include <random>
#include <sys/resource.h>
#include <sstream>

#include "bench_common.hpp"
#include "twin/actors/node.hpp"
#include "twin/behaviours/runtime.hpp"
#include "twin/fmu/fmi_c.h"
#include "twin/fmu/instance.hpp"
#include "twin/fmu/worker.hpp"
#include "twin/ml/anomaly.hpp"
#include "twin/model/dtdl.hpp"

using namespace twin;
using json = nlohmann::json;
using clk = std::chrono::steady_clock;

namespace {

const char* model_id = "dtmi:fabric:example:GearboxBearing;1";

struct config {
  std::size_t twins = 100, updates = 20000, worker_updates = 20000, ml_updates = 20000;
  std::size_t train = 200, window = 1000;
  std::size_t steps = 2'000'000, worker_steps = 50'000, scores = 2'000'000;
  std::string phases = "nipwm";
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_behaviours: %s\n", what.c_str());
  std::exit(1);
}

struct cpu_times {
  double user = 0, sys = 0;
};
/// CPU of this process, or of its waited-for children (the FMU workers,
/// reaped when the runtime stops).
cpu_times cpu_now(int who = RUSAGE_SELF) {
  rusage u{};
  ::getrusage(who, &u);
  auto sec = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return {sec(u.ru_utime), sec(u.ru_stime)};
}

std::string fmu_path() { return std::string{TWIN_BENCH_FMU_DIR} + "/bearing-fmi3.fmu"; }

// Inputs of update k of a twin: what twin-edge would send.
double load_of(std::size_t k) { return 8000.0 + 2000.0 * std::sin(0.01 * double(k)); }
double speed_of(std::size_t k) { return 1500.0 + 10.0 * double(k % 7); }
double temp_of(std::size_t k) { return 70.0 + 0.5 * double(k % 11); }

// ML features: correlated healthy-looking vectors (deterministic).
struct feature_gen {
  std::mt19937_64 rng;
  std::normal_distribution<double> n{0.0, 1.0};
  explicit feature_gen(std::uint64_t seed) : rng(seed) {}
  std::array<double, 4> next() {
    double z = n(rng);
    return {0.5 + 0.05 * (z + 0.5 * n(rng)), 3.0 + 0.2 * n(rng),
            0.01 + 0.002 * (z + 0.5 * n(rng)), 60.0 + 2.0 * n(rng)};
  }
};
const std::vector<std::string> features{"vibrationRms", "kurtosis", "bandEnergyHigh",
                                        "temperature"};

// -- baselines ------------------------------------------------------------------

template <class T>
T* sym(void* h, const char* name) {
  void* p = ::dlsym(h, name);
  if (!p)
    die(std::string{"missing "} + name);
  return reinterpret_cast<T*>(p);
}
void log3(fmi3InstanceEnvironment, fmi3Status, fmi3String, fmi3String) {}

constexpr fmi3ValueReference in_vr[3] = {1, 2, 3}, wear_vr[1] = {10};
constexpr double step_h = 60.0;

/// The bearing FMU's own fmi3 functions: set 3 inputs, doStep, get wear.
double direct_steps_per_s(long steps, double& sink) {
  auto f = fmu::fmu_file::open(fmu_path());
  if (!f)
    die(f.error().message);
  const auto& md = (*f)->description();
  auto lib = (*f)->directory() / "binaries" / "x86_64-linux" / "bearing.so";
  void* h = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h)
    die(::dlerror());
  auto inst = sym<fmi3InstantiateCoSimulationTYPE>(h, "fmi3InstantiateCoSimulation")(
    "direct", md.instantiation_token.c_str(), "", false, false, false, false, nullptr, 0,
    nullptr, &log3, nullptr);
  auto set = sym<fmi3SetFloat64TYPE>(h, "fmi3SetFloat64");
  auto get = sym<fmi3GetFloat64TYPE>(h, "fmi3GetFloat64");
  auto step = sym<fmi3DoStepTYPE>(h, "fmi3DoStep");
  const fmi3ValueReference par_vr[2] = {4, 9};
  const double par[2] = {20000, 0.5};
  if (!inst || set(inst, par_vr, 2, par, 2) != fmi3OK
      || sym<fmi3EnterInitializationModeTYPE>(h, "fmi3EnterInitializationMode")(
           inst, false, 0, 0, false, 0) != fmi3OK
      || sym<fmi3ExitInitializationModeTYPE>(h, "fmi3ExitInitializationMode")(inst) != fmi3OK)
    die("direct fmi3 init");
  auto t0 = clk::now();
  for (long k = 0; k < steps; ++k) {
    double in[3] = {load_of(std::size_t(k)), speed_of(std::size_t(k)), temp_of(std::size_t(k))};
    double w[1];
    fmi3Boolean ev, term, early;
    fmi3Float64 last;
    if (set(inst, in_vr, 3, in, 3) != fmi3OK
        || step(inst, double(k) * step_h, step_h, true, &ev, &term, &early, &last) != fmi3OK
        || get(inst, wear_vr, 1, w, 1) != fmi3OK)
      die("direct fmi3 step");
    sink += w[0];
  }
  double s = bench::seconds_since(t0);
  sym<fmi3FreeInstanceTYPE>(h, "fmi3FreeInstance")(inst);
  ::dlclose(h);
  return double(steps) / s;
}

/// twin_fmu's co_simulator (in-process or worker), step_float64 as the runtime.
double hosted_steps_per_s(fmu::co_simulator& s, long steps, double& sink) {
  if (!s.setup({}) || !s.set_from_text("ratedLoad", "20000")
      || !s.set_from_text("initialWear", "0.5") || !s.enter_initialization()
      || !s.exit_initialization())
    die("host init");
  const std::array<fmu::value_reference, 3> ivr{1, 2, 3};
  const std::array<fmu::value_reference, 1> ovr{10};
  std::array<double, 1> w{0};
  auto t0 = clk::now();
  for (long k = 0; k < steps; ++k) {
    std::array<double, 3> in{load_of(std::size_t(k)), speed_of(std::size_t(k)),
                             temp_of(std::size_t(k))};
    if (auto st = s.step_float64(ivr, in, double(k) * step_h, step_h, ovr, w); !st)
      die(st.error().message);
    sink += w[0];
  }
  return double(steps) / bench::seconds_since(t0);
}

double score_per_s(std::size_t train, std::size_t n, double& sink) {
  feature_gen g{7};
  std::vector<std::vector<double>> samples;
  for (std::size_t i = 0; i < train; ++i) {
    auto x = g.next();
    samples.emplace_back(x.begin(), x.end());
  }
  ml::model_binding mb;
  auto d = model::parse_dtmi(model_id);
  if (!d)
    die("dtmi");
  mb.bound_model = *d;
  auto det = ml::anomaly_detector::train(mb, features, samples);
  if (!det)
    die("train: " + det.error().describe());
  std::vector<std::array<double, 4>> xs(1024);
  for (auto& x : xs)
    x = g.next();
  auto t0 = clk::now();
  for (std::size_t i = 0; i < n; ++i) {
    auto s = det->score(xs[i & 1023]);
    if (!s)
      die("score");
    sink += s->distance;
  }
  return double(n) / bench::seconds_since(t0);
}

// -- through the fabric ---------------------------------------------------------------

enum class phase { fmu_in_process, fmu_worker, anomaly, none };

struct fabric_result {
  std::size_t cycles = 0;  // timed updates sent
  std::size_t outputs = 0; // behaviour outputs seen in the timed part
  double secs = 0, setup_secs = 0;
  cpu_times cpu;      // this process, timed part
  double workers = 0; // CPU of the FMU worker processes over their whole life
  behaviours::runtime_stats st; // deltas over the timed part
};

json fmu_spec(const char* isolation) {
  return json{{"kind", "fmu"},
              {"model", model_id},
              {"fmu", "bearing-fmi3.fmu"},
              {"inputs", {{"load", "load"}, {"shaftSpeed", "shaftSpeed"},
                          {"temperature", "temperature"}}},
              {"outputs", {{"wear", "wear"}}},
              {"parameters", {{"ratedLoad", 20000}, {"initialWear", 0.5}}},
              {"required", {"load", "shaftSpeed", "temperature"}},
              {"step", 600},
              {"trigger", {{"on", "update"}, {"names", {"load"}}}},
              {"timeScale", 60},
              {"isolation", isolation}};
}

json anomaly_spec(std::size_t train) {
  return json{{"kind", "anomaly"},      {"model", model_id},
              {"version", "1.0.0"},     {"features", features},
              {"training", {{"samples", train}}}, {"output", "anomalyScore"}};
}

fabric_result through_fabric(const config& c, phase ph, std::size_t updates) {
  const auto setup0 = clk::now();
  bench::temp_dir dir{"bench-behaviours"};
  actors::node_options o;
  o.data_dir = dir.path.string();
  o.sync = true;
  auto n = actors::node::start(o);
  auto& node = *bench::value_or_exit(n, "node start");
  actors::request_context ctx{security::principal{"bench", {security::role::admin}}, "bench"};
  auto sync_call = [&](auto&& f) {
    std::promise<expected<json>> p;
    auto fut = p.get_future();
    f([&p](expected<json> r) { p.set_value(std::move(r)); });
    auto r = fut.get();
    return json(bench::value_or_exit(r, "setup"));
  };
  std::ifstream mf{std::string{TWIN_SOURCE_DIR} + "/deploy/models/gearbox-bearing.json"};
  std::stringstream ms;
  ms << mf.rdbuf();
  sync_call([&](actors::reply_fn f) { node.add_models(ctx, json::parse(ms.str()), f); });
  const long N = long(c.twins), W = long(c.window);
  bench::run_window(N, W, [&](long i, actors::reply_fn f) {
    node.create_twin(ctx, bench::twin_name(int(i)), json{{"$model", model_id}}, f);
  });
  bench::run_window(N, W, [&](long i, actors::reply_fn f) {
    node.transition(ctx, bench::twin_name(int(i)), json{{"to", "active"}, {"reason", "bench"}},
                    f);
  });

  // The runtime, as twin-node starts it (cli/twin_node.cpp).
  behaviours::runtime_options ro;
  ro.fmu_dir = TWIN_BENCH_FMU_DIR;
  ro.worker_executable = TWIN_BENCH_FMU_WORKER;
  ro.log = [](const std::string& s) {
    if (s.find(") loaded") == std::string::npos) // one per binding: not interesting
      std::fprintf(stderr, "behaviours: %s\n", s.c_str());
  };
  auto rtr = behaviours::behaviour_runtime::start(node, std::move(ro));
  auto& rt = *bench::value_or_exit(rtr, "behaviour runtime");
  if (!rt.wait_loaded(std::chrono::seconds{30}))
    die("runtime did not load");

  // Outputs: durable writes of source kind "behaviour", seen on the stream.
  std::mutex m;
  std::condition_variable cv;
  std::size_t outputs = 0;
  auto sub = node.subscribe(ctx, [&](const json& ce) {
    auto type = ce.value("type", "");
    if (type != "twin.property_updated" && type != "twin.telemetry_received")
      return;
    auto d = ce.find("data");
    if (d == ce.end())
      return;
    auto l = d->find("lineage");
    if (l == d->end() || !l->contains("source") || (*l)["source"].value("kind", "") != "behaviour")
      return;
    {
      std::lock_guard g{m};
      ++outputs;
    }
    cv.notify_all();
  });
  bench::value_or_exit(sub, "subscribe");

  const char* name = ph == phase::anomaly ? "anomaly" : "bearing-wear";
  json spec = ph == phase::anomaly ? anomaly_spec(c.train)
                                   : fmu_spec(ph == phase::fmu_worker ? "worker" : "in-process");
  if (ph != phase::none)
    bench::run_window(N, W, [&](long i, actors::reply_fn f) {
      node.attach_behaviour(ctx, bench::twin_name(int(i)), name, spec, f);
    });
  for (auto t0 = clk::now(); ph != phase::none && rt.stats().bindings < c.twins;) {
    if (bench::seconds_since(t0) > 60)
      die("bindings not loaded: " + std::to_string(rt.stats().bindings));
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }

  // Update k of twin t: source time base + k s.
  const std::int64_t base_ms
    = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch())
        .count()
      - 3'600'000;
  std::vector<feature_gen> gens;
  for (std::size_t t = 0; t < c.twins; ++t)
    gens.emplace_back(1000 + t);
  std::atomic<std::uint64_t> ingest_failed{0};
  std::mutex em;
  std::string first_error;
  auto send = [&](std::size_t i, std::size_t k0) {
    std::size_t t = i % c.twins, k = k0 + i / c.twins;
    actors::device_data d;
    if (ph == phase::anomaly) {
      auto x = gens[t].next();
      for (std::size_t j = 0; j < 4; ++j)
        d.values[features[j]] = x[j];
    } else {
      d.values = json{{"load", load_of(k)}, {"shaftSpeed", speed_of(k)},
                      {"temperature", temp_of(k)}};
    }
    d.source_time_ms = base_ms + std::int64_t(k) * 1000;
    d.source = "bench/" + bench::twin_name(int(t));
    d.pipeline_version = "bench/1";
    return d;
  };
  auto on_ack = [&](expected<json> r) {
    if (ph == phase::none) { // no behaviour: a cycle ends with the input's ack
      {
        std::lock_guard g{m};
        ++outputs;
      }
      cv.notify_all();
    }
    if (!r && ingest_failed.fetch_add(1) == 0) {
      std::lock_guard g{em};
      first_error = r.error().describe();
    }
  };
  auto wait_idle = [&] {
    if (!rt.wait_idle(std::chrono::seconds{120}))
      die("runtime not idle");
  };

  // Warm-up (untimed): FMU - one complete input set per twin (init, no
  // step); ML - the training samples, then wait for every stored model.
  std::size_t k0 = ph == phase::anomaly ? c.train : 1;
  bench::run_window(long(c.twins * k0), W, [&](long i, actors::reply_fn f) {
    node.ingest_data(ctx, bench::twin_name(int(std::size_t(i) % c.twins)),
                     send(std::size_t(i), 0), f);
  });
  wait_idle();
  if (ph == phase::anomaly) {
    for (std::size_t t = 0; t < c.twins; ++t)
      for (auto t0 = clk::now();;) {
        auto doc = sync_call(
          [&](actors::reply_fn f) { node.get_twin(ctx, bench::twin_name(int(t)), f); });
        if (doc["$behaviours"][name].contains("trained"))
          break;
        if (bench::seconds_since(t0) > 60)
          die("not trained: " + bench::twin_name(int(t)));
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
      }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    wait_idle();
  }
  if (auto st = rt.stats(); st.failures || st.dropped)
    die("setup: " + std::to_string(st.failures) + " behaviour failures, "
        + std::to_string(st.dropped) + " dropped events");

  fabric_result res;
  res.setup_secs = bench::seconds_since(setup0);
  std::size_t out0;
  {
    std::lock_guard g{m};
    out0 = outputs;
  }
  const auto st0 = rt.stats();
  const auto cpu0 = cpu_now();
  const auto children0 = cpu_now(RUSAGE_CHILDREN);
  const auto t0 = clk::now();
  for (std::size_t i = 0; i < updates; ++i) {
    {
      std::unique_lock g{m};
      cv.wait(g, [&] { return i < outputs - out0 + c.window; });
    }
    node.ingest_data(ctx, bench::twin_name(int(i % c.twins)), send(i, k0), on_ack);
  }
  {
    std::unique_lock g{m};
    cv.wait_for(g, std::chrono::seconds{30}, [&] { return outputs - out0 >= updates; });
    res.outputs = outputs - out0;
  }
  res.secs = bench::seconds_since(t0);
  auto cpu1 = cpu_now();
  res.cpu = {cpu1.user - cpu0.user, cpu1.sys - cpu0.sys};
  res.cycles = updates;
  wait_idle();
  auto st1 = rt.stats();
  res.st = st1;
  res.st.events -= st0.events;
  res.st.dropped -= st0.dropped;
  res.st.fmu_steps -= st0.fmu_steps;
  res.st.scores -= st0.scores;
  res.st.writes -= st0.writes;
  res.st.write_failures -= st0.write_failures;
  res.st.alerts -= st0.alerts;
  res.st.failures -= st0.failures;
  if (ingest_failed)
    std::fprintf(stderr, "%llu input writes failed, first: %s\n",
                 (unsigned long long) ingest_failed.load(), first_error.c_str());
  sub->reset();
  rt.stop();
  auto children1 = cpu_now(RUSAGE_CHILDREN);
  res.workers = children1.user + children1.sys - children0.user - children0.sys;
  node.stop();
  return res;
}

void print_fabric(const char* what, const fabric_result& r) {
  std::printf("  %s: %zu updates over %zu s setup; outputs seen %zu%s; runtime: %llu steps, "
              "%llu scores, %llu writes acked, %llu refused, %llu dropped, %llu failures, "
              "%llu alerts, %llu events\n    CPU this process %.2f s user + %.2f s sys = %.0f us/cycle"
              "%s\n",
              what, r.cycles, std::size_t(r.setup_secs), r.outputs,
              r.outputs < r.cycles ? " (MISSING)" : "", (unsigned long long) r.st.fmu_steps,
              (unsigned long long) r.st.scores, (unsigned long long) r.st.writes,
              (unsigned long long) r.st.write_failures, (unsigned long long) r.st.dropped,
              (unsigned long long) r.st.failures, (unsigned long long) r.st.alerts,
              (unsigned long long) r.st.events, r.cpu.user, r.cpu.sys,
              1e6 * (r.cpu.user + r.cpu.sys) / double(r.outputs ? r.outputs : 1),
              r.workers >= 0.01 ? (" (+ FMU workers " + std::to_string(int(1e6 * r.workers / double(r.outputs ? r.outputs : 1)))
                               + " us/cycle, whole life)").c_str()
                            : "");
}

} // namespace

int main(int argc, char** argv) {
  config c;
  bench::parse_options(argc, argv,
                       {{"--twins", &c.twins},
                        {"--updates", &c.updates},
                        {"--worker-updates", &c.worker_updates},
                        {"--ml-updates", &c.ml_updates},
                        {"--train", &c.train},
                        {"--window", &c.window},
                        {"--steps", &c.steps},
                        {"--worker-steps", &c.worker_steps},
                        {"--scores", &c.scores},
                        {"--phases", &c.phases}});
  bench::print_machine();
  std::printf("twins %zu, window %zu cycles, sync commits; FMU %s\n", c.twins, c.window,
              fmu_path().c_str());
  auto has = [&](char p) { return c.phases.find(p) != std::string::npos; };
  double sink = 0;

  // Baselines.
  const double direct = direct_steps_per_s(long(c.steps), sink);
  double host_ip = 0, host_w = 0;
  {
    auto f = fmu::fmu_file::open(fmu_path());
    if (!f)
      die(f.error().message);
    auto inst = fmu::fmu_instance::create(*f);
    if (!inst)
      die(inst.error().message);
    host_ip = hosted_steps_per_s(**inst, long(c.steps), sink);
    fmu::worker_options wo;
    wo.executable = TWIN_BENCH_FMU_WORKER;
    auto w = fmu::worker_fmu::create(fmu_path(), wo);
    if (!w)
      die(w.error().message);
    host_w = hosted_steps_per_s(**w, long(c.worker_steps), sink);
  }
  const double score_alone = has('m') ? score_per_s(c.train, c.scores, sink) : 0;

  fabric_result fn, fi, fw, fm;
  if (has('n')) {
    fn = through_fabric(c, phase::none, c.updates);
    print_fabric("fabric input only (runtime on, no binding; cycle = input durable ack)", fn);
  }
  if (has('i')) {
    fi = through_fabric(c, phase::fmu_in_process, c.updates);
    print_fabric("fabric FMU in-process", fi);
  }
  if (has('w')) {
    fw = through_fabric(c, phase::fmu_worker, c.worker_updates);
    print_fabric("fabric FMU worker", fw);
  }
  if (has('m')) {
    fm = through_fabric(c, phase::anomaly, c.ml_updates);
    print_fabric("fabric anomaly", fm);
  }

  auto rate = [](const fabric_result& r) { return r.secs > 0 ? double(r.outputs) / r.secs : 0; };
  std::printf("\n%-44s %12s %10s %12s %12s\n", "bearing FMU (set 3 in, doStep 60 s, get wear)",
              "/s", "us each", "direct/this", "host/this");
  auto row = [](const char* what, double r, double direct, double host) {
    if (r <= 0)
      return;
    std::printf("%-44s %12.0f %10.3f %11.1fx", what, r, 1e6 / r, direct / r);
    if (host > 0)
      std::printf(" %11.1fx", host / r);
    std::printf("\n");
  };
  row("direct fmi3 calls", direct, direct, 0);
  row("host in-process (fmu_instance)", host_ip, direct, 0);
  row("host worker (worker_fmu, 1 round trip)", host_w, direct, 0);
  row("fabric input only, no binding (ref.)", rate(fn), direct, 0);
  row("fabric cycles, isolation in-process", rate(fi), direct, host_ip);
  row("fabric cycles, isolation worker", rate(fw), direct, host_w);
  if (has('m')) {
    std::printf("%-44s %12s %10s %12s\n", "anomaly (4 features, MCD, trained on --train)", "/s",
                "us each", "alone/this");
    std::printf("%-44s %12.0f %10.3f %11.1fx\n", "anomaly_detector::score alone", score_alone,
                1e6 / score_alone, 1.0);
    if (rate(fm) > 0)
      std::printf("%-44s %12.0f %10.3f %11.1fx\n", "fabric cycles, anomaly score", rate(fm),
                  1e6 / rate(fm), score_alone / rate(fm));
  }
  std::printf("(a fabric cycle: input update durable -> stream -> runtime -> step/score -> "
              "output write durable -> its event; checksum %g)\n", sink);
  bool missing = (has('i') && fi.outputs < fi.cycles) || (has('w') && fw.outputs < fw.cycles)
                 || (has('m') && fm.outputs < fm.cycles);
  return missing ? 1 : 0;
}
