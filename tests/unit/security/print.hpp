#pragma once
// Lets Boost.Test print the fabric's results in failure messages (found by
// ADL; error.hpp already prints errc).

#include <ostream>

#include "twin/error.hpp"

namespace twin {

template <class T>
std::ostream& operator<<(std::ostream& os, const expected<T>& x) {
  if (x)
    return os << "ok";
  return os << x.error().describe();
}

} // namespace twin
