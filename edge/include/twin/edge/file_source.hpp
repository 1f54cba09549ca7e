#pragma once
// Raw samples from files: CSV (one column, a named column, or a column index)
// and WAV (RIFF; PCM 16-bit and IEEE float 32-bit; any channel count, one
// channel picked). Errors: errc::not_found when the file cannot be opened,
// errc::bad_request (rule "edge.csv" / "edge.wav") when it is malformed.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "twin/error.hpp"

namespace twin::edge {

struct signal {
  std::vector<double> samples;
  /// Known for WAV (from the header); empty for CSV.
  std::optional<double> sample_rate_hz;
};

struct csv_options {
  /// Pick the column with this header name; requires a header row.
  std::string column;
  /// Otherwise, the 0-based column index (default the first).
  std::size_t column_index = 0;
  char delimiter = ',';
};

/// A CSV of numbers. The first row is a header when its selected field is not
/// a number. Blank lines and lines starting with '#' are skipped. Every data
/// row must have the selected column and a finite number in it.
expected<signal> read_csv(const std::filesystem::path& file, const csv_options& options = {});

struct wav_options {
  std::size_t channel = 0; ///< 0-based
};

/// A WAV file. 16-bit PCM is scaled to [-1, 1) (x / 32768); 32-bit float is
/// returned as stored. WAVE_FORMAT_EXTENSIBLE with a PCM/float sub-format is
/// accepted.
expected<signal> read_wav(const std::filesystem::path& file, const wav_options& options = {});

/// By extension: ".wav" (any case) -> read_wav (channel = column_index),
/// anything else -> read_csv.
expected<signal> read_samples(const std::filesystem::path& file, const csv_options& options = {});

} // namespace twin::edge
