#pragma once
// Strong identifier types: a twin_id cannot be passed where a dtmi is
// expected (Redpanda's named_type idea, kept minimal).

#include <compare>
#include <functional>
#include <ostream>
#include <string>
#include <utility>

namespace twin {

/// A value of type T that is distinct, as a type, for every Tag.
template <class T, class Tag>
class named_type {
public:
  using value_type = T;
  named_type() = default;
  explicit named_type(T v) : value_(std::move(v)) {}
  const T& value() const noexcept { return value_; }
  T& value() noexcept { return value_; }
  auto operator<=>(const named_type&) const = default;
  bool operator==(const named_type&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const named_type& x) {
    return os << x.value_;
  }

private:
  T value_{};
};

/// Identifier of a twin: 1..128 characters of [A-Za-z0-9._:-]
/// (see is_valid_twin_id).
using twin_id = named_type<std::string, struct twin_id_tag>;

/// Identifier of a principal (a human, a service or a device).
using principal_id = named_type<std::string, struct principal_id_tag>;

/// True if `s` is a valid twin id: 1..128 chars of [A-Za-z0-9._:-], not
/// starting with '.' or '-'.
bool is_valid_twin_id(const std::string& s) noexcept;

} // namespace twin

template <class T, class Tag>
struct std::hash<twin::named_type<T, Tag>> {
  size_t operator()(const twin::named_type<T, Tag>& x) const noexcept {
    return std::hash<T>{}(x.value());
  }
};
