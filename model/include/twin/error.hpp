#pragma once
// The fabric's error type and result wrapper. See docs/adr/0002-error-type.md
// for why this is not caf::error: a rejection must carry a stable code, a
// human message, the rule it broke and the JSON path where, and map 1:1 onto
// an HTTP problem+json document.

#include <cassert>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace twin {

/// Stable error codes of the whole fabric. The string form (to_string) is
/// part of the public REST API (`code` in problem+json): never rename.
enum class errc {
  /// A request or document is malformed (bad JSON, missing field).
  bad_request,
  /// No credentials, or credentials that are not valid.
  unauthorized,
  /// Valid credentials whose roles do not allow the action.
  forbidden,
  /// The named twin, model or record does not exist.
  not_found,
  /// The entity exists already (create of an existing twin or model).
  already_exists,
  /// A value or document violates its DTDL model (or DTDL itself).
  model_violation,
  /// The twin's lifecycle forbids the command (e.g. a write to a retired twin).
  lifecycle_forbidden,
  /// An illegal lifecycle transition was requested.
  illegal_transition,
  /// `If-Match` named a revision that is not the current one.
  revision_mismatch,
  /// The model is referenced by twins and cannot be deleted.
  model_in_use,
  /// A behaviour (FMU / ML binding, trained model) was written for another
  /// model DTMI version than the twin's, and refuses to run against it.
  binding_model_mismatch,
  /// The storage layer failed (I/O error, disk full); retryable.
  storage_failure,
  /// Stored bytes do not decode or a hash chain is broken.
  corruption,
  /// The node is shutting down or overloaded; retryable.
  unavailable,
  /// An invariant broke inside the fabric.
  internal,
};

/// The stable string form of a code, e.g. "model_violation".
std::string_view to_string(errc code) noexcept;

inline std::ostream& operator<<(std::ostream& os, errc code) {
  return os << to_string(code);
}

/// The HTTP status a code maps to (400, 401, 403, 404, 409, 422, 500, 503).
int http_status(errc code) noexcept;

/// An error: a code, a message for humans, and optionally the rule that was
/// broken and the JSON path (RFC 6901 pointer) where.
struct error {
  errc code = errc::internal;
  std::string message;
  std::string rule;
  std::string path;
  /// Where it came from when several inputs were checked together (e.g. the
  /// document of a model upload); empty otherwise.
  std::string source;
  /// Every individual error when this one summarizes several (a model set
  /// with errors in several documents); empty otherwise.
  std::vector<error> errors;

  /// "code: message [rule at path]", for logs and CLI output.
  std::string describe() const;
};

inline error make_error(errc code, std::string message, std::string rule = {},
                        std::string path = {}) {
  return error{code, std::move(message), std::move(rule), std::move(path), {}, {}};
}

/// A value or an error. Deliberately small: `if (!r) return r.error();`.
template <class T>
class [[nodiscard]] expected {
public:
  expected(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  expected(twin::error err) : data_(std::in_place_index<1>, std::move(err)) {}

  explicit operator bool() const noexcept { return data_.index() == 0; }
  bool has_value() const noexcept { return data_.index() == 0; }

  T& value() & { assert(has_value()); return std::get<0>(data_); }
  const T& value() const& { assert(has_value()); return std::get<0>(data_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const twin::error& error() const& { assert(!has_value()); return std::get<1>(data_); }
  twin::error&& error() && { assert(!has_value()); return std::get<1>(std::move(data_)); }

private:
  std::variant<T, twin::error> data_;
};

/// Prints "ok" or the error (for logs and test failure messages).
template <class T>
std::ostream& operator<<(std::ostream& os, const expected<T>& x) {
  if (x)
    return os << "ok";
  return os << x.error().describe();
}

/// Success or an error, for operations without a value.
struct ok_t {};
using status = expected<ok_t>;
inline status ok() { return ok_t{}; }

} // namespace twin
