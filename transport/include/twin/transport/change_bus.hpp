#pragma once
// The in-process change bus: twin actors publish every durable change as a
// CloudEvents JSON object; the REST gateway's SSE streams (and, in a
// cluster, the Kafka change-event producer) subscribe.
//
// Threads: publish() runs on fabric threads (CAF workers). Subscribers'
// callbacks run synchronously inside publish() under a shared lock, so they
// must be quick and must never block: queue and return.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace twin::transport {

/// What a twin change is, known before its JSON form is built: twin actors
/// ask wants() first and build the CloudEvent only if some subscriber needs
/// it (most device data has no listener but the behaviour runtime, which
/// needs only the twins that have behaviours).
struct change_kind {
  /// The CloudEvents type, e.g. "twin.telemetry_received".
  std::string_view type;
  /// The twin id.
  std::string_view subject;
  /// The twin has at least one behaviour binding (after this change).
  bool subject_has_behaviours = false;
};

class change_bus {
public:
  using handler = std::function<void(const nlohmann::json&)>;
  /// Whether a subscriber needs a twin change; empty: every change.
  /// Called on fabric threads under the bus's shared lock: quick, no
  /// blocking, no calls into the bus.
  using interest = std::function<bool(const change_kind&)>;

  /// Removes its handler when destroyed. Must not outlive the bus.
  class subscription {
  public:
    subscription(change_bus* bus, std::uint64_t id) : bus_(bus), id_(id) {}
    ~subscription();
    subscription(const subscription&) = delete;
    subscription& operator=(const subscription&) = delete;

  private:
    change_bus* bus_;
    std::uint64_t id_;
  };

  std::unique_ptr<subscription> subscribe(handler h, interest i = {});

  /// Delivers `event` to every subscriber (alerts and other changes that
  /// are not twin events).
  void publish(const nlohmann::json& event);
  /// Delivers the twin change `event` to the subscribers that want `kind`.
  void publish(const nlohmann::json& event, const change_kind& kind);

  /// Whether any subscriber wants `kind`.
  bool wants(const change_kind& kind) const;

  std::size_t subscribers() const;

private:
  struct entry {
    handler h;
    interest wants;
  };
  mutable std::shared_mutex mtx_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, entry> handlers_;
};

/// A CloudEvents 1.0 structured-mode JSON object.
/// `type` e.g. "twin.property_updated", `subject` the twin id.
nlohmann::json make_cloud_event(const std::string& id, const std::string& type,
                                const std::string& source,
                                const std::string& subject,
                                const std::string& time,
                                nlohmann::json data);

} // namespace twin::transport
