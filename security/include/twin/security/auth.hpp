#pragma once
// Authentication (bearer tokens from a token file) and authorization (roles
// -> actions). Pure functions and immutable values; designed so that JWT/OIDC
// principals and attribute policies can be added behind the same `principal`
// and `authorize` shapes.
//
// CONTRACT: actors/ and cli/ use exactly the declarations below. They may be
// extended, not changed.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "twin/error.hpp"

namespace twin::security {

enum class role { viewer, operator_, admin };

/// "viewer", "operator", "admin".
std::string_view to_string(role r) noexcept;

/// An authenticated caller.
struct principal {
  std::string name;
  std::vector<role> roles;
  bool has(role r) const noexcept;
};

/// What a request wants to do.
enum class action {
  read,            ///< any GET on twins, models, lineage, history, events
  write,           ///< PATCH properties, create twins
  ingest,          ///< telemetry / device-reported values
  lifecycle,       ///< lifecycle transitions
  manage_models,   ///< upload / delete models
  audit,           ///< read and verify the audit log
  admin,           ///< everything else administrative
};

std::string_view to_string(action a) noexcept;

/// The role table: viewer: read. operator: read, write, ingest, lifecycle.
/// admin: everything. Returns forbidden with a message naming the principal,
/// the action and the roles that would allow it.
status authorize(const principal& who, action what);

/// Tokens loaded from a token file: one token a line,
/// `TOKEN PRINCIPAL ROLE[,ROLE...]`; blank lines and `#` comments ignored.
class token_table {
public:
  /// Parses the file's text. Errors (bad_request) name the line number:
  /// missing fields, unknown role, duplicate token, token shorter than 16
  /// characters.
  static expected<token_table> parse(std::string_view text);

  /// Reads and parses a file (storage_failure if unreadable).
  static expected<token_table> load(const std::string& path);

  /// The principal for a bearer token, or unauthorized. Compares in
  /// constant time per candidate.
  expected<principal> authenticate(std::string_view token) const;

  std::size_t size() const noexcept { return tokens_.size(); }

private:
  std::unordered_map<std::string, principal> tokens_;
};

/// A random token of 32 hex characters from OpenSSL's RAND_bytes.
std::string generate_token();

} // namespace twin::security
