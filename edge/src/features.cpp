#include "twin/edge/features.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace twin::edge {

std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

struct feature_extractor::plan_entry {
  std::size_t n = 0;
  double* in = nullptr;
  fftw_complex* out = nullptr;
  fftw_plan plan = nullptr;
  std::vector<double> window; // w_n
  double window_power = 0.0;  // sum w_n^2
};

void feature_extractor::plan_deleter::operator()(plan_entry* e) const noexcept {
  if (!e)
    return;
  {
    std::lock_guard lock(fftw_planner_mutex());
    if (e->plan)
      fftw_destroy_plan(e->plan);
    fftw_free(e->in);
    fftw_free(e->out);
  }
  delete e;
}

expected<feature_extractor> feature_extractor::create(extractor_config config) {
  const double fs = config.sample_rate_hz;
  if (!std::isfinite(fs) || fs <= 0.0)
    return make_error(errc::bad_request, "sample rate must be finite and > 0",
                      "edge.sample_rate", "/sample_rate_hz");
  if (config.min_samples < 4)
    return make_error(errc::bad_request, "min_samples must be >= 4", "edge.min_samples",
                      "/min_samples");
  if (config.window_size < config.min_samples)
    return make_error(errc::bad_request,
                      "window size " + std::to_string(config.window_size) +
                          " is below min_samples " + std::to_string(config.min_samples),
                      "edge.window_size", "/window_size");
  for (std::size_t i = 0; i < config.bands.size(); ++i) {
    const auto& b = config.bands[i];
    const std::string path = "/bands/" + std::to_string(i);
    if (!std::isfinite(b.lo_hz) || b.lo_hz < 0.0 || !(b.hi_hz > b.lo_hz))
      return make_error(errc::bad_request, "band must satisfy 0 <= lo < hi", "edge.band",
                        path);
    if (b.lo_hz > fs / 2.0)
      return make_error(errc::bad_request, "band starts above the Nyquist frequency",
                        "edge.band", path);
  }
  feature_extractor fx(std::move(config));
  auto p = fx.plan_for(fx.config_.window_size);
  if (!p)
    return std::move(p).error();
  return fx;
}

expected<feature_extractor::plan_entry*> feature_extractor::plan_for(std::size_t n) {
  if (auto it = plans_.find(n); it != plans_.end())
    return it->second.get();
  std::unique_ptr<plan_entry, plan_deleter> e(new plan_entry{});
  e->n = n;
  {
    std::lock_guard lock(fftw_planner_mutex());
    e->in = fftw_alloc_real(n);
    e->out = fftw_alloc_complex(n / 2 + 1);
    if (e->in && e->out)
      e->plan = fftw_plan_dft_r2c_1d(static_cast<int>(n), e->in, e->out, FFTW_ESTIMATE);
  }
  if (!e->plan)
    return make_error(errc::internal, "FFTW could not plan a transform of " +
                                          std::to_string(n) + " points");
  e->window.assign(n, 1.0);
  if (config_.window == window_function::hann) {
    // Periodic Hann: exact bins leak only into their two neighbours.
    for (std::size_t i = 0; i < n; ++i)
      e->window[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) /
                                          static_cast<double>(n));
  }
  double wp = 0.0;
  for (double w : e->window)
    wp += w * w;
  e->window_power = wp;
  auto* raw = e.get();
  plans_.emplace(n, std::move(e));
  return raw;
}

status feature_extractor::check(std::span<const double> samples) const {
  if (samples.empty())
    return make_error(errc::bad_request, "empty window", "edge.window");
  if (samples.size() < config_.min_samples)
    return make_error(errc::bad_request,
                      "window of " + std::to_string(samples.size()) +
                          " samples is shorter than min_samples " +
                          std::to_string(config_.min_samples),
                      "edge.window");
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (!std::isfinite(samples[i]))
      return make_error(errc::bad_request, "non-finite sample at index " + std::to_string(i),
                        "edge.window", "/" + std::to_string(i));
  return ok();
}

