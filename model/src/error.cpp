#include "twin/error.hpp"
#include "twin/ids.hpp"

namespace twin {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::bad_request: return "bad_request";
    case errc::unauthorized: return "unauthorized";
    case errc::forbidden: return "forbidden";
    case errc::not_found: return "not_found";
    case errc::already_exists: return "already_exists";
    case errc::model_violation: return "model_violation";
    case errc::lifecycle_forbidden: return "lifecycle_forbidden";
    case errc::illegal_transition: return "illegal_transition";
    case errc::revision_mismatch: return "revision_mismatch";
    case errc::model_in_use: return "model_in_use";
    case errc::binding_model_mismatch: return "binding_model_mismatch";
    case errc::storage_failure: return "storage_failure";
    case errc::corruption: return "corruption";
    case errc::unavailable: return "unavailable";
    case errc::internal: return "internal";
  }
  return "internal";
}

int http_status(errc code) noexcept {
  switch (code) {
    case errc::bad_request: return 400;
    case errc::unauthorized: return 401;
    case errc::forbidden: return 403;
    case errc::not_found: return 404;
    case errc::already_exists:
    case errc::lifecycle_forbidden:
    case errc::illegal_transition:
    case errc::revision_mismatch:
    case errc::model_in_use:
    case errc::binding_model_mismatch: return 409;
    case errc::model_violation: return 422;
    case errc::storage_failure:
    case errc::unavailable: return 503;
    case errc::corruption:
    case errc::internal: return 500;
  }
  return 500;
}

std::string error::describe() const {
  std::string out{to_string(code)};
  out += ": ";
  out += message;
  if (!rule.empty() || !path.empty()) {
    out += " [";
    out += rule.empty() ? "?" : rule;
    if (!path.empty()) {
      out += " at ";
      out += path;
    }
    out += "]";
  }
  return out;
}

bool is_valid_twin_id(const std::string& s) noexcept {
  if (s.empty() || s.size() > 128 || s[0] == '.' || s[0] == '-')
    return false;
  for (char c : s) {
    bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
               || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':'
               || c == '-';
    if (!okc)
      return false;
  }
  return true;
}

} // namespace twin
