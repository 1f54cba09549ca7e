#pragma once
// Node-to-node requests over CAF remote actors on mutual TLS (caf::openssl).
// Private to twin_cluster. Every message is a std::string of JSON, so no
// custom CAF types cross the wire (nothing to register, nothing to drift).
//
// One connection per pair of nodes, opened by the node with the smaller id
// (CAF 0.17's BASP loses messages when two nodes connect to each other at
// once: ADR 0011). The opener sends "hello" with its certificate, a nonce
// signed by its key and its own endpoint actor; the other side checks them
// and keeps that actor as its way back over the same connection, and
// answers with its certificate and the opener's nonce signed. Each side
// checks that the certificate chains to the fabric CA and names the node id
// announced. TLS already refused any certificate of another CA (CAF
// verifies both sides against openssl.cafile).

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "twin/error.hpp"
#include "twin/security/node_identity.hpp"

namespace twin::cluster::detail {

using call_fn = std::function<void(expected<std::string>)>;

class peer_link {
public:
  /// Serves a request; `respond` exactly once, from any thread.
  using handler_fn
    = std::function<void(std::string request, std::function<void(std::string)> respond)>;

  struct options {
    security::tls_files tls;
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::size_t threads = 2;
  };

  static expected<std::unique_ptr<peer_link>>
  start(options o, handler_fn handler, const security::trust_anchor* ca,
        const security::node_identity* self);

  /// A verified announcement of `node` at `endpoint`: if our id is the
  /// smaller one, (re)connect when we have no connection to that endpoint.
  void introduce(const std::string& node, const std::string& endpoint);

  ~peer_link();
  void stop();

  std::uint16_t port() const noexcept;

  /// Sends `request` to `node` at `endpoint` (host:port) over the pair's
  /// connection: opening it (ours to open) or waiting up to `timeout` for
  /// the peer to open it; `done` runs once, on a CAF or connector thread.
  void call(const std::string& node, const std::string& endpoint,
            std::string request, std::chrono::milliseconds timeout, call_fn done);

  /// Drops the connection to `node` (it moved, or a call failed).
  void forget(const std::string& node);

  struct impl;

private:
  explicit peer_link(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace twin::cluster::detail
