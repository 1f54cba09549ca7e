#pragma once
// Sparkplug metrics as edges send them, for the sparkplug unit suites.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "twin/sparkplug/payload.hpp"

namespace twin::sparkplug::test {

/// A BIRTH metric: name, datatype, value and (optionally) an alias.
inline metric born(std::string name, data_type t, metric_value v,
                   std::optional<std::uint64_t> alias = {}) {
  metric m;
  m.name = std::move(name);
  m.datatype = t;
  m.value = std::move(v);
  m.alias = alias;
  return m;
}

/// A DATA metric as edges send it: alias only, no name, no datatype.
inline metric by_alias(std::uint64_t alias, metric_value v) {
  metric m;
  m.alias = alias;
  m.value = std::move(v);
  return m;
}

} // namespace twin::sparkplug::test
