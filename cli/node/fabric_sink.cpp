#include "fabric_sink.hpp"

#include <atomic>
#include <utility>

namespace twin::node {

namespace {

std::string next_request_id() {
  static std::atomic<std::uint64_t> n{0};
  return "spb-" + std::to_string(++n);
}

actors::reply_fn to_done(sparkplug::sink_done done) {
  return [done = std::move(done)](expected<actors::json> r) {
    done(r ? ok() : status{r.error()});
  };
}

} // namespace

fabric_sink::fabric_sink(actors::fabric& fabric, std::string principal)
  : fabric_(fabric) {
  who_.name = std::move(principal);
  who_.roles = {security::role::operator_};
}

actors::request_context fabric_sink::context() const {
  return actors::request_context{who_, next_request_id()};
}

void fabric_sink::ingest(sparkplug::ingest_batch b, sparkplug::sink_done done) {
  actors::device_data d;
  d.values = std::move(b.values);
  d.source_time_ms = b.source_time_ms;
  d.source = std::move(b.source);
  d.pipeline_version = std::move(b.pipeline_version);
  d.origin = std::move(b.origin);
  d.origin_base = std::move(b.origin_base);
  fabric_.ingest_data(context(), b.twin, std::move(d), to_done(std::move(done)));
}

void fabric_sink::connectivity(const std::string& twin, bool online,
                               std::string reason, std::int64_t time_ms,
                               sparkplug::sink_done done) {
  actors::connectivity_update u;
  u.online = online;
  u.source = "sparkplug-host";
  u.reason = std::move(reason);
  u.source_time_ms = time_ms;
  fabric_.set_connectivity(context(), twin, std::move(u), to_done(std::move(done)));
}

} // namespace twin::node
