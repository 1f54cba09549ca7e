#pragma once
// A small synchronous HTTP/1.1 client over Boost.Beast: one persistent
// (keep-alive) connection per client object, optional TLS, a deadline per
// request. Used by twinctl and by the integration tests.
//
// Threads: a `client` (and an `event_stream`) is owned by one thread at a
// time; it is not safe to share one object between threads. Make one client
// per thread instead (they are cheap; each holds one connection).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"

namespace twin::http {

/// A parsed base URL: `http[s]://HOST[:PORT][/PREFIX]`.
struct url {
  /// "http" or "https".
  std::string scheme = "http";
  std::string host;
  /// Defaults to 80 / 443 by scheme.
  std::string port;
  /// Path prefix without trailing '/', e.g. "" or "/twin".
  std::string prefix;

  bool tls() const noexcept { return scheme == "https"; }
  /// "scheme://host:port" + prefix.
  std::string to_string() const;

  /// Parses `text`. Errors: bad_request ("unsupported URL scheme",
  /// "missing host", "bad port").
  static expected<url> parse(std::string_view text);
};

/// Percent-encodes one path segment (keeps RFC 3986 unreserved characters
/// and ':', ';', '@', ',' which are legal in a segment, e.g. a DTMI).
std::string encode_path_segment(std::string_view s);

/// Percent-encodes a query parameter name or value (keeps unreserved
/// characters and ':', ';', '@', ','; encodes '+', '&', '=', '#', ...).
std::string encode_query_value(std::string_view s);

using header_list = std::vector<std::pair<std::string, std::string>>;

/// A complete response.
struct response {
  int status = 0;
  /// Header fields in arrival order (names as sent by the server).
  header_list headers;
  std::string body;

  /// The first header named `name` (case-insensitive), if any.
  std::optional<std::string> header(std::string_view name) const;
  /// The body parsed as JSON; a discarded (is_discarded()) value if it is not
  /// JSON.
  nlohmann::json json() const;
  bool ok() const noexcept { return status >= 200 && status < 300; }
};

/// Options; every default is given inline.
struct client_options {
  /// Deadline for resolving and connecting (and the TLS handshake).
  std::chrono::milliseconds connect_timeout{5000};
  /// Deadline for writing one request and reading its whole response.
  std::chrono::milliseconds request_timeout{30000};
  /// Sent as `Authorization: Bearer TOKEN` when non-empty.
  std::string bearer_token;
  /// TLS: verify the server's certificate chain and host name (default on).
  bool verify_peer = true;
  /// TLS: a PEM file of trusted CAs; empty: the system's default paths.
  std::string ca_file;
  /// Largest response body accepted (default 64 MiB).
  std::uint64_t body_limit = 64ull << 20;
  /// Sent as User-Agent.
  std::string user_agent = "twin-http/1";
};

/// A synchronous HTTP/1.1 client bound to one base URL.
class client {
public:
  /// `base` is e.g. "http://127.0.0.1:8080". An unparsable URL is reported
  /// by every request (bad_request), not thrown.
  explicit client(std::string base, client_options options = {});
  ~client();
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Sends one request. `target` is the path and query below the base URL
  /// (e.g. "/api/v1/twins?limit=5"). `headers` are added as given (an
  /// Authorization header here overrides the bearer token). Content-Type
  /// defaults to application/json when `body` is non-empty.
  ///
  /// Keep-alive: the connection is reused; if a reused connection turns out
  /// to be closed by the server before any response byte arrived, the
  /// request is sent once more on a fresh connection.
  ///
  /// Returns any HTTP status as a value (4xx/5xx are not errors here).
  /// Errors: bad_request (bad URL), unavailable (cannot resolve / connect /
  /// TLS handshake failed / timed out / connection broke).
  expected<response> request(std::string_view method, std::string_view target,
                             std::string body = {},
                             const header_list& headers = {});

  expected<response> get(std::string_view target, const header_list& h = {}) {
    return request("GET", target, {}, h);
  }
  expected<response> del(std::string_view target, const header_list& h = {}) {
    return request("DELETE", target, {}, h);
  }
  expected<response> put(std::string_view target, const nlohmann::json& body,
                         const header_list& h = {}) {
    return request("PUT", target, body.dump(), h);
  }
  expected<response> post(std::string_view target, const nlohmann::json& body,
                          const header_list& h = {}) {
    return request("POST", target, body.dump(), h);
  }
  expected<response> patch(std::string_view target, const nlohmann::json& body,
                           const header_list& h = {}) {
    return request("PATCH", target, body.dump(), h);
  }

  /// Closes the connection (the next request opens a new one).
  void close() noexcept;

  /// The base URL as given.
  const std::string& base() const noexcept;
  const client_options& options() const noexcept;
  /// Replaces the bearer token for later requests.
  void set_bearer_token(std::string token);

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

/// One server-sent event.
struct sse_event {
  /// The `id:` field (empty if none).
  std::string id;
  /// The `event:` field ("message" if none).
  std::string event = "message";
  /// The `data:` lines joined by '\n'.
  std::string data;
};

/// A `text/event-stream` response read incrementally on its own connection.
class event_stream {
public:
  /// Opens `target` (GET, Accept: text/event-stream) and reads the response
  /// header. Errors: unavailable (connect/timeout), or the HTTP status if it
  /// is not 200 (code from the status: unauthorized, forbidden, not_found,
  /// else internal) with the body as message.
  static expected<event_stream> open(const std::string& base,
                                     std::string_view target,
                                     client_options options = {});

  event_stream(event_stream&&) noexcept;
  event_stream& operator=(event_stream&&) noexcept;
  ~event_stream();

  /// The next event, waiting at most until `deadline`. Comments (": ...")
  /// are skipped. Returns nullopt at the deadline; errors: unavailable when
  /// the stream ended or broke.
  expected<std::optional<sse_event>>
  next(std::chrono::steady_clock::time_point deadline);

  struct impl;

private:
  explicit event_stream(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace twin::http
