#pragma once
// Feature extraction over a window of raw samples: the edge publishes these
// few numbers at 1-10 Hz instead of relaying the raw 10 kHz signal.
//
// Band energy scaling (what `features::band_energy` holds):
//
//   X_k = sum_{n<N} w_n x_n e^{-2 pi i k n / N}          (FFTW r2c)
//   P_k = c_k |X_k|^2 / (N * sum_n w_n^2)                 (one-sided)
//   band_energy[b] = sum of P_k over bins with k*fs/N in [lo_b, hi_b)
//
// with c_k = 1 for the DC bin and (N even) the Nyquist bin, 2 otherwise.
// Units: the square of the sample unit (a mean-square, i.e. power). With the
// rectangular window (w_n = 1) Parseval holds exactly: the sum of P_k over
// all bins 0..N/2 equals mean(x^2) = rms^2. With the (periodic) Hann window
// the normalization by sum(w^2) ("energy correction") makes the sum equal
// sum(w^2 x^2)/sum(w^2), which equals mean(x^2) in expectation for a
// stationary signal and to within ~1e-12 for a tone with whole periods; a
// tone of amplitude A contributes A^2/2 to the band holding its main lobe.

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "twin/error.hpp"

namespace twin::edge {

/// A frequency band [lo_hz, hi_hz).
struct band {
  double lo_hz = 0.0;
  double hi_hz = 0.0;
  std::string name; ///< optional, for publishing ("band_0_500")
};

enum class window_function { hann, rectangular };

struct extractor_config {
  double sample_rate_hz = 10'000.0;
  /// The nominal window; its FFT plan is created up front. compute() accepts
  /// any length >= min_samples (a plan is cached per length).
  std::size_t window_size = 4096;
  std::vector<band> bands;
  window_function window = window_function::hann;
  /// Shorter inputs are rejected (kurtosis of a handful of samples is noise).
  std::size_t min_samples = 16;
};

struct features {
  std::size_t samples = 0;
  double mean = 0.0;
  double rms = 0.0;          ///< sqrt(mean(x^2)), DC included
  double peak = 0.0;         ///< max |x|
  double crest_factor = 0.0; ///< peak / rms; 0 when rms == 0
  /// Non-excess kurtosis about the mean, m4 / m2^2 (Gaussian ~ 3, sine 1.5);
  /// 0 when the signal is constant (m2 == 0).
  double kurtosis = 0.0;
  std::vector<double> band_energy; ///< one per configured band, same order
};

/// The mutex every FFTW planner call (plan create/destroy) of this process
/// must hold: FFTW's planner is not thread-safe, only fftw_execute is.
std::mutex& fftw_planner_mutex();

/// Computes features of windows. One extractor is used by one thread; several
/// extractors may live on several threads (plan creation is serialized).
class feature_extractor {
public:
  /// Validates the config (sample rate > 0, window >= min_samples, bands with
  /// 0 <= lo < hi and lo below Nyquist) and plans the nominal window.
  static expected<feature_extractor> create(extractor_config config);

  /// Features of one window. Errors (bad_request) on empty input, fewer than
  /// min_samples samples, or a non-finite sample.
  expected<features> compute(std::span<const double> samples);

  /// The one-sided power spectrum P_k, k = 0..N/2, scaled as documented
  /// above (bin k at k * sample_rate / N Hz). Same errors as compute().
  expected<std::vector<double>> power_spectrum(std::span<const double> samples);

  const extractor_config& config() const noexcept { return config_; }
  /// Number of FFT plans cached (one per distinct input length seen).
  std::size_t cached_plans() const noexcept { return plans_.size(); }

  struct plan_entry; // FFTW plan + aligned buffers + window coefficients
  struct plan_deleter { void operator()(plan_entry*) const noexcept; };

private:
  explicit feature_extractor(extractor_config config) : config_(std::move(config)) {}
  expected<plan_entry*> plan_for(std::size_t n);
  status check(std::span<const double> samples) const;
  expected<std::vector<double>> spectrum_unchecked(std::span<const double> samples);

  extractor_config config_;
  std::map<std::size_t, std::unique_ptr<plan_entry, plan_deleter>> plans_;
};

/// Turns a continuous sample stream into features every `hop` samples over
/// the last `window_size` samples (hop == window_size: back-to-back windows;
/// at 10 kHz, window 4096 and hop 1000 publish at 10 Hz). Single-threaded.
class feature_stream {
public:
  /// Errors on hop == 0 or an extractor config that create() rejects.
  static expected<feature_stream> create(extractor_config config, std::size_t hop);

  /// Appends samples; returns the features of every window completed by them,
  /// oldest first. A chunk with a non-finite sample is rejected whole
  /// (bad_request) and nothing of it is buffered.
  expected<std::vector<features>> push(std::span<const double> samples);

  std::size_t hop() const noexcept { return hop_; }
  /// Samples buffered towards the next window.
  std::size_t buffered() const noexcept { return buffer_.size(); }

private:
  feature_stream(feature_extractor fx, std::size_t hop) : fx_(std::move(fx)), hop_(hop) {}
  feature_extractor fx_;
  std::size_t hop_;
  std::vector<double> buffer_;
  std::size_t skip_ = 0; // samples still to drop when hop > window
};

} // namespace twin::edge
