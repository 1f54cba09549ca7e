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

#include <nlohmann/json.hpp>

namespace twin::transport {

class change_bus {
public:
  using handler = std::function<void(const nlohmann::json&)>;

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

  std::unique_ptr<subscription> subscribe(handler h);

  /// Delivers `event` to every subscriber.
  void publish(const nlohmann::json& event);

  std::size_t subscribers() const;

private:
  mutable std::shared_mutex mtx_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, handler> handlers_;
};

/// A CloudEvents 1.0 structured-mode JSON object.
/// `type` e.g. "twin.property_updated", `subject` the twin id.
nlohmann::json make_cloud_event(const std::string& id, const std::string& type,
                                const std::string& source,
                                const std::string& subject,
                                const std::string& time,
                                nlohmann::json data);

} // namespace twin::transport
