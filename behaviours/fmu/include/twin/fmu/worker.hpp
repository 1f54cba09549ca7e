#pragma once
// worker_fmu: an FMU instance running in a twin-fmu-worker child process,
// behind the same co_simulator API as fmu_instance. A crash (signal), an
// exit or a hang (no answer within call_timeout) of the worker kills only
// the worker: the call returns `unavailable` naming what happened, the
// instance becomes `freed`, and the owner may restart() it after
// restart_delay() (exponential backoff over consecutive losses).
//
// The client parses modelDescription.xml itself (no FMU code runs in this
// process). Owned by one thread; each call blocks until the worker answers.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <sys/types.h>

#include "twin/fmu/instance.hpp"

namespace twin::fmu {

namespace wire {
enum class op : std::uint8_t;
}

/// Exponential backoff between restarts of a lost worker.
struct restart_backoff {
  /// Delay before the first restart after a loss.
  std::chrono::milliseconds initial{100};
  /// Upper bound of the delay.
  std::chrono::milliseconds max{30'000};
  /// Growth per consecutive loss.
  double multiplier = 2.0;
  /// A worker that lived this long counts as healthy: the next loss starts
  /// over from `initial`.
  std::chrono::milliseconds stable_after{60'000};
};

struct worker_options {
  /// The twin-fmu-worker binary. Empty: $TWIN_FMU_WORKER, else
  /// twin-fmu-worker next to this executable, else the build tree's one.
  std::filesystem::path executable;
  /// Longest wait for any one answer (including open, which unpacks and
  /// loads); past it the worker is killed as hung.
  std::chrono::milliseconds call_timeout{10'000};
  restart_backoff backoff;
  /// instance_name and logging_on are passed on; the worker writes the
  /// FMU's messages to its stderr (log is not used).
  instance_options instance;
  /// Passed on; the worker unpacks into a directory of its own below
  /// unpack_parent, removed by this client.
  open_options open;
};

class worker_fmu final : public co_simulator {
public:
  /// Starts a worker, which opens `fmu` and instantiates it.
  /// Errors: those of fmu_file::open / fmu_instance::create (reported by
  /// the worker), unavailable when the worker cannot be started or dies.
  static expected<std::unique_ptr<worker_fmu>> create(const std::filesystem::path& fmu,
                                                      worker_options o = {});
  ~worker_fmu() override;
  worker_fmu(const worker_fmu&) = delete;
  worker_fmu& operator=(const worker_fmu&) = delete;

  const model_description& description() const noexcept override { return md_; }
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
  status step_float64(std::span<const value_reference> in_vrs, std::span<const double> in,
                      double t, double h, std::span<const value_reference> out_vrs,
                      std::span<double> out) override;
  status terminate() override;
  /// Frees the instance and stops the worker.
  void free() noexcept override;

  /// The worker's process id, or -1 when none runs.
  pid_t pid() const noexcept { return pid_; }
  /// Whether a worker process is running.
  bool alive() const noexcept { return pid_ > 0; }
  /// How the last worker was lost ("killed by signal 11 (Segmentation
  /// fault) during do_step"), empty if never.
  const std::string& last_failure() const noexcept { return last_failure_; }
  /// Workers lost in a row (reset when one stays up stable_after).
  int consecutive_failures() const noexcept { return failures_; }
  /// Restarts done so far.
  int restarts() const noexcept { return restarts_; }
  /// How long the supervisor should wait before calling restart().
  std::chrono::milliseconds restart_delay() const noexcept;
  /// Starts a fresh worker and instance (state `instantiated`: the caller
  /// sets up and initializes again; FMU state is not carried over).
  /// Does not sleep. Errors: as create().
  status restart();

private:
  worker_fmu() = default;
  status spawn();
  void kill_worker() noexcept;
  void remove_scratch() noexcept;
  /// Sends a request, waits for the answer; on success `out` holds the
  /// results. Handles worker loss.
  status call(std::string& request, std::string& out, const char* what);
  /// call() of a request that is just `op`.
  status call_op(wire::op op, const char* what);
  /// The typed set_* / get_* calls: a request of `op` and the value
  /// references (and values), an answer of nothing (or the values).
  template <class T>
  status set_values(wire::op op, const char* what, std::span<const value_reference> vrs,
                    std::span<const T> values);
  template <class T>
  status get_values(wire::op op, const char* what, std::span<const value_reference> vrs,
                    std::span<T> values);
  status lost(const char* what, const char* how);

  std::filesystem::path fmu_path_;
  worker_options options_;
  model_description md_;
  instance_state state_ = instance_state::freed;
  double time_ = 0.0;
  pid_t pid_ = -1;
  int fd_ = -1;
  // The worker unpacks below this directory, which the client removes:
  // a killed worker cannot clean up after itself.
  std::filesystem::path scratch_;
  std::string last_failure_;
  int failures_ = 0;
  int restarts_ = 0;
  std::chrono::steady_clock::time_point started_{};
  std::string response_;
};

} // namespace twin::fmu
