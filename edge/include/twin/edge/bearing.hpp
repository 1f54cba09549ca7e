#pragma once
// A rolling-element bearing vibration simulator, for demos and tests: an
// outer-race defect whose impulses grow with wear, each ringing a structural
// resonance, on top of a shaft-rate imbalance tone and Gaussian noise.
// Deterministic for a given seed (own Gaussian generator on mt19937_64, so the
// sequence does not depend on the standard library's distributions).

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "twin/error.hpp"

namespace twin::edge {

/// Bearing geometry. Diameters in any one unit (only their ratio matters).
struct bearing_geometry {
  int balls = 9;                   ///< rolling elements
  double ball_diameter = 7.94;     ///< d (mm); 6205-like default
  double pitch_diameter = 39.04;   ///< D (mm)
  double contact_angle_rad = 0.0;  ///< phi
};

/// Characteristic defect frequencies (Hz) for a stationary outer race:
///   FTF  = fr/2 (1 - d/D cos phi)                (cage)
///   BPFO = n fr/2 (1 - d/D cos phi)              (outer race)
///   BPFI = n fr/2 (1 + d/D cos phi)              (inner race)
///   BSF  = D/(2d) fr (1 - (d/D cos phi)^2)       (ball spin; one contact per turn)
struct bearing_frequencies {
  double ftf = 0, bpfo = 0, bpfi = 0, bsf = 0;
};

expected<bearing_frequencies> characteristic_frequencies(const bearing_geometry& g,
                                                         double shaft_hz);

struct bearing_config {
  double sample_rate_hz = 10'000.0;
  double shaft_hz = 29.95;          ///< 1797 rpm
  bearing_geometry geometry;
  double resonance_hz = 3'000.0;    ///< structural resonance excited by impacts
  double damping_ratio = 0.05;      ///< of that resonance
  double defect_amplitude = 3.0;    ///< impulse peak (g) at wear 1; scales as wear^1.5
  double timing_jitter = 0.002;     ///< std of impact time, fraction of 1/BPFO
  double imbalance_amplitude = 0.2; ///< 1x tone (g); grows 50% at wear 1
  double noise_sigma = 0.05;        ///< broadband noise std (g); doubles at wear 1
  double initial_wear = 0.0;        ///< [0, 1]
  double wear_rate = 1e-4;          ///< wear per second at wear 0; accelerates with wear
  double ambient_c = 25.0;
  double temperature_rise_c = 20.0; ///< healthy running rise above ambient
  double wear_temperature_c = 40.0; ///< extra rise at wear 1
  double thermal_time_constant_s = 600.0;
  double nominal_load_kn = 5.0;
  double wear_load_fraction = 0.3;  ///< load (friction torque proxy) +30% at wear 1
  std::uint64_t seed = 1;
};

class bearing_simulator {
public:
  /// Validates the config (positive rates, d < D, >= 3 balls, resonance below
  /// Nyquist, wear in [0, 1]).
  static expected<bearing_simulator> create(bearing_config config);

  /// The next n samples (g), continuous with the previous call.
  std::vector<double> generate(std::size_t n);

  /// Advance wear (and the thermal state) by dt seconds of running:
  /// dw/dt = wear_rate * (1 + 9 w), clamped to 1; temperature follows its
  /// wear-dependent target with a first-order lag.
  void advance_wear(double dt_s);
  /// Set the wear state directly (clamped to [0, 1]); temperature jumps to
  /// its steady state for that wear.
  void set_wear(double w);

  double wear() const noexcept { return wear_; }
  double temperature_c() const noexcept { return temperature_c_; }
  double load_kn() const noexcept;
  double speed_hz() const noexcept { return config_.shaft_hz; }
  const bearing_frequencies& frequencies() const noexcept { return freqs_; }
  const bearing_config& config() const noexcept { return config_; }
  /// Seconds of signal generated so far.
  double time_s() const noexcept;

private:
  explicit bearing_simulator(bearing_config c);
  double gaussian();
  double steady_temperature(double w) const noexcept;
  void schedule_next_impact();

  struct impact {
    double t0;        // seconds
    double amplitude; // g
  };

  bearing_config config_;
  bearing_frequencies freqs_;
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0.0;
  std::uint64_t sample_ = 0;     // index of the next sample
  std::uint64_t impact_index_ = 0;
  double next_impact_t_ = 0.0;
  std::vector<impact> active_;
  double wear_ = 0.0;
  double temperature_c_ = 0.0;
  double shaft_phase_ = 0.0;
};

} // namespace twin::edge
