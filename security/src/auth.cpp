// Bearer-token authentication and the role table. See auth.hpp.

#include "twin/security/auth.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace twin::security {

std::string_view to_string(role r) noexcept {
  switch (r) {
    case role::viewer: return "viewer";
    case role::operator_: return "operator";
    case role::admin: return "admin";
  }
  return "unknown";
}

std::string_view to_string(action a) noexcept {
  switch (a) {
    case action::read: return "read";
    case action::write: return "write";
    case action::ingest: return "ingest";
    case action::lifecycle: return "lifecycle";
    case action::manage_models: return "manage_models";
    case action::audit: return "audit";
    case action::admin: return "admin";
  }
  return "unknown";
}

bool principal::has(role r) const noexcept {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

namespace {

// The roles that allow `a`, in ascending order of privilege. This is the
// whole role table: admin allows everything, operator the day-to-day work,
// viewer only reads.
std::vector<role> roles_allowing(action a) {
  switch (a) {
    case action::read: return {role::viewer, role::operator_, role::admin};
    case action::write:
    case action::ingest:
    case action::lifecycle: return {role::operator_, role::admin};
    case action::manage_models:
    case action::audit:
    case action::admin: return {role::admin};
  }
  return {role::admin};
}

std::string join_roles(const std::vector<role>& roles) {
  std::string out;
  for (auto r : roles) {
    if (!out.empty())
      out += ", ";
    out += to_string(r);
  }
  return out.empty() ? std::string{"none"} : out;
}

std::optional<role> parse_role(std::string_view s) {
  if (s == "viewer")
    return role::viewer;
  if (s == "operator")
    return role::operator_;
  if (s == "admin")
    return role::admin;
  return std::nullopt;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i]))
      ++i;
    std::size_t start = i;
    while (i < line.size() && !is_space(line[i]))
      ++i;
    if (i > start)
      out.push_back(line.substr(start, i - start));
  }
  return out;
}

error line_error(std::size_t line_no, const std::string& what) {
  return make_error(errc::bad_request,
                    "token file line " + std::to_string(line_no) + ": " + what,
                    "token_file");
}

} // namespace

status authorize(const principal& who, action what) {
  auto allowed = roles_allowing(what);
  for (auto r : allowed)
    if (who.has(r))
      return ok();
  return make_error(errc::forbidden,
                    "principal '" + who.name + "' (roles: "
                      + join_roles(who.roles) + ") may not perform '"
                      + std::string{to_string(what)} + "'; it requires one of: "
                      + join_roles(allowed),
                    "authorize");
}

expected<token_table> token_table::parse(std::string_view text) {
  token_table result;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    auto line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos
                                                              : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    auto fields = split_fields(line);
    if (fields.empty() || fields.front().front() == '#')
      continue;
    if (fields.size() < 3)
      return line_error(line_no,
                        "missing fields: expected 'TOKEN PRINCIPAL ROLE[,ROLE...]'");
    if (fields.size() > 3)
      return line_error(line_no, "unexpected field '" + std::string{fields[3]}
                                   + "' after the roles");
    auto token = fields[0];
    if (token.size() < 16)
      return line_error(line_no, "token is shorter than 16 characters");
    principal p;
    p.name = std::string{fields[1]};
    std::string_view roles = fields[2];
    std::size_t rpos = 0;
    while (rpos <= roles.size()) {
      auto comma = roles.find(',', rpos);
      auto name = roles.substr(rpos, comma == std::string_view::npos
                                       ? std::string_view::npos
                                       : comma - rpos);
      rpos = comma == std::string_view::npos ? roles.size() + 1 : comma + 1;
      auto r = parse_role(name);
      if (!r)
        return line_error(line_no, "unknown role '" + std::string{name}
                                     + "' (known: viewer, operator, admin)");
      if (!p.has(*r))
        p.roles.push_back(*r);
    }
    auto [it, inserted] = result.tokens_.emplace(std::string{token}, std::move(p));
    if (!inserted)
      return line_error(line_no, "duplicate token (already given to '"
                                   + it->second.name + "')");
  }
  return result;
}

expected<token_table> token_table::load(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::storage_failure,
                      "cannot read token file " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return make_error(errc::storage_failure,
                      "error while reading token file " + path);
  auto parsed = parse(buf.str());
  if (!parsed) {
    auto err = std::move(parsed).error();
    err.message = path + ": " + err.message;
    return err;
  }
  return parsed;
}

expected<principal> token_table::authenticate(std::string_view token) const {
  // Walk every candidate and compare each in constant time, so that neither
  // the hash table lookup nor an early exit reveals how much of a token was
  // right.
  const principal* found = nullptr;
  for (const auto& [candidate, who] : tokens_) {
    if (candidate.size() != token.size())
      continue;
    if (CRYPTO_memcmp(candidate.data(), token.data(), token.size()) == 0)
      found = &who;
  }
  if (found == nullptr)
    return make_error(errc::unauthorized, "unknown or invalid bearer token");
  return *found;
}

std::string generate_token() {
  std::array<unsigned char, 16> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("RAND_bytes failed: no entropy for a token");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (auto b : raw) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 0x0f]);
  }
  return out;
}

} // namespace twin::security
