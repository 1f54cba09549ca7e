#include "twin/behaviours/logic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace twin::behaviours {

input_tracker::input_tracker(std::vector<std::string> watched, std::vector<std::string> required)
  : watched_(std::move(watched)), required_(std::move(required)) {}

bool input_tracker::observe(const std::string& name, const nlohmann::json& value,
                            std::uint64_t revision, std::int64_t time_ms) {
  if (std::find(watched_.begin(), watched_.end(), name) == watched_.end())
    return false;
  if (value.is_null()) {
    values_.erase(name);
    return true;
  }
  values_[name] = input_value{value, revision, time_ms};
  return true;
}

bool input_tracker::ready() const {
  return std::all_of(required_.begin(), required_.end(),
                     [&](const std::string& n) { return values_.count(n) != 0; });
}

std::vector<std::string> input_tracker::missing() const {
  std::vector<std::string> out;
  for (auto& n : required_)
    if (!values_.count(n))
      out.push_back(n);
  return out;
}

const input_value* input_tracker::get(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

bool triggers(const trigger_spec& trigger, const std::vector<std::string>& updated) {
  if (trigger.on != trigger_spec::mode::update)
    return false;
  for (auto& u : updated)
    if (std::find(trigger.names.begin(), trigger.names.end(), u) != trigger.names.end())
      return true;
  return false;
}

step_plan plan_steps(double span, double step, int max_steps) {
  if (!(span > 0) || !(step > 0) || !std::isfinite(span))
    return {};
  double n = std::ceil(span / step - 1e-9);
  if (n < 1)
    n = 1;
  if (n > max_steps)
    n = max_steps;
  int k = static_cast<int>(n);
  return {k, span / k};
}

level_alarm::level_alarm(direction d, double level, double critical_level, double hysteresis)
  : dir_(d), level_(level), critical_(critical_level), hysteresis_(hysteresis) {}

bool level_alarm::beyond(double v, double level) const noexcept {
  return dir_ == direction::falling ? v < level : v > level;
}

std::optional<std::string> level_alarm::update(std::optional<double> value) {
  if (!value || !std::isfinite(*value)) {
    raised_ = 0;
    return std::nullopt;
  }
  double v = *value;
  double rearm = dir_ == direction::falling ? level_ * (1 + hysteresis_)
                                            : level_ * (1 - hysteresis_);
  if (raised_ != 0) {
    bool back = dir_ == direction::falling ? v > rearm : v < rearm;
    if (back) {
      raised_ = 0;
      return std::nullopt;
    }
    if (raised_ == 1 && beyond(v, critical_)) {
      raised_ = 2;
      return std::string{"critical"};
    }
    return std::nullopt;
  }
  if (!beyond(v, level_))
    return std::nullopt;
  if (beyond(v, critical_)) {
    raised_ = 2;
    return std::string{"critical"};
  }
  raised_ = 1;
  return std::string{"warning"};
}

std::optional<std::int64_t> parse_time_ms(const std::string& text) {
  if (text.empty())
    return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    try {
      return std::stoll(text);
    } catch (...) {
      return std::nullopt;
    }
  }
  int y, mo, d, h, mi;
  double s;
  int n = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &s, &n) != 6)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = 0;
  std::int64_t secs = timegm(&tm);
  std::int64_t ms = secs * 1000 + static_cast<std::int64_t>(std::llround(s * 1000.0));
  std::string rest = text.substr(static_cast<std::size_t>(n));
  if (rest == "Z" || rest == "z" || rest.empty())
    return ms;
  int oh = 0, om = 0;
  char sign = rest[0];
  if ((sign == '+' || sign == '-') && std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) == 2) {
    std::int64_t off = (oh * 60 + om) * 60'000LL;
    return sign == '+' ? ms - off : ms + off;
  }
  return std::nullopt;
}

std::string format_time_ms(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int rem = static_cast<int>(ms - static_cast<std::int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rem);
  return buf;
}

nlohmann::json event_values(const nlohmann::json& event) {
  nlohmann::json out = nlohmann::json::object();
  if (!event.is_object())
    return out;
  for (const char* key : {"changes", "telemetry"})
    if (auto it = event.find(key); it != event.end() && it->is_object())
      for (auto& [k, v] : it->items())
        out[k] = v;
  return out;
}

} // namespace twin::behaviours
