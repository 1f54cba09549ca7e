#pragma once
// Loading an FMU and driving one instance of it, over FMI 3.0 and 2.0 with
// one C++ API.
//
//   auto fmu = fmu_file::open("thermal-fmi3.fmu");       // unpack, parse, dlopen
//   auto sim = fmu_instance::create(*fmu, {});            // instantiate
//   sim->setup({.start_time = 0});                        // experiment
//   sim->enter_initialization(); ... set parameters ...
//   sim->exit_initialization();
//   sim->do_step(t, h); sim->get_float64(vrs, out); ...
//   sim->terminate();                                     // freed on destruction
//
// Status handling, the same for every call: OK passes; Warning is logged
// (instance_options::log) and the call succeeds; Discard and Error fail the
// call with a message naming the function, the status, the time and the
// FMU's last log message, and leave the instance `failed` (every later call
// but terminate/free is refused); Fatal also frees the FMU instance at once.
//
// Threads: an fmu_instance is used by one thread at a time (its owner).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "twin/error.hpp"
#include "twin/fmu/archive.hpp"
#include "twin/fmu/model_description.hpp"

namespace twin::fmu {

/// Severity of a message from the FMU or from the host about the FMU.
enum class log_level { info, warning, error };

/// Receives log messages; called on the thread that called into the FMU.
using log_function = std::function<void(log_level, std::string_view message)>;

/// Parameters of the experiment.
struct experiment {
  /// Start time of the simulation.
  double start_time = 0.0;
  /// Stop time, if known (lets the FMU refuse to step beyond it).
  std::optional<double> stop_time;
  /// Relative tolerance for FMUs with internal error control.
  std::optional<double> tolerance;
};

/// The lifecycle of an instance, as the host sees it.
enum class instance_state {
  instantiated,
  initialization,
  step,
  terminated,
  /// A call returned Discard or Error (or the worker died).
  failed,
  /// Freed: after Fatal, free() or a lost worker.
  freed
};

std::string_view to_string(instance_state s) noexcept;

/// The common API of an FMU instance, whether it runs in this process
/// (fmu_instance) or in a twin-fmu-worker process (worker_fmu).
/// Every call returns an error when the instance is in the wrong state.
class co_simulator {
public:
  virtual ~co_simulator() = default;

  virtual const model_description& description() const noexcept = 0;
  virtual instance_state state() const noexcept = 0;
  /// The current communication point (start time until the first step).
  virtual double time() const noexcept = 0;

  /// Records the experiment; FMI 2 calls fmi2SetupExperiment here, FMI 3
  /// passes it to fmi3EnterInitializationMode. State: instantiated.
  [[nodiscard]] virtual status setup(const experiment& e) = 0;
  /// State: instantiated -> initialization.
  [[nodiscard]] virtual status enter_initialization() = 0;
  /// State: initialization -> step.
  [[nodiscard]] virtual status exit_initialization() = 0;

  [[nodiscard]] virtual status set_float64(std::span<const value_reference> vrs,
                                           std::span<const double> values) = 0;
  [[nodiscard]] virtual status get_float64(std::span<const value_reference> vrs,
                                           std::span<double> values) = 0;
  [[nodiscard]] virtual status set_int32(std::span<const value_reference> vrs,
                                         std::span<const std::int32_t> values) = 0;
  [[nodiscard]] virtual status get_int32(std::span<const value_reference> vrs,
                                         std::span<std::int32_t> values) = 0;
  [[nodiscard]] virtual status set_boolean(std::span<const value_reference> vrs,
                                           std::span<const bool> values) = 0;
  [[nodiscard]] virtual status get_boolean(std::span<const value_reference> vrs,
                                           std::span<bool> values) = 0;
  [[nodiscard]] virtual status set_string(std::span<const value_reference> vrs,
                                          std::span<const std::string> values) = 0;
  [[nodiscard]] virtual status get_string(std::span<const value_reference> vrs,
                                          std::span<std::string> values) = 0;

  /// One communication step from `t` (normally time()) of length `h` > 0.
  /// State: step.
  [[nodiscard]] virtual status do_step(double t, double h) = 0;
  /// State: step or initialization -> terminated. A failed instance is
  /// not terminated (FMI forbids it after Error) but may be freed.
  [[nodiscard]] virtual status terminate() = 0;
  /// Frees the FMU instance (also done by the destructor). Idempotent.
  virtual void free() noexcept = 0;

  /// The usual per-step exchange in one call: sets Float64 inputs, steps
  /// from `t` by `h`, reads Float64 outputs. In a worker this is one round
  /// trip instead of three. Errors: those of the three calls.
  [[nodiscard]] virtual status step_float64(std::span<const value_reference> in_vrs,
                                            std::span<const double> in, double t, double h,
                                            std::span<const value_reference> out_vrs,
                                            std::span<double> out);

