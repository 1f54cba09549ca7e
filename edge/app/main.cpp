// twin-edge: a feature-extracting Sparkplug B edge (a fleet of simulated
// gearbox bearings, or a CSV/WAV replay). Thin main(): options -> run().
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "edge_runtime.hpp"
#include "twin/edge/fleet.hpp"
#include "twin/sparkplug/mqtt_host.hpp"

int main(int argc, char** argv) {
  using namespace twin::edge;
  twin::sparkplug::paho_trace_errors_only();
  app::edge_options o;
  std::vector<std::string> band_specs;
  std::string tagmap_out;
  std::string tagmap_version;

  CLI::App cli{"twin-edge: computes vibration features (RMS, peak, crest factor, kurtosis, "
               "FFT band energies) from a 10 kHz signal per device and publishes them as "
               "Sparkplug B (NBIRTH/DBIRTH/DDATA, NDEATH will, Rebirth)"};
  cli.option_defaults()->always_capture_default();
  cli.add_option("--mqtt", o.mqtt_url, "Broker URL, tcp://HOST:PORT or ssl://HOST:PORT");
  cli.add_option("--ca", o.ca_file, "TLS: CA certificate(s) (PEM) to verify the broker")
      ->check(CLI::ExistingFile);
  cli.add_option("--cert", o.cert_file, "TLS: client certificate (PEM)")->check(CLI::ExistingFile);
  cli.add_option("--key", o.key_file, "TLS: client private key (PEM)")->check(CLI::ExistingFile);
  cli.add_option("--group", o.fleet.group, "Sparkplug group id");
  cli.add_option("--turbines", o.fleet.turbines, "Edge nodes Turbine01..NN (one MQTT session each)")
      ->check(CLI::Range(1, 999));
  cli.add_option("--devices-per-turbine", o.fleet.devices_per_turbine,
                 "Devices Gearbox_BearingA, _BearingB, ... per edge node")
      ->check(CLI::Range(1, 26));
  cli.add_option("--rate", o.rate_hz, "DDATA per device per second")->check(CLI::Range(1.0, 10.0));
  cli.add_option("--sample-rate", o.sample_rate_hz, "Raw signal sample rate (Hz); a WAV's own wins")
      ->check(CLI::Range(100.0, 1e6));
  cli.add_option("--window", o.window, "Samples per feature window; 0 = the hop (sample rate / rate)");
  cli.add_option("--band", band_specs,
                 "LO:HI:NAME FFT band, repeatable (default 10:1000:bandEnergyLow "
                 "1000:3000:bandEnergyMid 3000:5000:bandEnergyHigh)");
  cli.add_option("--source", o.source, "sim | csv:PATH | wav:PATH");
  cli.add_option("--speedup", o.speedup, "Simulated wear time runs this many times faster")
      ->check(CLI::PositiveNumber);
  cli.add_option("--initial-wear", o.initial_wear,
                 "Initial wear 0..1 of every simulated bearing; < 0 = spread 0..0.5 by seed")
      ->check(CLI::Range(-1.0, 1.0));
  cli.add_option("--seed", o.seed, "Simulator seed");
  cli.add_option("--client-id-prefix", o.client_id_prefix,
                 "MQTT client id is <prefix>-<group>-<edge node>");
  cli.add_option("--duration", o.duration_s, "Seconds to run; 0 = until SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--queue", o.queue_capacity,
                 "DDATA queue per edge node (drop-oldest); 0 = 8 x devices, at least 16");
  cli.add_option("--sampler-threads", o.sampler_threads,
                 "Threads computing features (devices sharded); 0 = hardware threads");
  cli.add_option("--status-interval", o.status_interval_s, "Seconds between status lines")
      ->check(CLI::PositiveNumber);
  cli.add_option("--twin-id-pattern", o.fleet.twin_id_pattern,
                 "Twin ids in the tag map; {turbine[:02]} {device[:02]} {device_letter} "
                 "{group} {edge_node} {device_id}; lower-cased");
  cli.add_option("--tagmap-out", tagmap_out, "Write the fleet's tag map (JSON) here and exit");
  cli.add_option("--tagmap-version", tagmap_version,
                 "Tag map version (default twin-edge-<group>-<turbines>x<devices>)");
  auto* hooks = "Test hooks";
  cli.add_option("--skip-seq-after", o.skip_seq_after,
                 "TEST HOOK: after N DDATA of each edge node, skip one seq value once")
      ->group(hooks);
  cli.add_option("--publish-garbage-after", o.publish_garbage_after,
                 "TEST HOOK: after N DDATA of each edge node, publish one non-protobuf "
                 "payload on a DDATA topic once")
      ->group(hooks);
  CLI11_PARSE(cli, argc, argv);

  for (const auto& spec : band_specs) {
    auto b = parse_band(spec);
    if (!b) {
      std::cerr << "twin-edge: " << b.error().describe() << "\n";
      return 2;
    }
    o.bands.push_back(std::move(b).value());
  }
  if (auto v = validate(o.fleet); !v) {
    std::cerr << "twin-edge: " << v.error().describe() << "\n";
    return 2;
  }
  const auto bands = o.bands.empty() ? default_bands() : o.bands;
  const auto metrics = device_metric_names(bands);
  for (std::size_t i = 0; i < metrics.size(); ++i)
    for (std::size_t j = i + 1; j < metrics.size(); ++j)
      if (metrics[i] == metrics[j]) {
        std::cerr << "twin-edge: metric name " << metrics[i] << " is used twice\n";
        return 2;
      }

  if (!tagmap_out.empty()) {
    auto doc = make_tag_map(o.fleet, metrics,
                            tagmap_version.empty() ? default_tagmap_version(o.fleet)
                                                   : tagmap_version);
    if (!doc) {
      std::cerr << "twin-edge: " << doc.error().describe() << "\n";
      return 2;
    }
    std::ofstream out(tagmap_out, std::ios::binary | std::ios::trunc);
    out << *doc;
    out.close();
    if (!out) {
      std::cerr << "twin-edge: cannot write " << tagmap_out << "\n";
      return 1;
    }
    std::cout << "wrote " << tagmap_out << " ("
              << o.fleet.turbines * o.fleet.devices_per_turbine * static_cast<int>(metrics.size())
              << " mappings)\n";
    return 0;
  }
  return app::run(o);
}
