#pragma once
// The Sparkplug host's sink on top of the fabric port: every batch becomes
// one device-data command of its twin (same checks as REST telemetry), every
// connectivity change a connectivity command. Thread-safe; never blocks.

#include <string>

#include "twin/actors/fabric.hpp"
#include "twin/sparkplug/host_sink.hpp"

namespace twin::node {

class fabric_sink final : public sparkplug::host_sink {
public:
  /// `principal` is the identity the host acts as (role operator: ingest).
  fabric_sink(actors::fabric& fabric, std::string principal);

  void ingest(sparkplug::ingest_batch b, sparkplug::sink_done done) override;
  void connectivity(const std::string& twin, bool online, std::string reason,
                    std::int64_t time_ms, sparkplug::sink_done done) override;

private:
  actors::request_context context() const;

  actors::fabric& fabric_;
  security::principal who_;
};

} // namespace twin::node
