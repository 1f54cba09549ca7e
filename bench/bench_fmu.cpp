// FMU step overhead: communication steps per second of our thermal FMU
// (set input P, doStep, get output T) through
//   direct      - the FMU's C functions called straight from here (baseline)
//   in-process  - twin::fmu::fmu_instance (status checks, state machine)
//   worker      - twin::fmu::worker_fmu (a twin-fmu-worker process; three
//                 request/response round trips per step over a socketpair)
//   worker-1rt  - the same worker through step_float64: one round trip
// for FMI 3.0 and 2.0, measured in the same run.
//
//   bench_fmu [--steps N] [--worker-steps N] [--fmu-dir DIR]

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <thread>

#include "bench_common.hpp"
#include "twin/fmu/fmi_c.h"
#include "twin/fmu/instance.hpp"
#include "twin/fmu/worker.hpp"

using namespace twin::fmu;
using namespace twin::bench;
using clk = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_fmu: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T* sym(void* h, const char* name) {
  void* p = ::dlsym(h, name);
  if (!p)
    die(std::string{"missing "} + name);
  return reinterpret_cast<T*>(p);
}

void log3(fmi3InstanceEnvironment, fmi3Status, fmi3String, fmi3String) {}
void log2(fmi2ComponentEnvironment, fmi2String, fmi2Status, fmi2String, fmi2String, ...) {}

// Calls the FMU's own functions, with the same per-step work as the host.
double direct(const fmu_file& f, long steps, double& sink) {
  const auto& md = f.description();
  bool v3 = md.version == fmi_version::v3;
  auto lib = f.directory() / "binaries" / (v3 ? "x86_64-linux" : "linux64") / "thermal.so";
  // A second dlopen of the same path returns the same handle: fine here.
  void* h = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h)
    die(::dlerror());
  const fmi3ValueReference p_vr[1] = {2}, t_vr[1] = {1};
  double p[1] = {1000}, t[1] = {0};
  const double dt = 0.01;
  clk::time_point t0;
  if (v3) {
    auto inst = sym<fmi3InstantiateCoSimulationTYPE>(h, "fmi3InstantiateCoSimulation")(
      "direct", md.instantiation_token.c_str(), "", false, false, false, false, nullptr, 0,
      nullptr, &log3, nullptr);
    auto enter = sym<fmi3EnterInitializationModeTYPE>(h, "fmi3EnterInitializationMode");
    auto exit_ = sym<fmi3ExitInitializationModeTYPE>(h, "fmi3ExitInitializationMode");
    auto set = sym<fmi3SetFloat64TYPE>(h, "fmi3SetFloat64");
    auto get = sym<fmi3GetFloat64TYPE>(h, "fmi3GetFloat64");
    auto step = sym<fmi3DoStepTYPE>(h, "fmi3DoStep");
    if (!inst || enter(inst, false, 0, 0, false, 0) != fmi3OK || exit_(inst) != fmi3OK)
      die("direct fmi3 init");
    t0 = clk::now();
    for (long k = 0; k < steps; ++k) {
      fmi3Boolean ev, term, early;
      fmi3Float64 last;
      if (set(inst, p_vr, 1, p, 1) != fmi3OK
          || step(inst, k * dt, dt, true, &ev, &term, &early, &last) != fmi3OK
          || get(inst, t_vr, 1, t, 1) != fmi3OK)
        die("direct fmi3 step");
      sink += t[0];
    }
    double s = seconds_since(t0);
    sym<fmi3FreeInstanceTYPE>(h, "fmi3FreeInstance")(inst);
    ::dlclose(h);
    return s;
  }
  fmi2CallbackFunctions cb{&log2, &std::calloc, &std::free, nullptr, nullptr};
  auto inst = sym<fmi2InstantiateTYPE>(h, "fmi2Instantiate")(
    "direct", fmi2CoSimulation, md.instantiation_token.c_str(), "", &cb, fmi2False, fmi2False);
  auto setup = sym<fmi2SetupExperimentTYPE>(h, "fmi2SetupExperiment");
  auto enter = sym<fmi2EnterInitializationModeTYPE>(h, "fmi2EnterInitializationMode");
  auto exit_ = sym<fmi2ExitInitializationModeTYPE>(h, "fmi2ExitInitializationMode");
  auto set = sym<fmi2SetRealTYPE>(h, "fmi2SetReal");
  auto get = sym<fmi2GetRealTYPE>(h, "fmi2GetReal");
  auto step = sym<fmi2DoStepTYPE>(h, "fmi2DoStep");
  if (!inst || setup(inst, 0, 0, 0, 0, 0) != fmi2OK || enter(inst) != fmi2OK
      || exit_(inst) != fmi2OK)
    die("direct fmi2 init");
  const fmi2ValueReference p2[1] = {2}, t2[1] = {1};
  t0 = clk::now();
  for (long k = 0; k < steps; ++k) {
    if (set(inst, p2, 1, p) != fmi2OK || step(inst, k * dt, dt, fmi2True) != fmi2OK
        || get(inst, t2, 1, t) != fmi2OK)
      die("direct fmi2 step");
    sink += t[0];
  }
  double s = seconds_since(t0);
  sym<fmi2FreeInstanceTYPE>(h, "fmi2FreeInstance")(inst);
  ::dlclose(h);
  return s;
}

