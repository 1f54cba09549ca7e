#pragma once
// A node's cluster identity: its mutual-TLS files (the ones CAF's
// `caf::openssl` reads as openssl.certificate / openssl.key /
// openssl.cafile), checked at start, and the fabric CA as a trust anchor to
// bind a peer's certificate to the node id it announces. See
// security/README.md ("Node identity") and deploy/make-fabric-certs.sh.
//
// Thread-safety: every const member function may be called from several
// threads at once (the OpenSSL objects inside are only read, each call uses
// its own contexts).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "twin/error.hpp"

namespace twin::security {

/// The three PEM files of a node's mutual TLS.
struct tls_files {
  std::string certificate; ///< the node's certificate (leaf first, then any intermediates)
  std::string key;         ///< its private key, unencrypted PEM
  std::string ca;          ///< the fabric CA certificate(s)
};

/// The fabric CA, to check peers.
class trust_anchor {
public:
  /// Reads the CA file (one or more PEM certificates, each a CA currently
  /// valid). Errors (bad_request) name the file and what is wrong with it.
  static expected<trust_anchor> load(const std::string& ca_file);

  /// Verifies a peer certificate (PEM; leaf first, then any intermediates)
  /// against the CA: chain and validity dates. Returns its node id (the CN,
  /// else the first SAN DNS entry, else the first SAN URI). Errors name the
  /// reason: not PEM (bad_request); unknown CA, expired, not yet valid, a CA
  /// certificate, no node id (unauthorized).
  expected<std::string> verify_peer(std::string_view certificate_pem) const;

  /// verify_peer, plus the signature of data by that certificate's key
  /// (as made by node_identity::sign). Returns the node id, or an error
  /// (unauthorized, "signature does not match ...").
  expected<std::string> verify_signed(std::string_view certificate_pem,
                                      std::string_view data,
                                      std::string_view signature) const;

  /// The CA file this anchor was loaded from.
  const std::string& ca_file() const noexcept { return ca_file_; }

  struct impl;

private:
  explicit trust_anchor(std::shared_ptr<const impl> p, std::string ca_file);
  std::shared_ptr<const impl> impl_;
  std::string ca_file_;
  friend class node_identity;
};

/// This node's TLS identity, checked: each file exists and is readable, the
/// certificate and the CA parse as PEM X.509, the key parses (unencrypted
/// PEM), the key matches the certificate, the certificate verifies against
/// the CA (chain and validity dates) and carries a node id. Errors use
/// errc::bad_request and name the file, e.g. "cluster certificate
/// /x/node.pem is not signed by the fabric CA /x/ca.pem".
class node_identity {
public:
  static expected<node_identity> load(const tls_files& files);

  /// The node id: the certificate's CN (else its first SAN DNS, else URI).
  const std::string& node_id() const noexcept { return node_id_; }

  /// The certificate (and any intermediates from the file), as PEM: what
  /// the node announces to its peers.
  const std::string& certificate_pem() const noexcept { return certificate_pem_; }

  /// The fabric CA loaded with the identity, to check peers.
  const trust_anchor& anchor() const noexcept { return anchor_; }

  /// The files it was loaded from.
  const tls_files& files() const noexcept { return files_; }

  /// The end of the certificate's validity, seconds since the Unix epoch.
  long long not_after() const noexcept { return not_after_; }

  /// Signature of data with the node's private key, raw bytes: SHA-256 with
  /// RSA (PKCS #1 v1.5) or ECDSA (DER), or Ed25519/Ed448 (which hash
  /// themselves). Throws std::runtime_error only if OpenSSL fails to sign
  /// (out of memory), which a loaded key cannot otherwise do.
  std::string sign(std::string_view data) const;

  struct key_holder;

private:
  node_identity(std::string node_id, std::string pem,
                std::shared_ptr<const key_holder> key, trust_anchor anchor,
                tls_files files, long long not_after);
  std::string node_id_;
  std::string certificate_pem_;
  std::shared_ptr<const key_holder> key_;
  trust_anchor anchor_;
  tls_files files_;
  long long not_after_ = 0;
};

/// RFC 4648 base64 (standard alphabet, '=' padding), to carry signatures
/// and certificates in JSON.
std::string to_base64(std::string_view bytes);

/// Decodes to_base64's form strictly: standard alphabet, padding to a
/// multiple of 4, no whitespace, unused bits zero. bad_request otherwise.
expected<std::string> from_base64(std::string_view text);

/// Lower-case hex of bytes.
std::string to_hex(std::string_view bytes);

/// Decodes hex (either case, even length). bad_request otherwise.
expected<std::string> from_hex(std::string_view text);

} // namespace twin::security
