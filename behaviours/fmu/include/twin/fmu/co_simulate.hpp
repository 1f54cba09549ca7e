#pragma once
// A stand-alone co-simulation run of one FMU (what `twinctl fmu run` does):
// fixed communication step, inputs from a CSV held constant between its
// rows, one CSV row of outputs per communication point including the start.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "twin/fmu/instance.hpp"

namespace twin::fmu {

/// Input time series: a `time` column first, then one column per input
/// variable, rows in non-decreasing time.
struct input_table {
  std::vector<std::string> columns;
  std::vector<double> times;
  /// rows[i][j] is the text of column j + 1 at times[i].
  std::vector<std::vector<std::string>> rows;
};

/// Parses CSV text (comma-separated, first line a header, no quoting).
/// Errors: bad_request naming the line (no `time` first column, a row with
/// the wrong number of fields, a time that is not a number or goes back).
expected<input_table> parse_input_csv(std::string_view text);

struct run_options {
  /// Defaults: the model's DefaultExperiment, else start 0, stop start+1,
  /// step (stop - start) / 100.
  std::optional<double> start_time;
  std::optional<double> stop_time;
  std::optional<double> step_size;
  /// NAME=VALUE settings applied before initialization (parameters, start
  /// values, constant inputs), in order.
  std::vector<std::pair<std::string, std::string>> sets;
  /// Inputs over time; applied at each communication point (zero-order
  /// hold: the last row at or before t). Columns must name input variables.
  std::optional<input_table> inputs;
};

/// What a run did.
struct run_summary {
  double start_time = 0;
  double stop_time = 0;
  double step_size = 0;
  /// doStep calls made.
  std::size_t steps = 0;
};

/// Drives `sim` (freshly instantiated) through setup, the settings,
/// initialization, the steps and terminate, writing a CSV to `out` with a
/// `time` column and one column per output variable (document order).
/// Errors: bad_request for bad options (stop <= start, step <= 0, an
/// unknown or non-input column, a bad --set), and any error of the FMU
/// (the run stops at the first; the rows so far are written).
expected<run_summary> co_simulate(co_simulator& sim, const run_options& o, std::ostream& out);

} // namespace twin::fmu
