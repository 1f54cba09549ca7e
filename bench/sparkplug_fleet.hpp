#pragma once
// A synthetic Sparkplug B fleet shared by bench_sparkplug and bench_mqtt_blast:
// E edge nodes Turbine001.. in group PlantA, D devices Gearbox_BearingA.. each,
// every device publishing the 10 Double telemetry metrics of
// deploy/models/gearbox-bearing.json (names as twin-edge publishes them).
// Twin ids as twin-edge's default pattern: turbine001-bearing-a.
//
// Payloads are shaped like twin-edge's: NBIRTH (seq 0, bdSeq UInt64),
// DBIRTH per device (name + alias + Double + timestamp per metric), DDATA
// with the payload timestamp, seq and aliases only (no datatype, no metric
// timestamp). seq is per edge node, shared by DBIRTH and DDATA, mod 256.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/sparkplug/payload.hpp"

namespace twin::bench::spb {

inline const char* const group = "PlantA";
inline const char* const model_id = "dtmi:fabric:example:GearboxBearing;1";
inline const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> n{
    "vibrationRms",  "vibrationPeak", "crestFactor", "kurtosis",    "bandEnergyLow",
    "bandEnergyMid", "bandEnergyHigh", "temperature", "load",        "shaftSpeed"};
  return n;
}

/// One pre-encoded MQTT message.
struct message {
  std::string topic;
  std::string payload;  ///< protobuf bytes
  std::uint32_t metrics = 0;
};

struct fleet {
  int edge_nodes = 100;
  int devices = 10;  ///< per edge node, 1..26

  int twins() const { return edge_nodes * devices; }
  static std::string edge_name(int e) {
    char b[32];
    std::snprintf(b, sizeof b, "Turbine%03d", e + 1);
    return b;
  }
  static std::string device_name(int d) {
    return std::string{"Gearbox_Bearing"} + static_cast<char>('A' + d);
  }
  static std::string twin_id(int e, int d) {
    char b[48];
    std::snprintf(b, sizeof b, "turbine%03d-bearing-%c", e + 1, 'a' + d);
    return b;
  }
  std::string twin_of(int global_device) const {
    return twin_id(global_device / devices, global_device % devices);
  }
  /// Alias of metric k of device d (1.., unique per edge node).
  std::uint64_t alias(int d, int k) const {
    return static_cast<std::uint64_t>(d) * metric_names().size() + k + 1;
  }

  /// The tag map JSON: one identity mapping per (edge node, device, metric).
  nlohmann::json tag_map_json() const {
    nlohmann::json maps = nlohmann::json::array();
    for (int e = 0; e < edge_nodes; ++e)
      for (int d = 0; d < devices; ++d)
        for (const auto& m : metric_names())
          maps.push_back({{"group", group},
                          {"edgeNode", edge_name(e)},
                          {"device", device_name(d)},
                          {"metric", m},
                          {"twin", twin_id(e, d)},
                          {"name", m}});
    return {{"version", "bench-" + std::to_string(edge_nodes) + "x" + std::to_string(devices)},
            {"mappings", std::move(maps)}};
  }

  /// A plausible value of metric k of a device at step t (finite, varying).
  static double value(int k, long dev, long t) {
    double phase = 0.001 * static_cast<double>(t) + 0.37 * static_cast<double>(dev);
    static const double base[] = {0.8, 2.5, 3.1, 3.0, 0.2, 0.05, 0.01, 55.0, 1.2e5, 1500.0};
    return base[k] * (1.0 + 0.1 * std::sin(phase + k)) + 1e-6 * static_cast<double>(t % 997);
  }

  static std::string encode(const sparkplug::payload& p) {
    auto b = sparkplug::encode_payload(p);
    if (!b) {
      std::fprintf(stderr, "encode: %s\n", b.error().describe().c_str());
      std::exit(1);
    }
    return std::string(b->begin(), b->end());
  }

