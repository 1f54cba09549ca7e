// fmu_file (unpack + parse + dlopen) and fmu_instance (one FMI 3.0 / 2.0
// Co-Simulation instance behind the co_simulator API).

#include "twin/fmu/instance.hpp"

#include <cstdarg>
#include <cstdio>
#include <dlfcn.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "twin/fmu/fmi_c.h"

namespace twin::fmu {

namespace fs = std::filesystem;

/// The resolved C functions; one of the two halves is filled.
struct fmi_functions {
  fmi_version version = fmi_version::v3;
  // FMI 3.0
  fmi3GetVersionTYPE* fmi3GetVersion = nullptr;
  fmi3InstantiateCoSimulationTYPE* fmi3InstantiateCoSimulation = nullptr;
  fmi3FreeInstanceTYPE* fmi3FreeInstance = nullptr;
  fmi3EnterInitializationModeTYPE* fmi3EnterInitializationMode = nullptr;
  fmi3ExitInitializationModeTYPE* fmi3ExitInitializationMode = nullptr;
  fmi3TerminateTYPE* fmi3Terminate = nullptr;
  fmi3DoStepTYPE* fmi3DoStep = nullptr;
  fmi3GetFloat64TYPE* fmi3GetFloat64 = nullptr;
  fmi3SetFloat64TYPE* fmi3SetFloat64 = nullptr;
  fmi3GetInt32TYPE* fmi3GetInt32 = nullptr;
  fmi3SetInt32TYPE* fmi3SetInt32 = nullptr;
  fmi3GetBooleanTYPE* fmi3GetBoolean = nullptr;
  fmi3SetBooleanTYPE* fmi3SetBoolean = nullptr;
  fmi3GetStringTYPE* fmi3GetString = nullptr;
  fmi3SetStringTYPE* fmi3SetString = nullptr;
  // FMI 2.0
  fmi2GetVersionTYPE* fmi2GetVersion = nullptr;
  fmi2InstantiateTYPE* fmi2Instantiate = nullptr;
  fmi2FreeInstanceTYPE* fmi2FreeInstance = nullptr;
  fmi2SetupExperimentTYPE* fmi2SetupExperiment = nullptr;
  fmi2EnterInitializationModeTYPE* fmi2EnterInitializationMode = nullptr;
  fmi2ExitInitializationModeTYPE* fmi2ExitInitializationMode = nullptr;
  fmi2TerminateTYPE* fmi2Terminate = nullptr;
  fmi2DoStepTYPE* fmi2DoStep = nullptr;
  fmi2GetRealTYPE* fmi2GetReal = nullptr;
  fmi2SetRealTYPE* fmi2SetReal = nullptr;
  fmi2GetIntegerTYPE* fmi2GetInteger = nullptr;
  fmi2SetIntegerTYPE* fmi2SetInteger = nullptr;
  fmi2GetBooleanTYPE* fmi2GetBoolean = nullptr;
  fmi2SetBooleanTYPE* fmi2SetBoolean = nullptr;
  fmi2GetStringTYPE* fmi2GetString = nullptr;
  fmi2SetStringTYPE* fmi2SetString = nullptr;
};

namespace {

constexpr const char* rule = "fmu.host";

template <class T>
status resolve(void* handle, const fs::path& lib, const char* name, T*& out) {
  ::dlerror();
  void* sym = ::dlsym(handle, name);
  if (!sym)
    return make_error(errc::bad_request,
                      lib.filename().string() + " does not export the required function "
                        + name,
                      rule);
  out = reinterpret_cast<T*>(sym);
  return ok();
}

#define TWIN_RESOLVE(fn)                                                                     \
  if (auto s = resolve(handle, lib, #fn, f.fn); !s)                                           \
    return s;

status resolve_all(void* handle, const fs::path& lib, fmi_functions& f) {
  if (f.version == fmi_version::v3) {
    TWIN_RESOLVE(fmi3GetVersion)
    TWIN_RESOLVE(fmi3InstantiateCoSimulation)
    TWIN_RESOLVE(fmi3FreeInstance)
    TWIN_RESOLVE(fmi3EnterInitializationMode)
    TWIN_RESOLVE(fmi3ExitInitializationMode)
    TWIN_RESOLVE(fmi3Terminate)
    TWIN_RESOLVE(fmi3DoStep)
    TWIN_RESOLVE(fmi3GetFloat64)
    TWIN_RESOLVE(fmi3SetFloat64)
    TWIN_RESOLVE(fmi3GetInt32)
    TWIN_RESOLVE(fmi3SetInt32)
    TWIN_RESOLVE(fmi3GetBoolean)
    TWIN_RESOLVE(fmi3SetBoolean)
    TWIN_RESOLVE(fmi3GetString)
    TWIN_RESOLVE(fmi3SetString)
  } else {
    TWIN_RESOLVE(fmi2GetVersion)
    TWIN_RESOLVE(fmi2Instantiate)
    TWIN_RESOLVE(fmi2FreeInstance)
    TWIN_RESOLVE(fmi2SetupExperiment)
    TWIN_RESOLVE(fmi2EnterInitializationMode)
    TWIN_RESOLVE(fmi2ExitInitializationMode)
    TWIN_RESOLVE(fmi2Terminate)
    TWIN_RESOLVE(fmi2DoStep)
    TWIN_RESOLVE(fmi2GetReal)
    TWIN_RESOLVE(fmi2SetReal)
    TWIN_RESOLVE(fmi2GetInteger)
    TWIN_RESOLVE(fmi2SetInteger)
    TWIN_RESOLVE(fmi2GetBoolean)
    TWIN_RESOLVE(fmi2SetBoolean)
    TWIN_RESOLVE(fmi2GetString)
    TWIN_RESOLVE(fmi2SetString)
  }
  return ok();
}
#undef TWIN_RESOLVE

const char* status_name(int s) {
  switch (s) {
    case 0: return "OK";
    case 1: return "Warning";
    case 2: return "Discard";
    case 3: return "Error";
    case 4: return "Fatal";
    case 5: return "Pending";
  }
  return "unknown status";
}

void fmi3_log(fmi3InstanceEnvironment env, fmi3Status status, fmi3String category,
              fmi3String message) {
  if (env)
    static_cast<fmu_instance*>(env)->on_log(static_cast<int>(status), category ? category : "",
                                            message ? message : "");
}

void fmi2_log(fmi2ComponentEnvironment env, fmi2String, fmi2Status status, fmi2String category,
              fmi2String message, ...) {
  if (!env)
    return;
  std::string text;
  if (message) {
    va_list args;
    va_start(args, message);
    va_list copy;
    va_copy(copy, args);
    int n = std::vsnprintf(nullptr, 0, message, copy);
    va_end(copy);
    if (n > 0) {
      text.resize(static_cast<std::size_t>(n) + 1);
      std::vsnprintf(text.data(), text.size(), message, args);
      text.resize(static_cast<std::size_t>(n));
    }
    va_end(args);
  }
  static_cast<fmu_instance*>(env)->on_log(static_cast<int>(status), category ? category : "",
                                          text);
}

void* fmi2_calloc(std::size_t n, std::size_t size) { return std::calloc(n, size); }
void fmi2_free(void* p) { std::free(p); }

} // namespace

// -- co_simulator helpers ---------------------------------------------------

status co_simulator::set_value(const scalar_variable& v, const value& x) {
  const value_reference vr[1] = {v.vr};
  auto mismatch = [&] {
    return make_error(errc::bad_request, "variable " + v.name + " is of type "
                                           + std::string{to_string(v.type)}, rule);
  };
  switch (v.type) {
    case value_type::float64: {
      if (auto* d = std::get_if<double>(&x)) {
        const double vals[1] = {*d};
        return set_float64(vr, vals);
      }
      return mismatch();
    }
    case value_type::int32: {
      if (auto* i = std::get_if<std::int32_t>(&x)) {
        const std::int32_t vals[1] = {*i};
        return set_int32(vr, vals);
      }
      return mismatch();
    }
    case value_type::boolean: {
      if (auto* b = std::get_if<bool>(&x)) {
        const bool vals[1] = {*b};
        return set_boolean(vr, vals);
      }
      return mismatch();
    }
    case value_type::string: {
      if (auto* s = std::get_if<std::string>(&x)) {
        const std::string vals[1] = {*s};
        return set_string(vr, vals);
      }
      return mismatch();
    }
    case value_type::other: break;
  }
  return make_error(errc::bad_request,
                    "variable " + v.name + " has unsupported type " + v.type_name, rule);
}

expected<value> co_simulator::get_value(const scalar_variable& v) {
  const value_reference vr[1] = {v.vr};
  switch (v.type) {
    case value_type::float64: {
      double out[1] = {};
      if (auto s = get_float64(vr, out); !s)
        return std::move(s).error();
      return value{out[0]};
    }
    case value_type::int32: {
      std::int32_t out[1] = {};
      if (auto s = get_int32(vr, out); !s)
        return std::move(s).error();
      return value{out[0]};
    }
    case value_type::boolean: {
      bool out[1] = {};
      if (auto s = get_boolean(vr, out); !s)
        return std::move(s).error();
      return value{out[0]};
    }
    case value_type::string: {
      std::string out[1];
      if (auto s = get_string(vr, out); !s)
        return std::move(s).error();
      return value{std::move(out[0])};
    }
    case value_type::other: break;
  }
  return make_error(errc::bad_request,
                    "variable " + v.name + " has unsupported type " + v.type_name, rule);
}

status co_simulator::step_float64(std::span<const value_reference> in_vrs,
                                  std::span<const double> in, double t, double h,
                                  std::span<const value_reference> out_vrs,
                                  std::span<double> out) {
  if (auto s = set_float64(in_vrs, in); !s)
    return s;
  if (auto s = do_step(t, h); !s)
    return s;
  return get_float64(out_vrs, out);
}

status co_simulator::set_from_text(std::string_view name, std::string_view text) {
  const auto* v = description().find(name);
  if (!v)
    return make_error(errc::not_found,
                      "the model has no variable named \"" + std::string{name} + "\"", rule);
  auto x = parse_value(v->type, text);
  if (!x)
    return make_error(errc::bad_request,
                      "--set " + std::string{name} + ": " + x.error().message, rule);
  return set_value(*v, *x);
}

std::string_view to_string(instance_state s) noexcept {
  switch (s) {
    case instance_state::instantiated: return "instantiated";
    case instance_state::initialization: return "initialization";
    case instance_state::step: return "step";
    case instance_state::terminated: return "terminated";
    case instance_state::failed: return "failed";
    case instance_state::freed: return "freed";
  }
  return "?";
}

// -- fmu_file ---------------------------------------------------------------

expected<std::shared_ptr<fmu_file>> fmu_file::open(const fs::path& path, const open_options& o) {
  auto dir = unpack_archive(path, o.limits, o.unpack_parent);
  if (!dir)
    return std::move(dir).error();
  std::ifstream in{dir->path() / "modelDescription.xml", std::ios::binary};
  if (!in)
    return make_error(errc::bad_request, path.string() + " has no modelDescription.xml", rule);
  std::stringstream text;
  text << in.rdbuf();
  auto md = parse_model_description(text.str());
  if (!md) {
    auto e = std::move(md).error();
    e.message = path.string() + ": " + e.message;
    return e;
  }
  if (!md->co_simulation)
    return make_error(errc::bad_request,
                      path.string() + " is not a Co-Simulation FMU (no <CoSimulation>)", rule);
  if (md->co_simulation->needs_execution_tool)
    return make_error(errc::bad_request,
                      path.string() + " needs an external execution tool (not supported)", rule);
  std::shared_ptr<fmu_file> f{new fmu_file};
  f->source_ = path;
  f->dir_ = std::move(*dir);
  f->md_ = std::move(*md);
  const char* platform = f->md_.version == fmi_version::v3 ? "x86_64-linux" : "linux64";
  fs::path lib = f->dir_.path() / "binaries" / platform
                 / (f->md_.co_simulation->model_identifier + ".so");
  std::error_code ec;
  if (!fs::is_regular_file(lib, ec))
    return make_error(errc::bad_request,
                      path.string() + " has no binary for this platform (binaries/" + platform
                        + "/" + f->md_.co_simulation->model_identifier + ".so)",
                      rule);
  ::dlerror();
  f->handle_ = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!f->handle_) {
    const char* e = ::dlerror();
    return make_error(errc::bad_request, "cannot load " + lib.string() + ": " + (e ? e : "?"),
                      rule);
  }
  f->fns_ = std::make_unique<fmi_functions>();
  f->fns_->version = f->md_.version;
  if (auto s = resolve_all(f->handle_, lib, *f->fns_); !s) {
    auto e = std::move(s).error();
    e.message = path.string() + ": " + e.message;
    return e;
  }
  return f;
}

fmu_file::~fmu_file() {
  if (handle_)
    ::dlclose(handle_);
}

// -- fmu_instance -----------------------------------------------------------

fmu_instance::fmu_instance(std::shared_ptr<const fmu_file> fmu, instance_options o)
  : fmu_(std::move(fmu)), options_(std::move(o)) {
}

expected<std::unique_ptr<fmu_instance>>
fmu_instance::create(std::shared_ptr<const fmu_file> fmu, const instance_options& o) {
  if (fmu->description().co_simulation->can_be_instantiated_only_once_per_process
      && fmu->live_instances() > 0)
    return make_error(errc::unavailable,
                      fmu->description().model_name
                        + " can be instantiated only once per process and has an instance "
                          "already (run further instances in workers)",
                      rule);
  std::unique_ptr<fmu_instance> inst{new fmu_instance(std::move(fmu), o)};
  const auto& md = inst->fmu_->description();
  const auto& f = inst->fmu_->functions();
  std::string name = o.instance_name.empty() ? md.model_name : o.instance_name;
  fs::path resources = inst->fmu_->directory() / "resources";
  if (md.version == fmi_version::v3) {
    // FMI 3.0: an absolute path with a trailing separator.
    inst->resource_location_ = resources.string() + "/";
    inst->component_ = f.fmi3InstantiateCoSimulation(
      name.c_str(), md.instantiation_token.c_str(), inst->resource_location_.c_str(), false,
      o.logging_on, false, false, nullptr, 0, inst.get(), &fmi3_log, nullptr);
  } else {
    // FMI 2.0: a file URI. The callbacks must outlive the instance.
    inst->resource_location_ = "file://" + resources.string();
    auto cb = std::make_shared<fmi2CallbackFunctions>(
      fmi2CallbackFunctions{&fmi2_log, &fmi2_calloc, &fmi2_free, nullptr, inst.get()});
    inst->callbacks_ = cb;
    inst->component_ = f.fmi2Instantiate(name.c_str(), fmi2CoSimulation,
                                         md.instantiation_token.c_str(),
                                         inst->resource_location_.c_str(), cb.get(), fmi2False,
                                         o.logging_on ? fmi2True : fmi2False);
  }
  if (inst->component_)
    ++inst->fmu_->live_;
  if (!inst->component_) {
    inst->state_ = instance_state::freed;
    std::string why = inst->last_message_.empty() ? "" : ": " + inst->last_message_;
    return make_error(errc::internal,
                      md.model_name + ": the FMU refused to instantiate" + why, rule);
  }
  return inst;
}

fmu_instance::~fmu_instance() { free(); }

const model_description& fmu_instance::description() const noexcept {
  return fmu_->description();
}

void fmu_instance::on_log(int fmi_status, std::string_view category, std::string_view message) {
  log_level level = fmi_status == 0 ? log_level::info
                    : fmi_status == 1 ? log_level::warning
                                      : log_level::error;
  if (level != log_level::info)
    last_message_ = std::string{message};
  std::string text = fmu_->description().model_name + " [" + std::string{category} + "] "
                     + std::string{message};
  if (options_.log)
    options_.log(level, text);
  else if (level != log_level::info)
    std::cerr << (level == log_level::warning ? "fmu warning: " : "fmu error: ") << text << '\n';
}

status fmu_instance::require(std::initializer_list<instance_state> allowed,
                             std::string_view function) {
  for (auto s : allowed)
    if (s == state_)
      return ok();
  return make_error(errc::illegal_transition,
                    fmu_->description().model_name + ": " + std::string{function}
                      + " is not allowed in state " + std::string{to_string(state_)},
                    rule);
}

status fmu_instance::check(int fmi_status, std::string_view function) {
  if (fmi_status == 0)
    return ok();
  const auto& name = fmu_->description().model_name;
  if (fmi_status == 1) {
    std::string text = name + ": " + std::string{function} + " returned Warning";
    if (!last_message_.empty())
      text += ": " + last_message_;
    if (options_.log)
      options_.log(log_level::warning, text);
    return ok();
  }
  char at[64];
  std::snprintf(at, sizeof at, " at t=%g", time_);
  std::string text = name + ": " + std::string{function} + " returned "
                     + status_name(fmi_status) + at;
  if (!last_message_.empty())
    text += ": " + last_message_;
  if (fmi_status >= 4) {
    // Fatal: the FMU's memory may be corrupt; free it now, never call again.
    free();
    text += " (instance freed)";
  } else {
    state_ = instance_state::failed;
  }
  if (options_.log)
    options_.log(log_level::error, text);
  return make_error(errc::internal, std::move(text), rule);
}

status fmu_instance::setup(const experiment& e) {
  if (auto s = require({instance_state::instantiated}, "setup"); !s)
    return s;
  experiment_ = e;
  time_ = e.start_time;
  if (fmu_->description().version == fmi_version::v2)
    return check(fmu_->functions().fmi2SetupExperiment(
                   component_, e.tolerance ? fmi2True : fmi2False, e.tolerance.value_or(0.0),
                   e.start_time, e.stop_time ? fmi2True : fmi2False, e.stop_time.value_or(0.0)),
                 "fmi2SetupExperiment");
  return ok();
}

status fmu_instance::enter_initialization() {
  if (auto s = require({instance_state::instantiated}, "enter_initialization"); !s)
    return s;
  const auto& f = fmu_->functions();
  const auto& e = experiment_;
  int st = fmu_->description().version == fmi_version::v3
             ? static_cast<int>(f.fmi3EnterInitializationMode(component_, e.tolerance.has_value(),
                                             e.tolerance.value_or(0.0), e.start_time,
                                             e.stop_time.has_value(), e.stop_time.value_or(0.0)))
             : static_cast<int>(f.fmi2EnterInitializationMode(component_));
  auto s = check(st, fmu_->description().version == fmi_version::v3
                       ? "fmi3EnterInitializationMode"
                       : "fmi2EnterInitializationMode");
  if (s)
    state_ = instance_state::initialization;
  return s;
}

status fmu_instance::exit_initialization() {
  if (auto s = require({instance_state::initialization}, "exit_initialization"); !s)
    return s;
  const auto& f = fmu_->functions();
  bool v3 = fmu_->description().version == fmi_version::v3;
  int st = v3 ? static_cast<int>(f.fmi3ExitInitializationMode(component_))
               : static_cast<int>(f.fmi2ExitInitializationMode(component_));
  auto s = check(st, v3 ? "fmi3ExitInitializationMode" : "fmi2ExitInitializationMode");
  if (s)
    state_ = instance_state::step;
  return s;
}

template <class F>
status fmu_instance::access(std::string_view function, std::size_t nvr, std::size_t nvalues,
                            F&& call) {
  if (auto s = require({instance_state::instantiated, instance_state::initialization,
                        instance_state::step},
                       function);
      !s)
    return s;
  if (nvr != nvalues)
    return make_error(errc::bad_request,
                      std::string{function} + ": " + std::to_string(nvr)
                        + " value references but " + std::to_string(nvalues) + " values",
                      rule);
  if (nvr == 0)
    return ok();
  return check(call(), function);
}

status fmu_instance::set_float64(std::span<const value_reference> vrs,
                                 std::span<const double> values) {
  const auto& f = fmu_->functions();
  if (fmu_->description().version == fmi_version::v3)
    return access("fmi3SetFloat64", vrs.size(), values.size(), [&] {
      return f.fmi3SetFloat64(component_, vrs.data(), vrs.size(), values.data(), values.size());
    });
  return access("fmi2SetReal", vrs.size(), values.size(), [&] {
    return f.fmi2SetReal(component_, vrs.data(), vrs.size(), values.data());
  });
}

status fmu_instance::get_float64(std::span<const value_reference> vrs, std::span<double> values) {
  const auto& f = fmu_->functions();
  if (fmu_->description().version == fmi_version::v3)
    return access("fmi3GetFloat64", vrs.size(), values.size(), [&] {
      return f.fmi3GetFloat64(component_, vrs.data(), vrs.size(), values.data(), values.size());
    });
  return access("fmi2GetReal", vrs.size(), values.size(), [&] {
    return f.fmi2GetReal(component_, vrs.data(), vrs.size(), values.data());
  });
}

status fmu_instance::set_int32(std::span<const value_reference> vrs,
                               std::span<const std::int32_t> values) {
  const auto& f = fmu_->functions();
  if (fmu_->description().version == fmi_version::v3)
    return access("fmi3SetInt32", vrs.size(), values.size(), [&] {
      return f.fmi3SetInt32(component_, vrs.data(), vrs.size(), values.data(), values.size());
    });
  static_assert(sizeof(fmi2Integer) == sizeof(std::int32_t));
  return access("fmi2SetInteger", vrs.size(), values.size(), [&] {
    return f.fmi2SetInteger(component_, vrs.data(), vrs.size(), values.data());
  });
}

status fmu_instance::get_int32(std::span<const value_reference> vrs,
                               std::span<std::int32_t> values) {
  const auto& f = fmu_->functions();
  if (fmu_->description().version == fmi_version::v3)
    return access("fmi3GetInt32", vrs.size(), values.size(), [&] {
      return f.fmi3GetInt32(component_, vrs.data(), vrs.size(), values.data(), values.size());
    });
  return access("fmi2GetInteger", vrs.size(), values.size(), [&] {
    return f.fmi2GetInteger(component_, vrs.data(), vrs.size(), values.data());
  });
}

status fmu_instance::set_boolean(std::span<const value_reference> vrs,
                                 std::span<const bool> values) {
  const auto& f = fmu_->functions();
  if (fmu_->description().version == fmi_version::v3)
    return access("fmi3SetBoolean", vrs.size(), values.size(), [&] {
      return f.fmi3SetBoolean(component_, vrs.data(), vrs.size(), values.data(), values.size());
    });
  // fmi2Boolean is an int.
  std::vector<fmi2Boolean> ints(values.begin(), values.end());
  return access("fmi2SetBoolean", vrs.size(), values.size(), [&] {
    return f.fmi2SetBoolean(component_, vrs.data(), vrs.size(), ints.data());
  });
}

status fmu_instance::get_boolean(std::span<const value_reference> vrs, std::span<bool> values) {
  const auto& f = fmu_->functions();
  if (fmu_->description().version == fmi_version::v3)
    return access("fmi3GetBoolean", vrs.size(), values.size(), [&] {
      return f.fmi3GetBoolean(component_, vrs.data(), vrs.size(), values.data(), values.size());
    });
  std::vector<fmi2Boolean> ints(values.size());
  auto s = access("fmi2GetBoolean", vrs.size(), values.size(), [&] {
    return f.fmi2GetBoolean(component_, vrs.data(), vrs.size(), ints.data());
  });
  if (s)
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = ints[i] != fmi2False;
  return s;
}

status fmu_instance::set_string(std::span<const value_reference> vrs,
                                std::span<const std::string> values) {
  const auto& f = fmu_->functions();
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values)
    ptrs.push_back(v.c_str());
  if (fmu_->description().version == fmi_version::v3)
    return access("fmi3SetString", vrs.size(), values.size(), [&] {
      return f.fmi3SetString(component_, vrs.data(), vrs.size(), ptrs.data(), ptrs.size());
    });
  return access("fmi2SetString", vrs.size(), values.size(), [&] {
    return f.fmi2SetString(component_, vrs.data(), vrs.size(), ptrs.data());
  });
}

status fmu_instance::get_string(std::span<const value_reference> vrs,
                                std::span<std::string> values) {
  const auto& f = fmu_->functions();
  std::vector<const char*> ptrs(values.size(), nullptr);
  auto s = fmu_->description().version == fmi_version::v3
             ? access("fmi3GetString", vrs.size(), values.size(),
                      [&] {
                        return f.fmi3GetString(component_, vrs.data(), vrs.size(), ptrs.data(),
                                               ptrs.size());
                      })
             : access("fmi2GetString", vrs.size(), values.size(), [&] {
                 return f.fmi2GetString(component_, vrs.data(), vrs.size(), ptrs.data());
               });
  if (s)
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = ptrs[i] ? ptrs[i] : "";
  return s;
}

status fmu_instance::do_step(double t, double h) {
  if (auto s = require({instance_state::step}, "do_step"); !s)
    return s;
  if (!(h > 0))
    return make_error(errc::bad_request, "do_step: the step size must be > 0", rule);
  const auto& f = fmu_->functions();
  if (fmu_->description().version == fmi_version::v3) {
    fmi3Boolean event_needed = false, terminate_sim = false, early = false;
    fmi3Float64 last = t;
    auto s = check(f.fmi3DoStep(component_, t, h, true, &event_needed, &terminate_sim, &early,
                                &last),
                   "fmi3DoStep");
    if (!s)
      return s;
    if (terminate_sim) {
      state_ = instance_state::failed;
      return make_error(errc::internal,
                        fmu_->description().model_name + ": fmi3DoStep asked to terminate the "
                          "simulation at t=" + std::to_string(last),
                        rule);
    }
    time_ = early ? last : t + h;
    return s;
  }
  auto s = check(f.fmi2DoStep(component_, t, h, fmi2True), "fmi2DoStep");
  if (s)
    time_ = t + h;
  return s;
}

status fmu_instance::terminate() {
  if (auto s = require({instance_state::initialization, instance_state::step}, "terminate"); !s)
    return s;
  const auto& f = fmu_->functions();
  bool v3 = fmu_->description().version == fmi_version::v3;
  auto s = check(v3 ? static_cast<int>(f.fmi3Terminate(component_))
                    : static_cast<int>(f.fmi2Terminate(component_)),
                 v3 ? "fmi3Terminate" : "fmi2Terminate");
  if (s)
    state_ = instance_state::terminated;
  return s;
}

void fmu_instance::free() noexcept {
  if (!component_)
    return;
  void* c = std::exchange(component_, nullptr);
  --fmu_->live_;
  const auto& f = fmu_->functions();
  if (fmu_->description().version == fmi_version::v3)
    f.fmi3FreeInstance(c);
  else
    f.fmi2FreeInstance(c);
  state_ = instance_state::freed;
}

} // namespace twin::fmu
