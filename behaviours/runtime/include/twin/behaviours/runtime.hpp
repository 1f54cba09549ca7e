#pragma once
// behaviour_runtime: runs the behaviours bound to twins (FMU co-simulation,
// anomaly detection, forecast/RUL) inside twin-node, on the fabric port only.
//
//  - At start it lists every twin (list_twins pages) and loads the bindings
//    in each twin document's "$behaviours"; then it follows the change
//    stream: twin.behaviour_attached / _detached reload a twin's bindings,
//    twin.telemetry_received / property_updated feed values to them.
//  - The stream callback only enqueues (bounded; drops are counted); one
//    worker thread owns every binding's state, steps FMUs (in a
//    twin-fmu-worker process by default), trains and scores models.
//  - Outputs go back through fabric::ingest_data with source kind
//    "behaviour", source "behaviour/<name>" and a lineage origin naming the
//    FMU (name, instantiation token, version, sha256), the step time and the
//    input events used (twin, revision, name). A binding ignores the events
//    of its own outputs.
//  - Alerts (fabric::raise_alert): twin.alert.behaviour_failed,
//    twin.alert.rul_below_horizon, twin.alert.anomaly.
// See behaviours/runtime/README.md.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "twin/actors/fabric.hpp"
#include "twin/error.hpp"

namespace twin::behaviours {

struct runtime_options {
  /// Relative "fmu" paths of bindings resolve against this directory.
  std::filesystem::path fmu_dir = ".";
  /// The twin-fmu-worker binary (empty: twin_fmu's lookup).
  std::filesystem::path worker_executable;
  /// Longest wait for one FMU worker call.
  std::chrono::milliseconds call_timeout{10'000};
  /// Stream events waiting for the worker thread; beyond it they are
  /// dropped (counted).
  std::size_t queue_capacity = 65536;
  /// Identity of the runtime's requests (role operator).
  std::string principal = "behaviour-runtime";
  /// Log lines (default: stderr).
  std::function<void(const std::string&)> log;
};

struct runtime_stats {
  std::uint64_t events = 0;         ///< stream events handled
  std::uint64_t dropped = 0;        ///< stream events dropped (queue full)
  std::uint64_t fmu_steps = 0;      ///< doStep calls
  std::uint64_t scores = 0;         ///< anomaly scores
  std::uint64_t forecasts = 0;      ///< RUL predictions
  std::uint64_t writes = 0;         ///< output writes acknowledged
  std::uint64_t write_failures = 0; ///< output writes refused
  std::uint64_t alerts = 0;         ///< alerts raised
  std::uint64_t failures = 0;       ///< behaviour failures (FMU errors, crashes)
  std::size_t bindings = 0;         ///< bindings loaded now
};

class behaviour_runtime {
public:
  /// Subscribes to the change stream and starts the worker thread, which
  /// loads every twin's bindings first. Errors: those of subscribe.
  static expected<std::unique_ptr<behaviour_runtime>> start(actors::fabric& fabric,
                                                            runtime_options options = {});
  ~behaviour_runtime();
  behaviour_runtime(const behaviour_runtime&) = delete;
  behaviour_runtime& operator=(const behaviour_runtime&) = delete;

  /// Unsubscribes, stops the worker thread, frees every FMU. Idempotent.
  void stop();
  /// Waits until the initial load is done.
  bool wait_loaded(std::chrono::milliseconds timeout);
  /// Waits until the queue is empty and the worker idle (tests).
  bool wait_idle(std::chrono::milliseconds timeout);
  runtime_stats stats() const;

  struct impl;

private:
  explicit behaviour_runtime(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

} // namespace twin::behaviours