expected<std::vector<double>>
feature_extractor::spectrum_unchecked(std::span<const double> samples) {
  const std::size_t n = samples.size();
  auto pe = plan_for(n);
  if (!pe)
    return std::move(pe).error();
  plan_entry& e = **pe;
  for (std::size_t i = 0; i < n; ++i)
    e.in[i] = samples[i] * e.window[i];
  fftw_execute(e.plan);
  const std::size_t bins = n / 2 + 1;
  std::vector<double> p(bins);
  const double scale = 1.0 / (static_cast<double>(n) * e.window_power);
  for (std::size_t k = 0; k < bins; ++k) {
    const double re = e.out[k][0], im = e.out[k][1];
    const bool single = k == 0 || (n % 2 == 0 && k == n / 2);
    p[k] = (single ? 1.0 : 2.0) * (re * re + im * im) * scale;
  }
  return p;
}

expected<std::vector<double>> feature_extractor::power_spectrum(std::span<const double> samples) {
  if (auto s = check(samples); !s)
    return std::move(s).error();
  return spectrum_unchecked(samples);
}

expected<features> feature_extractor::compute(std::span<const double> samples) {
  if (auto s = check(samples); !s)
    return std::move(s).error();
  const std::size_t n = samples.size();
  const double dn = static_cast<double>(n);
  features f;
  f.samples = n;

  double sum = 0.0, sumsq = 0.0, peak = 0.0;
  for (double x : samples) {
    sum += x;
    sumsq += x * x;
    peak = std::max(peak, std::abs(x));
  }
  f.mean = sum / dn;
  f.rms = std::sqrt(sumsq / dn);
  f.peak = peak;
  f.crest_factor = f.rms > 0.0 ? peak / f.rms : 0.0;

  // Second pass about the mean: numerically sound for signals with large DC.
  double m2 = 0.0, m4 = 0.0;
  for (double x : samples) {
    const double d = x - f.mean;
    const double d2 = d * d;
    m2 += d2;
    m4 += d2 * d2;
  }
  m2 /= dn;
  m4 /= dn;
  f.kurtosis = m2 > 0.0 ? m4 / (m2 * m2) : 0.0;

  if (!config_.bands.empty()) {
    auto spec = spectrum_unchecked(samples);
    if (!spec)
      return std::move(spec).error();
    const auto& p = *spec;
    const double df = config_.sample_rate_hz / dn;
    f.band_energy.assign(config_.bands.size(), 0.0);
    for (std::size_t b = 0; b < config_.bands.size(); ++b) {
      const auto& bd = config_.bands[b];
      // Bins k with lo <= k*df < hi.
      auto k0 = static_cast<std::size_t>(std::ceil(bd.lo_hz / df));
      if (k0 > 0)
        --k0; // guard against rounding; the exact test is below
      double e = 0.0;
      for (std::size_t k = k0; k < p.size(); ++k) {
        const double fk = static_cast<double>(k) * df;
        if (fk >= bd.hi_hz)
          break;
        if (fk >= bd.lo_hz)
          e += p[k];
      }
      f.band_energy[b] = e;
    }
  }
  return f;
}

expected<feature_stream> feature_stream::create(extractor_config config, std::size_t hop) {
  if (hop == 0)
    return make_error(errc::bad_request, "hop must be > 0", "edge.hop", "/hop");
  auto fx = feature_extractor::create(std::move(config));
  if (!fx)
    return std::move(fx).error();
  return feature_stream(std::move(fx).value(), hop);
}

expected<std::vector<features>> feature_stream::push(std::span<const double> samples) {
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (!std::isfinite(samples[i]))
      return make_error(errc::bad_request, "non-finite sample at index " + std::to_string(i),
                        "edge.window", "/" + std::to_string(i));
  std::vector<features> out;
  const std::size_t window = fx_.config().window_size;
  std::size_t pos = 0;
  while (pos < samples.size()) {
    if (skip_ > 0) { // hop > window: drop the gap between windows
      const std::size_t n = std::min(skip_, samples.size() - pos);
      skip_ -= n;
      pos += n;
      continue;
    }
    const std::size_t take = std::min(samples.size() - pos, window - buffer_.size());
    buffer_.insert(buffer_.end(), samples.begin() + static_cast<std::ptrdiff_t>(pos),
                   samples.begin() + static_cast<std::ptrdiff_t>(pos + take));
    pos += take;
    if (buffer_.size() == window) {
      auto f = fx_.compute(buffer_);
      if (!f)
        return std::move(f).error();
      out.push_back(std::move(f).value());
      if (hop_ >= window) {
        buffer_.clear();
        skip_ = hop_ - window;
      } else { // keep the overlap
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(hop_));
      }
    }
  }
  return out;
}

} // namespace twin::edge
