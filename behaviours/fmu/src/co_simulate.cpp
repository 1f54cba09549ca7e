#include "twin/fmu/co_simulate.hpp"

#include <cmath>
#include <cstdlib>

namespace twin::fmu {

namespace {

constexpr const char* rule = "fmu.run";

std::vector<std::string> split(std::string_view line) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    auto next = line.find(',', pos);
    auto field = line.substr(pos, next == std::string_view::npos ? line.npos : next - pos);
    while (!field.empty() && (field.front() == ' ' || field.front() == '\t'))
      field.remove_prefix(1);
    while (!field.empty() && (field.back() == ' ' || field.back() == '\t' || field.back() == '\r'))
      field.remove_suffix(1);
    out.emplace_back(field);
    if (next == std::string_view::npos)
      break;
    pos = next + 1;
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos)
    return s;
  std::string q = "\"";
  for (char c : s)
    q += c == '"' ? std::string{"\"\""} : std::string(1, c);
  return q + "\"";
}

} // namespace

expected<input_table> parse_input_csv(std::string_view text) {
  input_table t;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    auto line = text.substr(pos, end == std::string_view::npos ? text.npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    if (line.empty() || line == "\r" || line.front() == '#')
      continue;
    auto fields = split(line);
    if (t.columns.empty()) {
      if (fields.empty() || fields.front() != "time")
        return make_error(errc::bad_request,
                          "input CSV line " + std::to_string(line_no)
                            + ": the first column must be named time",
                          rule);
      t.columns.assign(fields.begin() + 1, fields.end());
      continue;
    }
    if (fields.size() != t.columns.size() + 1)
      return make_error(errc::bad_request,
                        "input CSV line " + std::to_string(line_no) + ": "
                          + std::to_string(fields.size()) + " fields, expected "
                          + std::to_string(t.columns.size() + 1),
                        rule);
    char* e = nullptr;
    double time = std::strtod(fields[0].c_str(), &e);
    if (fields[0].empty() || *e != '\0' || !std::isfinite(time))
      return make_error(errc::bad_request,
                        "input CSV line " + std::to_string(line_no) + ": time \"" + fields[0]
                          + "\" is not a number",
                        rule);
    if (!t.times.empty() && time < t.times.back())
      return make_error(errc::bad_request,
                        "input CSV line " + std::to_string(line_no) + ": time goes backwards",
                        rule);
    t.times.push_back(time);
    t.rows.emplace_back(fields.begin() + 1, fields.end());
  }
  if (t.columns.empty())
    return make_error(errc::bad_request, "input CSV is empty (no header)", rule);
  return t;
}

expected<run_summary> co_simulate(co_simulator& sim, const run_options& o, std::ostream& out) {
  const auto& md = sim.description();
  run_summary r;
  r.start_time = o.start_time.value_or(md.experiment.start_time.value_or(0.0));
  r.stop_time = o.stop_time.value_or(md.experiment.stop_time.value_or(r.start_time + 1.0));
  if (!(r.stop_time > r.start_time))
    return make_error(errc::bad_request,
                      "stop time (" + format_value(r.stop_time) + ") must be after start time ("
                        + format_value(r.start_time) + ")",
                      rule);
  r.step_size = o.step_size.value_or(
    md.experiment.step_size.value_or((r.stop_time - r.start_time) / 100.0));
  if (!(r.step_size > 0) || !std::isfinite(r.step_size))
    return make_error(errc::bad_request, "the step size must be > 0", rule);

  // Resolve input columns before touching the FMU.
  std::vector<const scalar_variable*> in_vars;
  std::vector<value> in_last;
  if (o.inputs) {
    for (const auto& c : o.inputs->columns) {
      const auto* v = md.find(c);
      if (!v)
        return make_error(errc::bad_request, "input CSV column \"" + c
                                               + "\" is not a variable of the model", rule);
      if (v->causality_ != causality::input)
        return make_error(errc::bad_request, "input CSV column \"" + c
                                               + "\" is not an input (it is a "
                                               + std::string{to_string(v->causality_)} + ")",
                          rule);
      in_vars.push_back(v);
    }
    for (std::size_t i = 0; i < o.inputs->rows.size(); ++i)
      for (std::size_t j = 0; j < in_vars.size(); ++j)
        if (auto x = parse_value(in_vars[j]->type, o.inputs->rows[i][j]); !x)
          return make_error(errc::bad_request,
                            "input CSV row at time " + format_value(o.inputs->times[i])
                              + ", column " + in_vars[j]->name + ": " + x.error().message,
                            rule);
  }
  std::size_t row = 0;
  bool have_row = false;
  auto apply_inputs = [&](double t) -> status {
    if (!o.inputs)
      return ok();
    const auto& tab = *o.inputs;
    // Last row at or before t (with a little slack for rounding).
    const double eps = 1e-9 * std::max(1.0, std::abs(t));
    bool moved = false;
    while ((have_row ? row + 1 : row) < tab.times.size()
           && tab.times[have_row ? row + 1 : row] <= t + eps) {
      row = have_row ? row + 1 : row;
      have_row = true;
      moved = true;
    }
    if (!have_row || !moved)
      return ok();
    for (std::size_t j = 0; j < in_vars.size(); ++j) {
      auto x = parse_value(in_vars[j]->type, tab.rows[row][j]);
      if (auto s = sim.set_value(*in_vars[j], *x); !s)
        return s;
    }
    return ok();
  };

  const auto outs = md.outputs();
  out << "time";
  for (const auto* v : outs)
    out << ',' << csv_field(v->name);
  out << '\n';
  auto write_row = [&](double t) -> status {
    std::string line = format_value(t);
    for (const auto* v : outs) {
      auto x = sim.get_value(*v);
      if (!x)
        return std::move(x).error();
      line += ',';
      line += csv_field(format_value(*x));
    }
    out << line << '\n';
    return ok();
  };

  experiment e;
  e.start_time = r.start_time;
  e.stop_time = r.stop_time;
  e.tolerance = md.experiment.tolerance;
  if (auto s = sim.setup(e); !s)
    return std::move(s).error();
  for (const auto& [name, text] : o.sets)
    if (auto s = sim.set_from_text(name, text); !s)
      return std::move(s).error();
  if (auto s = sim.enter_initialization(); !s)
    return std::move(s).error();
  if (auto s = apply_inputs(r.start_time); !s)
    return std::move(s).error();
  if (auto s = sim.exit_initialization(); !s)
    return std::move(s).error();
  if (auto s = write_row(r.start_time); !s)
    return std::move(s).error();

  // t_k = start + k*h (no accumulated drift); the last step may be shorter.
  const double span = r.stop_time - r.start_time;
  const auto n = static_cast<std::size_t>(std::ceil(span / r.step_size - 1e-9));
  double t = r.start_time;
  for (std::size_t k = 1; k <= n; ++k) {
    double next = k == n ? r.stop_time : r.start_time + static_cast<double>(k) * r.step_size;
    if (auto s = apply_inputs(t); !s)
      return std::move(s).error();
    if (auto s = sim.do_step(t, next - t); !s)
      return std::move(s).error();
    ++r.steps;
    t = next;
    if (auto s = write_row(t); !s)
      return std::move(s).error();
  }
  if (auto s = sim.terminate(); !s)
    return std::move(s).error();
  return r;
}

} // namespace twin::fmu
