#pragma once
// The REST gateway: an HTTP/1.1 (optionally TLS) server that exposes the
// fabric's application port as the REST API of docs/api.md, plus the SSE
// change stream, /healthz, /metrics, the OpenAPI document and the dashboard.
//
// Threads: the gateway owns an Asio io_context run by `threads` threads of its
// own. Each connection lives on its own strand. Replies from the fabric arrive
// on fabric threads and are posted back to the connection's strand; the
// gateway never blocks a fabric thread. The gateway does not own the fabric or
// the token table: both must outlive it (stop() or destroy it first).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "twin/actors/fabric.hpp"
#include "twin/error.hpp"
#include "twin/security/auth.hpp"

namespace twin::gateway {

/// Settings of a gateway. Every field has a usable default.
struct gateway_options {
  /// Address to bind (IPv4 or IPv6 literal). Default: loopback only.
  std::string address = "127.0.0.1";
  /// TCP port; 0 picks a free port (read it back with gateway::endpoint()).
  std::uint16_t port = 8080;
  /// Threads running the io_context; 0 is treated as 1.
  std::size_t threads = 1;
  /// Largest accepted request body in bytes; larger bodies get 413 and the
  /// connection is closed. Default 4 MiB.
  std::size_t max_body = 4 * 1024 * 1024;
  /// A keep-alive connection idle (or a request slower) than this is closed.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  /// A response (or an SSE frame) that cannot be written within this time
  /// closes the connection.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  /// Interval of the SSE `: keepalive` comment.
  std::chrono::milliseconds sse_keepalive = std::chrono::seconds(15);
  /// Events queued for one SSE client before it counts as too slow: the
  /// connection is dropped (and counted in sse_dropped_clients_total).
  std::size_t sse_max_queue = 10000;
  /// How long stop() lets connections close before it cuts them off.
  std::chrono::milliseconds stop_grace = std::chrono::seconds(2);
  /// PEM certificate chain and private key files. Both set: HTTPS only;
  /// both empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  /// Empty: serve the dashboard embedded at build time. Else serve `/` and
  /// `/ui/*` from this directory (for working on the UI without a rebuild).
  std::string ui_directory;
};

/// A running gateway. Not copyable or movable; stop() (or the destructor)
/// shuts it down. All member functions are thread-safe.
class gateway {
public:
  /// Binds, listens and starts the io threads. Registers the gateway's
  /// metrics (http_requests_total, http_request_duration_seconds,
  /// sse_clients, sse_dropped_clients_total) in `fabric.metrics()`.
  /// `fabric` and `tokens` must outlive the gateway.
  /// Errors: bad_request (unparsable address, inconsistent or unloadable
  /// TLS files), unavailable (the address cannot be bound).
  static expected<std::unique_ptr<gateway>>
  start(gateway_options options, actors::fabric& fabric,
        const security::token_table& tokens);

  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;
  /// Calls stop().
  ~gateway();

  /// "ADDRESS:PORT" of the bound socket (IPv6 in brackets), e.g.
  /// "127.0.0.1:41234".
  std::string endpoint() const;

  /// The bound port.
  std::uint16_t port() const noexcept;

  /// True if the gateway serves HTTPS.
  bool tls() const noexcept;

  /// Stops accepting, closes every connection (ending SSE streams and their
  /// subscriptions), waits up to `stop_grace`, then joins the io threads.
  /// Replies the fabric delivers later are dropped. Idempotent.
  void stop();

  class impl;

private:
  explicit gateway(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace twin::gateway
