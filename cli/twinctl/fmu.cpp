// twinctl fmu inspect FILE.fmu
// twinctl fmu run FILE.fmu [--start T0] [--stop T1] [--step H]
//                 [--set NAME=VALUE ...] [--input CSV] --output CSV
//                 [--in-process] [--call-timeout S]
// Offline: the FMU is read (inspect: only modelDescription.xml, no native
// code is loaded) or co-simulated here, by default in a twin-fmu-worker
// process so that a crashing FMU cannot take twinctl down.

#include "fmu.hpp"

#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "twin/fmu/archive.hpp"
#include "twin/fmu/co_simulate.hpp"
#include "twin/fmu/instance.hpp"
#include "twin/fmu/worker.hpp"

namespace twinctl {

namespace {

using namespace twin::fmu;

struct fmu_run_args {
  std::string file;
  std::optional<double> start, stop, step;
  std::vector<std::string> sets;
  std::string input;
  std::string output;
  bool in_process = false;
  double call_timeout = 10;
};

std::string opt(const std::optional<double>& d) {
  return d ? format_value(*d) : std::string{"-"};
}

int fmu_inspect(const std::string& file, bool json) {
  auto xml = read_archive_entry(file, "modelDescription.xml");
  if (!xml)
    throw usage_error(xml.error().message);
  auto md = parse_model_description(*xml);
  if (!md)
    throw usage_error(file + ": " + md.error().message);
  if (json) {
    nlohmann::json j;
    j["fmiVersion"] = md->fmi_version_text;
    j["modelName"] = md->model_name;
    j["instantiationToken"] = md->instantiation_token;
    j["description"] = md->description;
    j["coSimulation"] = md->co_simulation.has_value();
    if (md->co_simulation) {
      j["modelIdentifier"] = md->co_simulation->model_identifier;
      j["canHandleVariableCommunicationStepSize"]
        = md->co_simulation->can_handle_variable_communication_step_size;
      j["canBeInstantiatedOnlyOncePerProcess"]
        = md->co_simulation->can_be_instantiated_only_once_per_process;
    }
    auto& de = j["defaultExperiment"] = nlohmann::json::object();
    if (md->experiment.start_time) de["startTime"] = *md->experiment.start_time;
    if (md->experiment.stop_time) de["stopTime"] = *md->experiment.stop_time;
    if (md->experiment.step_size) de["stepSize"] = *md->experiment.step_size;
    if (md->experiment.tolerance) de["tolerance"] = *md->experiment.tolerance;
    auto& vars = j["variables"] = nlohmann::json::array();
    for (const auto& v : md->variables) {
      nlohmann::json x{{"name", v.name},
                       {"causality", to_string(v.causality_)},
                       {"variability", to_string(v.variability_)},
                       {"type", v.type_name},
                       {"valueReference", v.vr}};
      if (v.start)
        x["start"] = *v.start;
      if (!v.description.empty())
        x["description"] = v.description;
      vars.push_back(std::move(x));
    }
    std::cout << j.dump(2) << '\n';
    return exit_ok;
  }
  std::cout << "model:       " << md->model_name << " (FMI " << md->fmi_version_text << ")\n";
  if (!md->description.empty())
    std::cout << "description: " << md->description << '\n';
  std::cout << "token:       " << md->instantiation_token << '\n';
  if (md->co_simulation)
    std::cout << "co-sim:      " << md->co_simulation->model_identifier
              << (md->co_simulation->can_handle_variable_communication_step_size
                    ? " (variable step size)"
                    : "")
              << '\n';
  else
    std::cout << "co-sim:      no (Model Exchange only: cannot be run here)\n";
  std::cout << "experiment:  start " << opt(md->experiment.start_time) << ", stop "
            << opt(md->experiment.stop_time) << ", step " << opt(md->experiment.step_size)
            << ", tolerance " << opt(md->experiment.tolerance) << "\n\n";
  std::size_t w = 4;
  for (const auto& v : md->variables)
    w = std::max(w, v.name.size());
  std::cout << std::left << std::setw(static_cast<int>(w) + 2) << "NAME" << std::setw(21)
            << "CAUSALITY" << std::setw(12) << "VARIABILITY" << std::setw(9) << "TYPE"
            << std::setw(7) << "VR" << "START\n";
  for (const auto& v : md->variables)
    std::cout << std::setw(static_cast<int>(w) + 2) << v.name << std::setw(21)
              << to_string(v.causality_) << std::setw(12) << to_string(v.variability_)
              << std::setw(9) << v.type_name << std::setw(7) << v.vr
              << (v.start ? *v.start : std::string{"-"}) << '\n';
  return exit_ok;
}

int fmu_run(const fmu_run_args& a) {
  run_options o;
  o.start_time = a.start;
  o.stop_time = a.stop;
  o.step_size = a.step;
  for (const auto& s : a.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw usage_error("--set " + s + ": expected NAME=VALUE");
    o.sets.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  if (!a.input.empty()) {
    std::ifstream in{a.input};
    if (!in)
      throw usage_error("cannot read the input CSV " + a.input);
    std::stringstream text;
    text << in.rdbuf();
    auto t = parse_input_csv(text.str());
    if (!t)
      throw usage_error(a.input + ": " + t.error().message);
    o.inputs = std::move(*t);
  }
  std::unique_ptr<co_simulator> sim;
  if (a.in_process) {
    auto f = fmu_file::open(a.file);
    if (!f)
      throw usage_error(f.error().message);
    auto i = fmu_instance::create(*f);
    if (!i) {
      std::cerr << "error: " << i.error().message << '\n';
      return exit_refused;
    }
    sim = std::move(*i);
  } else {
    worker_options wo;
    wo.call_timeout = std::chrono::milliseconds{static_cast<long long>(a.call_timeout * 1000)};
    auto w = worker_fmu::create(a.file, wo);
    if (!w) {
      if (w.error().code == twin::errc::not_found || w.error().code == twin::errc::bad_request)
        throw usage_error(w.error().message);
      std::cerr << "error: " << w.error().message << '\n';
      return exit_refused;
    }
    sim = std::move(*w);
  }
  std::ofstream out;
  std::ostream* os = &std::cout;
  if (a.output != "-") {
    out.open(a.output, std::ios::trunc);
    if (!out)
      throw usage_error("cannot write the output CSV " + a.output);
    os = &out;
  }
  auto r = co_simulate(*sim, o, *os);
  os->flush();
  if (!r) {
    if (r.error().code == twin::errc::bad_request || r.error().code == twin::errc::not_found)
      throw usage_error(r.error().message);
    std::cerr << "error: " << r.error().message << '\n';
    return exit_refused;
  }
  std::cerr << sim->description().model_name << ": " << r->steps << " steps of "
            << r->step_size << " s from " << r->start_time << " to " << r->stop_time << '\n';
  return exit_ok;
}

} // namespace

void add_fmu_commands(CLI::App& app, const globals& g,
                      std::function<int(const std::function<session&()>&)>& run) {
  auto* fmu = app.add_subcommand(
    "fmu", "Inspect and co-simulate FMI 3.0 / 2.0 Co-Simulation FMUs offline (no server)");
  fmu->require_subcommand(1);

  // The parsed values must outlive this function: the callbacks own them.
  auto inspect_file = std::make_shared<std::string>();
  auto* inspect = fmu->add_subcommand(
    "inspect", "List an FMU's variables: name, causality, variability, type, value reference, start");
  inspect->add_option("file", *inspect_file, "FILE.fmu")->required();
  inspect->callback([&run, &g, inspect_file] {
    run = [&g, inspect_file](auto&) { return fmu_inspect(*inspect_file, g.output == "json"); };
  });

  auto a = std::make_shared<fmu_run_args>();
  auto& args = *a;
  auto* r = fmu->add_subcommand(
    "run",
    "Co-simulate an FMU with a fixed step and write a CSV (time + every output, one row per "
    "communication point including the start). Exit 1 if the FMU fails.");
  r->add_option("file", args.file, "FILE.fmu")->required();
  r->add_option("--start", args.start, "Start time (default: the model's default experiment, else 0)");
  r->add_option("--stop", args.stop, "Stop time (default: the model's, else start + 1)");
  r->add_option("--step", args.step, "Communication step (default: the model's, else span/100)")
    ->check(CLI::PositiveNumber);
  r->add_option("--set", args.sets, "Parameter, start value or constant input NAME=VALUE (repeatable)")
    ->allow_extra_args(false);
  r->add_option("--input", args.input,
                "CSV of inputs over time: a time column, then input variables (held between rows)");
  r->add_option("--output", args.output, "Where to write the result CSV (- for stdout)")
    ->required();
  r->add_flag("--in-process", args.in_process,
              "Load the FMU into twinctl itself (trusted FMUs only; default: a twin-fmu-worker process)");
  r->add_option("--call-timeout", args.call_timeout,
                "Worker mode: seconds to wait for any one FMU call before killing the worker")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  r->callback([&run, a] { run = [a](auto&) { return fmu_run(*a); }; });
}

} // namespace twinctl
