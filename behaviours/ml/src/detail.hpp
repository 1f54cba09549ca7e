#pragma once
// Internal helpers of twin_ml: error construction, JSON field readers with
// JSON-pointer paths, and the small dense linear algebra the models need.

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"

namespace twin::ml::detail {

/// "/" + s (a JSON pointer step), written so that GCC 12 at -O3 does not
/// raise its -Wrestrict false positive on `"/" + std::string&&`.
inline std::string slash(std::string_view s) {
  std::string p;
  p.reserve(s.size() + 1);
  p += '/';
  p += s;
  return p;
}

/// 'name' in quotes (same -Wrestrict workaround as slash()).
inline std::string quoted(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '\'';
  q += s;
  q += '\'';
  return q;
}

inline error bad(std::string message, std::string rule, std::string path = {}) {
  return make_error(errc::bad_request, std::move(message), std::move(rule),
                    std::move(path));
}

inline error bad_json(std::string message, std::string path) {
  return bad(std::move(message), "ml.model-json", std::move(path));
}

/// A finite number at `obj[key]`.
inline expected<double> get_number(const nlohmann::json& obj, std::string_view key) {
  const std::string path = slash(key);
  auto it = obj.find(key);
  if (it == obj.end())
    return bad_json("missing field '" + std::string{key} + "'", path);
  if (!it->is_number())
    return bad_json(quoted(key) + " must be a number", path);
  const double v = it->get<double>();
  if (!std::isfinite(v))
    return bad_json(quoted(key) + " must be finite", path);
  return v;
}

/// A non-negative integer at `obj[key]`.
inline expected<std::size_t> get_count(const nlohmann::json& obj, std::string_view key) {
  const std::string path = slash(key);
  auto it = obj.find(key);
  if (it == obj.end())
    return bad_json("missing field '" + std::string{key} + "'", path);
  if (!it->is_number_unsigned())
    return bad_json(quoted(key) + " must be a non-negative integer", path);
  return it->get<std::size_t>();
}

inline expected<std::string> get_string(const nlohmann::json& obj, std::string_view key) {
  const std::string path = slash(key);
  auto it = obj.find(key);
  if (it == obj.end())
    return bad_json("missing field '" + std::string{key} + "'", path);
  if (!it->is_string())
    return bad_json(quoted(key) + " must be a string", path);
  return it->get<std::string>();
}

/// An array of `size` finite numbers at `obj[key]`.
inline expected<std::vector<double>> get_numbers(const nlohmann::json& obj,
                                                 std::string_view key, std::size_t size) {
  const std::string path = slash(key);
  auto it = obj.find(key);
  if (it == obj.end())
    return bad_json("missing field '" + std::string{key} + "'", path);
  if (!it->is_array() || it->size() != size)
    return bad_json(quoted(key) + " must be an array of " + std::to_string(size)
                      + " numbers",
                    path);
  std::vector<double> out;
  out.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    const auto& v = (*it)[i];
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      return bad_json(quoted(key) + " must hold finite numbers",
                      path + "/" + std::to_string(i));
    out.push_back(v.get<double>());
  }
  return out;
}

/// In-place Cholesky of a symmetric p x p row-major matrix into its lower
/// factor L (upper triangle zeroed). False if not positive definite.
inline bool cholesky(std::vector<double>& a, std::size_t p) {
  for (std::size_t j = 0; j < p; ++j) {
    double d = a[j * p + j];
    for (std::size_t k = 0; k < j; ++k)
      d -= a[j * p + k] * a[j * p + k];
    if (!(d > 0.0) || !std::isfinite(d))
      return false;
    const double ljj = std::sqrt(d);
    a[j * p + j] = ljj;
    for (std::size_t i = j + 1; i < p; ++i) {
      double s = a[i * p + j];
      for (std::size_t k = 0; k < j; ++k)
        s -= a[i * p + k] * a[j * p + k];
      a[i * p + j] = s / ljj;
    }
    for (std::size_t k = j + 1; k < p; ++k)
      a[j * p + k] = 0.0;
  }
  return true;
}

/// |L^-1 z|^2 for the lower factor L (forward substitution); `work` holds p
/// doubles and is overwritten.
inline double solve_norm2(const double* l, std::size_t p, const double* z, double* work) {
  double sum = 0.0;
  for (std::size_t i = 0; i < p; ++i) {
    double s = z[i];
    const double* row = l + i * p;
    for (std::size_t k = 0; k < i; ++k)
      s -= row[k] * work[k];
    s /= row[i];
    work[i] = s;
    sum += s * s;
  }
  return sum;
}

/// The inverse of a lower-triangular p x p factor (lower triangular too).
inline std::vector<double> invert_lower(const std::vector<double>& l, std::size_t p) {
  std::vector<double> w(p * p, 0.0);
  for (std::size_t c = 0; c < p; ++c) {
    // Solve L x = e_c; x is column c of L^-1 (zero above row c).
    for (std::size_t i = c; i < p; ++i) {
      double s = i == c ? 1.0 : 0.0;
      for (std::size_t k = c; k < i; ++k)
        s -= l[i * p + k] * w[k * p + c];
      w[i * p + c] = s / l[i * p + i];
    }
  }
  return w;
}

} // namespace twin::ml::detail
