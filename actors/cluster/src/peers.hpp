#pragma once
// Node-to-node requests over CAF remote actors on mutual TLS (caf::openssl).
// Private to twin_cluster. Every message is a std::string of JSON, so no
// custom CAF types cross the wire (nothing to register, nothing to drift).
//
// A connection is used only after the peer proved its identity: we send a
// random nonce ("hello"), it answers its certificate and the nonce signed
// with its key; the certificate must chain to the fabric CA and name the
// node id the peer announced. TLS already refused any certificate of
// another CA (CAF verifies both sides against openssl.cafile).

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
  start(options o, handler_fn handler, const security::trust_anchor* ca);

  ~peer_link();
  void stop();

  std::uint16_t port() const noexcept;

  /// Sends `request` to `node` at `endpoint` (host:port), connecting and
  /// checking its identity first when there is no verified connection;
  /// `done` runs once, on a CAF or connector thread.
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
