#include "twin/edge/bearing.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace twin::edge {

namespace {
constexpr double two_pi = 2.0 * std::numbers::pi;
}

expected<bearing_frequencies> characteristic_frequencies(const bearing_geometry& g,
                                                         double shaft_hz) {
  if (g.balls < 3)
    return make_error(errc::bad_request, "a bearing needs at least 3 balls", "edge.bearing",
                      "/geometry/balls");
  if (!(g.ball_diameter > 0.0) || !(g.pitch_diameter > g.ball_diameter) ||
      !std::isfinite(g.pitch_diameter))
    return make_error(errc::bad_request, "need 0 < ball diameter < pitch diameter",
                      "edge.bearing", "/geometry");
  if (!std::isfinite(g.contact_angle_rad) || g.contact_angle_rad < 0.0 ||
      g.contact_angle_rad >= std::numbers::pi / 2)
    return make_error(errc::bad_request, "contact angle must be in [0, pi/2)", "edge.bearing",
                      "/geometry/contact_angle_rad");
  if (!std::isfinite(shaft_hz) || shaft_hz <= 0.0)
    return make_error(errc::bad_request, "shaft speed must be finite and > 0", "edge.bearing",
                      "/shaft_hz");
  const double r = g.ball_diameter / g.pitch_diameter * std::cos(g.contact_angle_rad);
  const double n = g.balls;
  bearing_frequencies f;
  f.ftf = shaft_hz / 2.0 * (1.0 - r);
  f.bpfo = n * shaft_hz / 2.0 * (1.0 - r);
  f.bpfi = n * shaft_hz / 2.0 * (1.0 + r);
  f.bsf = g.pitch_diameter / (2.0 * g.ball_diameter) * shaft_hz * (1.0 - r * r);
  return f;
}

expected<bearing_simulator> bearing_simulator::create(bearing_config c) {
  if (!std::isfinite(c.sample_rate_hz) || c.sample_rate_hz <= 0.0)
    return make_error(errc::bad_request, "sample rate must be finite and > 0", "edge.bearing",
                      "/sample_rate_hz");
  auto f = characteristic_frequencies(c.geometry, c.shaft_hz);
  if (!f)
    return std::move(f).error();
  if (!(c.resonance_hz > 0.0) || c.resonance_hz >= c.sample_rate_hz / 2.0)
    return make_error(errc::bad_request, "resonance must be in (0, Nyquist)", "edge.bearing",
                      "/resonance_hz");
  if (!(c.damping_ratio > 0.0) || c.damping_ratio >= 1.0)
    return make_error(errc::bad_request, "damping ratio must be in (0, 1)", "edge.bearing",
                      "/damping_ratio");
  if (!(c.initial_wear >= 0.0) || c.initial_wear > 1.0)
    return make_error(errc::bad_request, "wear must be in [0, 1]", "edge.bearing",
                      "/initial_wear");
  if (!(c.noise_sigma >= 0.0) || !(c.defect_amplitude >= 0.0) ||
      !(c.imbalance_amplitude >= 0.0) || !(c.timing_jitter >= 0.0) || !(c.wear_rate >= 0.0) ||
      !(c.thermal_time_constant_s > 0.0))
    return make_error(errc::bad_request, "amplitudes, jitter, rates must be >= 0",
                      "edge.bearing");
  bearing_simulator sim(std::move(c));
  sim.freqs_ = *f;
  return sim;
}

bearing_simulator::bearing_simulator(bearing_config c)
    : config_(std::move(c)), rng_(config_.seed) {
  wear_ = config_.initial_wear;
  temperature_c_ = steady_temperature(wear_);
  // Random phases so that two seeds do not line up.
  shaft_phase_ = two_pi * static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  impact_index_ = 0;
  next_impact_t_ = -1.0; // computed lazily once freqs_ is set
}

double bearing_simulator::gaussian() {
  // Marsaglia polar method on mt19937_64: portable across standard libraries.
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u, v, s;
  do {
    u = 2.0 * static_cast<double>(rng_() >> 11) * 0x1.0p-53 - 1.0;
    v = 2.0 * static_cast<double>(rng_() >> 11) * 0x1.0p-53 - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double m = std::sqrt(-2.0 * std::log(s) / s);
  spare_ = v * m;
  has_spare_ = true;
  return u * m;
}

double bearing_simulator::steady_temperature(double w) const noexcept {
  return config_.ambient_c + config_.temperature_rise_c + config_.wear_temperature_c * w * w;
}

double bearing_simulator::load_kn() const noexcept {
  return config_.nominal_load_kn * (1.0 + config_.wear_load_fraction * wear_);
}

double bearing_simulator::time_s() const noexcept {
  return static_cast<double>(sample_) / config_.sample_rate_hz;
}

void bearing_simulator::schedule_next_impact() {
  // Impacts sit on the ideal 1/BPFO grid plus a small independent jitter
  // (rolling elements slip a little), so the spectral lines stay sharp.
  const double period = 1.0 / freqs_.bpfo;
  next_impact_t_ = (static_cast<double>(impact_index_) + 0.5) * period +
                   config_.timing_jitter * period * gaussian();
  ++impact_index_;
}

std::vector<double> bearing_simulator::generate(std::size_t n) {
  std::vector<double> out(n);
  const double fs = config_.sample_rate_hz;
  const double wn = two_pi * config_.resonance_hz;
  const double zeta = config_.damping_ratio;
  const double decay = zeta * wn;
  const double wd = wn * std::sqrt(1.0 - zeta * zeta);
  const double lifetime = 16.0 / decay; // e^-16 ~ 1e-7 of the peak
  const double w = wear_;
  const double defect = config_.defect_amplitude * std::pow(w, 1.5);
  const double imbalance = config_.imbalance_amplitude * (1.0 + 0.5 * w);
  const double sigma = config_.noise_sigma * (1.0 + w);
  if (next_impact_t_ < 0.0)
    schedule_next_impact();

  for (std::size_t i = 0; i < n; ++i, ++sample_) {
    const double t = static_cast<double>(sample_) / fs;
    while (next_impact_t_ <= t) {
      const double a = defect * (1.0 + 0.1 * gaussian());
      if (a != 0.0)
        active_.push_back({next_impact_t_, a});
      schedule_next_impact();
    }
    double x = imbalance * std::sin(two_pi * config_.shaft_hz * t + shaft_phase_);
    for (const auto& im : active_) {
      const double tau = t - im.t0;
      x += im.amplitude * std::exp(-decay * tau) * std::sin(wd * tau);
    }
    x += sigma * gaussian();
    out[i] = x;
    std::erase_if(active_, [&](const impact& im) { return t - im.t0 > lifetime; });
  }
  return out;
}

void bearing_simulator::advance_wear(double dt_s) {
  if (!(dt_s > 0.0) || !std::isfinite(dt_s))
    return;
  // Integrate dw/dt = r (1 + 9 w) exactly: w(t) = (w0 + 1/9) e^{9 r t} - 1/9.
  const double r = config_.wear_rate;
  wear_ = std::min(1.0, (wear_ + 1.0 / 9.0) * std::exp(9.0 * r * dt_s) - 1.0 / 9.0);
  const double target = steady_temperature(wear_);
  temperature_c_ += (target - temperature_c_) *
                    (1.0 - std::exp(-dt_s / config_.thermal_time_constant_s));
}

void bearing_simulator::set_wear(double w) {
  wear_ = std::clamp(std::isfinite(w) ? w : 0.0, 0.0, 1.0);
  temperature_c_ = steady_temperature(wear_);
}

} // namespace twin::edge