// The same loop through the co_simulator API; `batched` uses step_float64
// (one call, one round trip in a worker).
double hosted(co_simulator& s, long steps, double& sink, bool batched = false) {
  if (!s.setup({}) || !s.enter_initialization() || !s.exit_initialization())
    die("host init");
  const std::array<value_reference, 1> p_vr{2}, t_vr{1};
  std::array<double, 1> p{1000}, t{0};
  const double dt = 0.01;
  auto t0 = clk::now();
  for (long k = 0; batched && k < steps; ++k) {
    if (auto st = s.step_float64(p_vr, p, k * dt, dt, t_vr, t); !st)
      die(st.error().message);
    sink += t[0];
  }
  for (long k = 0; !batched && k < steps; ++k) {
    if (auto st = s.set_float64(p_vr, p); !st)
      die(st.error().message);
    if (auto st = s.do_step(k * dt, dt); !st)
      die(st.error().message);
    if (auto st = s.get_float64(t_vr, t); !st)
      die(st.error().message);
    sink += t[0];
  }
  return seconds_since(t0);
}

} // namespace

int main(int argc, char** argv) {
  const long steps = arg(argc, argv, "--steps", 2'000'000);
  const long worker_steps = arg(argc, argv, "--worker-steps", 50'000);
  const std::string dir = sarg(argc, argv, "--fmu-dir", TWIN_BENCH_FMU_DIR);
  print_machine();
  std::printf("per step: set P, doStep, get T (thermal FMU); steps %ld, worker steps %ld\n",
              steps, worker_steps);
  std::printf("%-8s %-11s %14s %12s %10s\n", "FMI", "mode", "steps/s", "us/step", "vs direct");
  double sink = 0;
  for (const char* v : {"fmi3", "fmi2"}) {
    auto path = dir + "/thermal-" + v + ".fmu";
    auto f = fmu_file::open(path);
    if (!f)
      die(f.error().message);
    const double d = direct(**f, steps, sink);
    auto inst = fmu_instance::create(*f);
    if (!inst)
      die(inst.error().message);
    const double ip = hosted(**inst, steps, sink);
    worker_options wo;
    wo.executable = TWIN_BENCH_FMU_WORKER;
    auto w = worker_fmu::create(path, wo);
    if (!w)
      die(w.error().message);
    const double wk = hosted(**w, worker_steps, sink);
    auto wb_inst = worker_fmu::create(path, wo);
    if (!wb_inst)
      die(wb_inst.error().message);
    const double wb = hosted(**wb_inst, worker_steps, sink, true);
    const double rd = steps / d, ri = steps / ip, rw = worker_steps / wk, rb = worker_steps / wb;
    std::printf("%-8s %-11s %14.0f %12.3f %10s\n", v, "direct", rd, 1e6 / rd, "1.00x");
    std::printf("%-8s %-11s %14.0f %12.3f %9.2fx\n", v, "in-process", ri, 1e6 / ri, rd / ri);
    std::printf("%-8s %-11s %14.0f %12.3f %9.1fx\n", v, "worker", rw, 1e6 / rw, rd / rw);
    std::printf("%-8s %-11s %14.0f %12.3f %9.1fx\n", v, "worker-1rt", rb, 1e6 / rb, rd / rb);
  }
  std::printf("(checksum %g)\n", sink);
}
