#include "twin/transport/change_bus.hpp"

#include <mutex>

namespace twin::transport {

change_bus::subscription::~subscription() {
  std::unique_lock guard{bus_->mtx_};
  bus_->handlers_.erase(id_);
}

std::unique_ptr<change_bus::subscription> change_bus::subscribe(handler h, interest i) {
  std::unique_lock guard{mtx_};
  auto id = next_id_++;
  handlers_.emplace(id, entry{std::move(h), std::move(i)});
  return std::make_unique<subscription>(this, id);
}

void change_bus::publish(const nlohmann::json& event) {
  std::shared_lock guard{mtx_};
  for (auto& [id, e] : handlers_)
    e.h(event);
}

void change_bus::publish(const nlohmann::json& event, const change_kind& kind) {
  std::shared_lock guard{mtx_};
  for (auto& [id, e] : handlers_)
    if (!e.wants || e.wants(kind))
      e.h(event);
}

bool change_bus::wants(const change_kind& kind) const {
  std::shared_lock guard{mtx_};
  for (auto& [id, e] : handlers_)
    if (!e.wants || e.wants(kind))
      return true;
  return false;
}

std::size_t change_bus::subscribers() const {
  std::shared_lock guard{mtx_};
  return handlers_.size();
}

nlohmann::json make_cloud_event(const std::string& id, const std::string& type,
                                const std::string& source,
                                const std::string& subject,
                                const std::string& time, nlohmann::json data) {
  return nlohmann::json{{"specversion", "1.0"},
                        {"id", id},
                        {"type", type},
                        {"source", source},
                        {"subject", subject},
                        {"time", time},
                        {"datacontenttype", "application/json"},
                        {"data", std::move(data)}};
}

} // namespace twin::transport
