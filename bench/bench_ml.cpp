// ML scoring throughput per twin update (issue 4): robust-Mahalanobis
// anomaly scoring for a 5- and a 10-feature model, and a Holt update +
// forecast. Baseline in the same run: picking the same features out of the
// twin's JSON properties, which every update has to do anyway.
//
//   bench_ml [--updates N]     (Release build; default N = 2,000,000)

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "twin/ml/anomaly.hpp"
#include "twin/ml/forecast.hpp"

using namespace twin::ml;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Keeps the optimizer from dropping a computed value.
volatile double sink = 0.0;

std::vector<std::vector<double>> gaussian_rows(std::size_t n, std::size_t p,
                                               std::mt19937_64& rng) {
  std::normal_distribution<double> d;
  std::vector<std::vector<double>> rows(n, std::vector<double>(p));
  for (auto& r : rows) {
    double common = d(rng);
    for (std::size_t j = 0; j < p; ++j)
      r[j] = 10.0 * (j + 1) + 0.6 * common + 0.8 * d(rng); // correlated
  }
  return rows;
}

void report(const char* what, long n, double secs) {
  std::printf("  %-44s %12.0f /s   %8.1f ns each\n", what, static_cast<double>(n) / secs,
              secs * 1e9 / static_cast<double>(n));
}

void bench_anomaly(std::size_t p, long updates) {
  std::mt19937_64 rng(42);
  std::vector<std::string> names;
  for (std::size_t j = 0; j < p; ++j)
    names.push_back(std::string(1, 'f').append(std::to_string(j)));
  const auto train = gaussian_rows(2000, p, rng);
  model_binding binding{"1.0.0", twin::model::dtmi{"dtmi:com:example:Bearing;1"}};
  auto t0 = std::chrono::steady_clock::now();
  auto m = anomaly_detector::train(binding, names, train);
  const double train_s = seconds_since(t0);
  if (!m) {
    std::fprintf(stderr, "training failed: %s\n", m.error().describe().c_str());
    std::exit(1);
  }
  std::printf("%zu features: training on 2000 samples (FAST-MCD, 50 starts) %.1f ms\n", p,
              train_s * 1e3);

  const auto pool = gaussian_rows(4096, p, rng);
  std::vector<nlohmann::json> props;
  for (const auto& r : pool) {
    nlohmann::json j = nlohmann::json::object();
    for (std::size_t k = 0; k < p; ++k)
      j[names[k]] = r[k];
    j["speed"] = 29.95; // the twin holds more than the model's features
    j["status"] = "running";
    props.push_back(std::move(j));
  }

  t0 = std::chrono::steady_clock::now();
  double acc = 0.0;
  for (long i = 0; i < updates; ++i)
    acc += m->squared_distance(pool[static_cast<std::size_t>(i) & 4095].data());
  report("squared_distance (unchecked)", updates, seconds_since(t0));

  t0 = std::chrono::steady_clock::now();
  long alarms = 0;
  for (long i = 0; i < updates; ++i) {
    auto s = m->score(pool[static_cast<std::size_t>(i) & 4095]);
    acc += s->distance;
    alarms += s->anomalous;
  }
  report("score(span) (checked, expected<>)", updates, seconds_since(t0));

  const long json_updates = updates / 10;
  t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < json_updates; ++i) {
    auto x = extract_features(props[static_cast<std::size_t>(i) & 4095], names);
    acc += x->front();
  }
  const double base_s = seconds_since(t0);
  report("baseline: extract_features from JSON", json_updates, base_s);

  t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < json_updates; ++i)
    acc += m->score_properties(props[static_cast<std::size_t>(i) & 4095])->distance;
  const double json_s = seconds_since(t0);
  report("score_properties(JSON) = baseline + score", json_updates, json_s);
  std::printf("  scoring adds %.0f %% to the JSON pick-out; %ld alarms of %ld\n",
              100.0 * (json_s - base_s) / base_s, alarms, updates);
  sink = acc;
}

void bench_holt(long updates) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.01);
  std::vector<observation> history;
  double t = 0.0;
  for (int i = 0; i < 600; ++i, t += 600.0)
    history.push_back({t, 0.1 + 1e-7 * t + noise(rng)});
  model_binding binding{"1.0.0", twin::model::dtmi{"dtmi:com:example:Bearing;1"}};
  auto t0 = std::chrono::steady_clock::now();
  holt_options o;
  o.fit_lead = 150;
  o.init_points = 60;
  auto m = holt_forecaster::fit(binding, "wear", history, o);
  std::printf("Holt: fit on 600 points (380-pair grid, 150-step lead) %.1f ms\n",
              seconds_since(t0) * 1e3);
  if (!m) {
    std::fprintf(stderr, "fit failed: %s\n", m.error().describe().c_str());
    std::exit(1);
  }
  std::vector<double> values(4096);
  for (auto& v : values)
    v = 0.2 + noise(rng);
  double acc = 0.0;
  t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < updates; ++i) {
    t += 600.0;
    (void)m->update(t, values[static_cast<std::size_t>(i) & 4095]);
    acc += m->forecast(t + 86400.0);
  }
  report("update + forecast(t + 1 d)", updates, seconds_since(t0));
  crossing_query q;
  q.limit = 1.0;
  const long ruls = updates / 100;
  t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < ruls; ++i) {
    q.limit = 1.0 + 1e-9 * static_cast<double>(i);
    auto r = m->rul(q);
    acc += r->rul_s.value_or(0.0);
  }
  report("rul() with band", ruls, seconds_since(t0));
  sink = acc;
}

} // namespace

int main(int argc, char** argv) {
  long updates = 2'000'000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--updates") == 0)
      updates = std::atol(argv[i + 1]);
  std::printf("machine: %u cores (std::thread::hardware_concurrency)\n",
              std::thread::hardware_concurrency());
  bench_anomaly(5, updates);
  bench_anomaly(10, updates);
  bench_holt(updates);
}