  /// Sets one variable by its model-description entry, checking the value's
  /// type against the variable's. Errors: bad_request on a type mismatch.
  [[nodiscard]] status set_value(const scalar_variable& v, const value& x);
  /// Reads one variable. Errors: bad_request if its type is `other`.
  [[nodiscard]] expected<value> get_value(const scalar_variable& v);
  /// Sets a variable by name from text (`--set NAME=VALUE`).
  /// Errors: not_found (no such variable), bad_request (bad value).
  [[nodiscard]] status set_from_text(std::string_view name, std::string_view text);
};

/// The C functions of a loaded FMU binary. Opaque; see instance.cpp.
struct fmi_functions;

/// Options for opening an FMU.
struct open_options {
  unpack_limits limits;
  /// Where to unpack (empty: the system temp directory).
  std::filesystem::path unpack_parent;
};

/// An unpacked FMU with its parsed description and its binary loaded
/// (dlopen RTLD_NOW | RTLD_LOCAL, every required function resolved).
/// Shared by its instances (they hold a shared_ptr); the directory is
/// removed and the library closed when the last one goes.
class fmu_file : public std::enable_shared_from_this<fmu_file> {
public:
  /// Unpacks, parses modelDescription.xml and loads
  /// binaries/x86_64-linux/ID.so (3.0) or binaries/linux64/ID.so (2.0).
  /// Errors: those of unpack_archive and parse_model_description;
  /// bad_request when the FMU is not Co-Simulation or has no binary for
  /// this platform, when dlopen fails (with dlerror's text), or when a
  /// required function is missing (naming it).
  static expected<std::shared_ptr<fmu_file>> open(const std::filesystem::path& fmu,
                                                  const open_options& o = {});

  ~fmu_file();
  fmu_file(const fmu_file&) = delete;
  fmu_file& operator=(const fmu_file&) = delete;

  const model_description& description() const noexcept { return md_; }
  const std::filesystem::path& directory() const noexcept { return dir_.path(); }
  const std::filesystem::path& source() const noexcept { return source_; }
  const fmi_functions& functions() const noexcept { return *fns_; }
  /// Instances of this file alive now (for canBeInstantiatedOnlyOncePerProcess).
  int live_instances() const noexcept { return live_.load(); }

private:
  friend class fmu_instance;
  mutable std::atomic<int> live_{0};
  fmu_file() = default;
  std::filesystem::path source_;
  unpacked_dir dir_;
  model_description md_;
  void* handle_ = nullptr;
  std::unique_ptr<fmi_functions> fns_;
};

/// Options for one instance.
struct instance_options {
  /// The FMU's instance name (empty: the model name).
  std::string instance_name;
  /// Ask the FMU to log (loggingOn).
  bool logging_on = false;
  /// Where FMU and host messages go. Empty: warnings and errors to stderr.
  log_function log;
};

/// An FMU instance in this process. Owned by one thread.
class fmu_instance final : public co_simulator {
public:
  /// Instantiates the FMU (fmi3InstantiateCoSimulation / fmi2Instantiate).
  /// Errors: internal when the FMU returns NULL (with its last log message);
  /// unavailable when the FMU declares canBeInstantiatedOnlyOncePerProcess
  /// and an instance of it is alive (use a worker_fmu per instance then).
  static expected<std::unique_ptr<fmu_instance>> create(std::shared_ptr<const fmu_file> fmu,
                                                        const instance_options& o = {});
  ~fmu_instance() override;

  const model_description& description() const noexcept override;
  instance_state state() const noexcept override { return state_; }
  double time() const noexcept override { return time_; }

  status setup(const experiment& e) override;
  status enter_initialization() override;
  status exit_initialization() override;
  status set_float64(std::span<const value_reference> vrs, std::span<const double> values) override;
  status get_float64(std::span<const value_reference> vrs, std::span<double> values) override;
  status set_int32(std::span<const value_reference> vrs,
                   std::span<const std::int32_t> values) override;
  status get_int32(std::span<const value_reference> vrs, std::span<std::int32_t> values) override;
  status set_boolean(std::span<const value_reference> vrs, std::span<const bool> values) override;
  status get_boolean(std::span<const value_reference> vrs, std::span<bool> values) override;
  status set_string(std::span<const value_reference> vrs,
                    std::span<const std::string> values) override;
  status get_string(std::span<const value_reference> vrs, std::span<std::string> values) override;
  status do_step(double t, double h) override;
  status terminate() override;
  void free() noexcept override;

  /// The last message the FMU logged (for error reports).
  const std::string& last_message() const noexcept { return last_message_; }

  // Called by the C logging callbacks.
  void on_log(int fmi_status, std::string_view category, std::string_view message);

private:
  fmu_instance(std::shared_ptr<const fmu_file> fmu, instance_options o);
  status check(int fmi_status, std::string_view function);
  status require(std::initializer_list<instance_state> allowed, std::string_view function);
  template <class F>
  status access(std::string_view function, std::size_t nvr, std::size_t nvalues, F&& call);

  std::shared_ptr<const fmu_file> fmu_;
  instance_options options_;
  void* component_ = nullptr;
  instance_state state_ = instance_state::instantiated;
  experiment experiment_;
  double time_ = 0.0;
  std::string last_message_;
  std::string resource_location_;
  // FMI 2.0 keeps a pointer to its callbacks for the instance's lifetime.
  std::shared_ptr<void> callbacks_;
};

} // namespace twin::fmu
