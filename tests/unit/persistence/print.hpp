#pragma once
// Lets Boost.Test print the fabric's error codes and results in failure
// messages (found by ADL).

#include <ostream>

#include "twin/error.hpp"

namespace twin {

inline std::ostream& operator<<(std::ostream& os, errc code) {
  return os << to_string(code);
}

template <class T>
std::ostream& operator<<(std::ostream& os, const expected<T>& x) {
  if (x)
    return os << "ok";
  return os << x.error().describe();
}

} // namespace twin
