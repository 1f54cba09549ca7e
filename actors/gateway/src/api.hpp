#pragma once
// The REST API without the transport: routing, URL decoding, query strings,
// authentication, If-Match parsing and the mapping of fabric results onto
// HTTP responses (problem+json for errors). No Boost.Beast here, so this is
// quick to compile and unit-testable without sockets.
//
// Thread-safety: `api` is immutable after construction; handle() may run on
// any number of io threads at once. The `done` callbacks it hands to the
// fabric run on fabric threads; the transport hops back to its strand.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/actors/fabric.hpp"
#include "twin/error.hpp"
#include "twin/security/auth.hpp"

namespace twin::gateway::detail {

using json = nlohmann::json;

/// A request as the transport hands it over.
struct request {
  std::string method;        ///< "GET", "PUT", ...
  std::string target;        ///< raw request target: path and query
  std::string authorization; ///< Authorization header, may be empty
  std::string request_id;    ///< chosen request id (choose_request_id)
  std::string if_match;      ///< If-Match header, may be empty
  bool has_if_match = false;
  std::string body;
};

/// A complete response.
struct response {
  int status = 200;
  std::string content_type;  ///< empty: no Content-Type (e.g. 204)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; ///< extra headers
};

/// What handle() decided.
struct outcome {
  /// Route template for metrics labels, e.g. "/api/v1/twins/{id}".
  std::string route;
  /// Set: answer with this now, `done` is never called.
  std::optional<response> now;
  /// Set: an authenticated event stream request; the transport subscribes.
  std::optional<actors::request_context> stream;
  // Neither set: `done` will be called exactly once, on some thread.
};

/// Static files: the dashboard and the OpenAPI document.
class asset_source {
public:
  virtual ~asset_source() = default;
  /// The file `name` ("index.html", "app.js", "openapi.json", ...), or none.
  virtual std::optional<std::string> find(std::string_view name) const = 0;
};

/// Embedded assets (generated at build time), with an optional directory
/// that overrides the UI files.
std::unique_ptr<asset_source> make_asset_source(std::string ui_directory);

/// A generated request id: 32 hex characters.
std::string generate_request_id();

/// The client's X-Request-Id if it is usable (1..128 visible ASCII
/// characters), else a generated one.
std::string choose_request_id(std::string_view header);

// -- pure helpers (exposed for tests) ----------------------------------------

/// Percent-decodes `s`; with `plus_is_space`, '+' becomes ' ' (query
/// strings). Returns none on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s,
                                          bool plus_is_space);

/// Splits and decodes a query string ("a=1&b=x%20y"). Later keys win.
std::optional<std::map<std::string, std::string>>
parse_query(std::string_view query);

/// Parses an If-Match value: `7`, `"7"` or `W/"7"`; `*` gives none (no
/// condition). Errors: bad_request.
expected<std::optional<std::uint64_t>> parse_if_match(std::string_view value);

/// The problem+json body of an error for the request path `instance`.
json problem(const error& e, std::string_view instance, int status = 0);

/// A problem+json response.
response problem_response(const error& e, std::string_view instance,
                          int status = 0);

/// The reason phrase of an HTTP status ("Unprocessable Content").
std::string_view reason_phrase(int status) noexcept;

/// The MIME type for a file name by extension.
std::string_view mime_type(std::string_view name) noexcept;

class api {
public:
  using done_fn = std::function<void(response)>;

  api(actors::fabric& fabric, const security::token_table& tokens,
      std::unique_ptr<asset_source> assets);

  /// Routes and starts handling `req`; see `outcome`.
  outcome handle(const request& req, done_fn done) const;

  /// The response to a body over the limit (413), for `target`.
  static response too_large(std::string_view target, std::size_t limit);

  actors::fabric& fabric() const noexcept { return fabric_; }

private:
  actors::fabric& fabric_;
  const security::token_table& tokens_;
  std::unique_ptr<asset_source> assets_;
};

} // namespace twin::gateway::detail