  /// NBIRTH of each edge node then the DBIRTHs of its devices (seq 0..D).
  std::vector<message> births(std::uint64_t now_ms, std::uint64_t bd_seq = 0) const {
    std::vector<message> out;
    for (int e = 0; e < edge_nodes; ++e) {
      sparkplug::payload nb;
      nb.timestamp = now_ms;
      nb.seq = 0;
      sparkplug::metric bd;
      bd.name = "bdSeq";
      bd.timestamp = now_ms;
      bd.datatype = sparkplug::data_type::uint64;
      bd.value = bd_seq;
      nb.metrics.push_back(bd);
      sparkplug::metric rb;
      rb.name = "Node Control/Rebirth";
      rb.timestamp = now_ms;
      rb.datatype = sparkplug::data_type::boolean;
      rb.value = false;
      nb.metrics.push_back(rb);
      out.push_back({std::string{"spBv1.0/"} + group + "/NBIRTH/" + edge_name(e), encode(nb), 2});
      for (int d = 0; d < devices; ++d) {
        sparkplug::payload db;
        db.timestamp = now_ms;
        db.seq = static_cast<std::uint64_t>(d + 1) % 256;
        for (std::size_t k = 0; k < metric_names().size(); ++k) {
          sparkplug::metric m;
          m.name = metric_names()[k];
          m.alias = alias(d, static_cast<int>(k));
          m.timestamp = now_ms;
          m.datatype = sparkplug::data_type::double_;
          m.value = value(static_cast<int>(k), e * devices + d, 0);
          db.metrics.push_back(std::move(m));
        }
        out.push_back({std::string{"spBv1.0/"} + group + "/DBIRTH/" + edge_name(e) + "/"
                         + device_name(d),
                       encode(db), static_cast<std::uint32_t>(metric_names().size())});
      }
    }
    return out;
  }

  /// DDATA per cycle such that every device gets the same number and every
  /// edge node's seq comes back to where it started (a multiple of 256 per
  /// edge node): sending the cycle again continues the seq without a gap.
  long seamless_cycle() const {
    long per_device = 256;
    while (per_device % 2 == 0 && (per_device / 2) * devices % 256 == 0)
      per_device /= 2;
    return per_device * twins();
  }

  /// Rewrites the payload timestamp (field 1, the first field our encoder
  /// writes) in place, keeping the varint's length (protobuf accepts padded
  /// varints). False if the payload does not start with it.
  static bool patch_timestamp(std::string& payload, std::uint64_t ts) {
    if (payload.size() < 2 || static_cast<unsigned char>(payload[0]) != 0x08)
      return false;
    std::size_t len = 0;
    while (1 + len < payload.size() && (static_cast<unsigned char>(payload[1 + len]) & 0x80))
      ++len;
    ++len;
    if (1 + len > payload.size() || (len < 10 && (ts >> (7 * len)) != 0))
      return false;
    for (std::size_t i = 0; i < len; ++i) {
      auto b = static_cast<unsigned char>(ts & 0x7f);
      ts >>= 7;
      if (i + 1 < len)
        b |= 0x80;
      payload[1 + i] = static_cast<char>(b);
    }
    return true;
  }

  /// `count` DDATA, round robin over every device (device i % twins()), seq
  /// per edge node continuing after the births, timestamps from `t0_ms` in
  /// steps of `step_ms` per device.
  std::vector<message> ddata(long count, std::uint64_t t0_ms, std::uint64_t step_ms = 100) const {
    std::vector<message> out;
    out.reserve(static_cast<std::size_t>(count));
    std::vector<std::uint64_t> seq(static_cast<std::size_t>(edge_nodes),
                                   static_cast<std::uint64_t>(devices + 1));
    std::vector<std::string> topics;
    for (int e = 0; e < edge_nodes; ++e)
      for (int d = 0; d < devices; ++d)
        topics.push_back(std::string{"spBv1.0/"} + group + "/DDATA/" + edge_name(e) + "/"
                         + device_name(d));
    for (long i = 0; i < count; ++i) {
      long dev = i % twins();
      long t = i / twins() + 1;
      int e = static_cast<int>(dev / devices), d = static_cast<int>(dev % devices);
      sparkplug::payload p;
      p.timestamp = t0_ms + static_cast<std::uint64_t>(t) * step_ms;
      p.seq = seq[static_cast<std::size_t>(e)]++ % 256;
      for (std::size_t k = 0; k < metric_names().size(); ++k) {
        sparkplug::metric m;
        m.alias = alias(d, static_cast<int>(k));
        m.value = value(static_cast<int>(k), dev, t);
        p.metrics.push_back(std::move(m));
      }
      out.push_back({topics[static_cast<std::size_t>(dev)], encode(p),
                     static_cast<std::uint32_t>(metric_names().size())});
    }
    return out;
  }
};

} // namespace twin::bench::spb
