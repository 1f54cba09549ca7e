// A node's cluster identity and the fabric trust anchor. See node_identity.hpp.

#include "twin/security/node_identity.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace twin::security {

// --- RAII ----------------------------------------------------------------

namespace {

template <auto Free>
struct deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free_all>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, deleter<X509_STORE_CTX_free>>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, deleter<EVP_MD_CTX_free>>;

struct names_free {
  void operator()(GENERAL_NAMES* p) const noexcept { GENERAL_NAMES_free(p); }
};
using names_ptr = std::unique_ptr<GENERAL_NAMES, names_free>;

struct stack_free {
  // The stack only borrows its certificates (they are owned elsewhere).
  void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_free(p); }
};
using stack_ptr = std::unique_ptr<STACK_OF(X509), stack_free>;

/// Clears this thread's OpenSSL error queue when a call leaves, so that a
/// failed parse here never shows up as a stale error in other code.
struct clear_errors {
  clear_errors() = default;
  clear_errors(const clear_errors&) = delete;
  clear_errors& operator=(const clear_errors&) = delete;
  ~clear_errors() { ERR_clear_error(); }
};

std::string openssl_reason() {
  auto e = ERR_peek_last_error();
  if (e == 0)
    return {};
  if (auto r = ERR_reason_error_string(e))
    return r;
  return "OpenSSL error " + std::to_string(e);
}

bio_ptr mem_bio(std::string_view text) {
  bio_ptr b{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
  if (!b)
    throw std::bad_alloc{};
  return b;
}

error bad(std::string message) {
  return make_error(errc::bad_request, std::move(message));
}

error refused(std::string message) {
  return make_error(errc::unauthorized, std::move(message));
}

// --- files -----------------------------------------------------------------

constexpr std::size_t max_pem_file = 1 << 20;

/// The text of `path`, or an error "<role> <path> <what is wrong>".
expected<std::string> read_file(const std::string& role, const std::string& path) {
  if (path.empty())
    return bad(role + ": no file given");
  const auto who = role + " " + path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      return bad(who + " does not exist");
    if (e == EACCES)
      return bad(who + " is not accessible (permission denied on a directory of its path)");
    return bad(who + " cannot be accessed: " + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode))
    return bad(who + " is a directory, not a file");
  if (!S_ISREG(st.st_mode))
    return bad(who + " is not a regular file");
  if (static_cast<std::size_t>(st.st_size) > max_pem_file)
    return bad(who + " is too large for a PEM file (" + std::to_string(st.st_size)
               + " bytes)");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == EACCES || e == EPERM)
      return bad(who + " is not readable (permission denied)");
    return bad(who + " cannot be opened: " + std::strerror(e));
  }
  std::string text;
  std::array<char, 8192> buf{};
  for (;;) {
    auto n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      ::close(fd);
      return bad(who + " cannot be read: " + std::strerror(e));
    }
    if (n == 0)
      break;
    text.append(buf.data(), static_cast<std::size_t>(n));
    if (text.size() > max_pem_file) {
      ::close(fd);
      return bad(who + " is too large for a PEM file");
    }
  }
  ::close(fd);
  if (text.empty())
    return bad(who + " is empty");
  return text;
}

// --- PEM and X.509 ---------------------------------------------------------

struct pem_certs {
  std::vector<x509_ptr> certs;
  bool private_key = false; // a "... PRIVATE KEY" block was in the text
  std::string damaged;      // why a block did not decode; empty if none
};

/// Every CERTIFICATE block of a PEM text, in order.
pem_certs read_pem_certs(std::string_view text) {
  pem_certs out;
  auto bio = mem_bio(text);
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      auto e = ERR_peek_last_error();
      if (!(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
        out.damaged = "a PEM block is damaged: " + openssl_reason();
      ERR_clear_error();
      break;
    }
    std::string_view block = name;
    if (block == "CERTIFICATE" || block == "X509 CERTIFICATE") {
      const unsigned char* p = data;
      x509_ptr x{d2i_X509(nullptr, &p, len)};
      if (!x || p != data + len)
        out.damaged = "a CERTIFICATE block is not DER X.509"
                      + (x ? std::string{} : ": " + openssl_reason());
      else
        out.certs.push_back(std::move(x));
    } else if (block.find("PRIVATE KEY") != std::string_view::npos) {
      out.private_key = true;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (!out.damaged.empty())
      break;
  }
  return out;
}

std::string dn(const X509_NAME* name) {
  auto bio = bio_ptr{BIO_new(BIO_s_mem())};
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0)
    return "?";
  char* p = nullptr;
  auto n = BIO_get_mem_data(bio.get(), &p);
  std::string s(p, static_cast<std::size_t>(n));
  return s.empty() ? std::string{"(empty name)"} : s;
}

std::string subject(const X509* x) { return dn(X509_get_subject_name(x)); }
std::string issuer(const X509* x) { return dn(X509_get_issuer_name(x)); }

/// "2026-12-02T17:09:32Z".
std::string iso(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
    return "?";
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

long long epoch(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
    return 0;
  return static_cast<long long>(::timegm(&tm));
}

std::string validity(const X509* x) {
  return "valid from " + iso(X509_get0_notBefore(x)) + " to " + iso(X509_get0_notAfter(x));
}

/// Why a time-checked certificate is not valid now; empty if it is.
std::string date_problem(const X509* x) {
  if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
    return "is not valid yet (" + validity(x) + ")";
  if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
    return "expired on " + iso(X509_get0_notAfter(x)) + " (" + validity(x) + ")";
  return {};
}

bool printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      return false;
  return true;
}

/// The node id of a certificate: the CN, else the first SAN DNS entry, else
/// the first SAN URI entry. On failure, the reason ("carries no node id").
expected<std::string> node_id_of(const X509* x) {
  const X509_NAME* name = X509_get_subject_name(x);
  int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at >= 0) {
    if (X509_NAME_get_index_by_NID(name, NID_commonName, at) >= 0)
      return refused("has several CNs, so no single node id");
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, cn);
    if (n < 0)
      return refused("has a CN that is not valid text");
    std::string id(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
    OPENSSL_free(utf8);
    if (id.empty() || !printable(id) || id.size() > 255)
      return refused("has an empty or unprintable CN, so no node id");
    return id;
  }
  names_ptr sans{static_cast<GENERAL_NAMES*>(
    X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr))};
  for (int want : {GEN_DNS, GEN_URI}) {
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), i);
      if (g->type != want)
        continue;
      const ASN1_IA5STRING* s = want == GEN_DNS ? g->d.dNSName : g->d.uniformResourceIdentifier;
      std::string id(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
      if (!id.empty() && printable(id) && id.size() <= 255)
        return id;
    }
  }
  return refused("carries no node id (no CN, and no SAN DNS or URI entry)");
}

bool is_ca(X509* x) { return (X509_get_extension_flags(x) & EXFLAG_CA) != 0; }

/// The digest to sign with for a key: SHA-256, or none for EdDSA (which
/// hashes the message itself).
const EVP_MD* digest_for(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
    return nullptr;
  return EVP_sha256();
}

std::string pem_of(const std::vector<x509_ptr>& certs) {
  auto bio = bio_ptr{BIO_new(BIO_s_mem())};
  if (!bio)
    throw std::bad_alloc{};
  for (auto& x : certs)
    if (PEM_write_bio_X509(bio.get(), x.get()) != 1)
      throw std::runtime_error("PEM_write_bio_X509 failed");
  char* p = nullptr;
  auto n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<std::size_t>(n));
}

} // namespace

// --- trust_anchor ----------------------------------------------------------

struct trust_anchor::impl {
  std::unique_ptr<X509_STORE, deleter<X509_STORE_free>> store;
  std::vector<x509_ptr> cas;
  std::string description; // "the fabric CA /x/ca.pem"

  bool names_a_ca(const X509_NAME* name) const {
    for (auto& ca : cas)
      if (X509_NAME_cmp(X509_get_subject_name(ca.get()), name) == 0)
        return true;
    return false;
  }

  /// Verifies leaf + chain against the store, now. On failure, the reason,
  /// phrased to follow the certificate's description ("is not signed by").
  std::string verify(X509* leaf, const std::vector<x509_ptr>& chain) const {
    stack_ptr untrusted{sk_X509_new_null()};
    if (!untrusted)
      throw std::bad_alloc{};
    for (std::size_t i = 1; i < chain.size(); ++i)
      if (sk_X509_push(untrusted.get(), chain[i].get()) <= 0)
        throw std::bad_alloc{};
    store_ctx_ptr ctx{X509_STORE_CTX_new()};
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get()) != 1)
      throw std::runtime_error("X509_STORE_CTX_init failed");
    if (X509_verify_cert(ctx.get()) == 1)
      return {};
    int code = X509_STORE_CTX_get_error(ctx.get());
    int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* at = X509_STORE_CTX_get_current_cert(ctx.get());
    if (!at)
      at = leaf;
    std::string prefix = depth == 0 ? std::string{}
                                    : "is issued by " + subject(at) + " which ";
    switch (code) {
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      case X509_V_ERR_CERT_UNTRUSTED:
        return "is not signed by " + description
               + (names_a_ca(X509_get_issuer_name(leaf))
                    ? " (its issuer " + issuer(leaf)
                        + " has the fabric CA's name but is another CA, with another key"
                    : " (its issuer is " + issuer(leaf))
               + (depth > 0 ? "; chain broken at " + subject(at) : std::string{}) + ")";
      case X509_V_ERR_CERT_HAS_EXPIRED:
        return prefix + "expired on " + iso(X509_get0_notAfter(at)) + " (" + validity(at)
               + ")";
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return prefix + "is not valid yet (" + validity(at) + ")";
      default:
        return prefix + "does not verify against " + description + ": "
               + X509_verify_cert_error_string(code);
    }
  }
};

trust_anchor::trust_anchor(std::shared_ptr<const impl> p, std::string ca_file)
  : impl_(std::move(p)), ca_file_(std::move(ca_file)) {}

namespace {

expected<std::shared_ptr<trust_anchor::impl>> anchor_from(const std::string& ca_file,
                                                          std::string_view text) {
  const auto who = "fabric CA " + ca_file;
  auto pem = read_pem_certs(text);
  if (!pem.damaged.empty())
    return bad(who + " is not valid PEM X.509: " + pem.damaged);
  if (pem.private_key)
    return bad(who + " contains a private key: the CA key must not be on the nodes "
                     "(give the CA certificate only)");
  if (pem.certs.empty())
    return bad(who + " is not a PEM X.509 certificate (no -----BEGIN CERTIFICATE----- block)");
  auto p = std::make_shared<trust_anchor::impl>();
  p->store.reset(X509_STORE_new());
  if (!p->store)
    throw std::bad_alloc{};
  p->description = "the fabric CA " + ca_file;
  for (auto& x : pem.certs) {
    if (X509_check_ca(x.get()) == 0)
      return bad(who + " holds " + subject(x.get())
                 + ", which is not a CA certificate (no basicConstraints CA:TRUE)");
    if (auto d = date_problem(x.get()); !d.empty())
      return bad(who + " (" + subject(x.get()) + ") " + d);
    if (X509_STORE_add_cert(p->store.get(), x.get()) != 1) {
      auto e = ERR_peek_last_error();
      if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE)
        return bad(who + ": cannot use " + subject(x.get()) + ": " + openssl_reason());
    }
    p->cas.push_back(std::move(x));
  }
  return p;
}

} // namespace

expected<trust_anchor> trust_anchor::load(const std::string& ca_file) {
  clear_errors guard;
  auto text = read_file("fabric CA", ca_file);
  if (!text)
    return std::move(text).error();
  auto p = anchor_from(ca_file, *text);
  if (!p)
    return std::move(p).error();
  return trust_anchor{std::move(*p), ca_file};
}

namespace {

constexpr std::size_t max_peer_pem = 64 * 1024;
constexpr std::size_t max_peer_chain = 8;

struct peer {
  std::vector<x509_ptr> chain;
  std::string node_id;
};

expected<peer> check_peer(const trust_anchor::impl& anchor, std::string_view pem_text) {
  if (pem_text.size() > max_peer_pem)
    return bad("peer certificate is too large (" + std::to_string(pem_text.size())
               + " bytes)");
  auto pem = read_pem_certs(pem_text);
  if (!pem.damaged.empty())
    return bad("peer certificate is not valid PEM X.509: " + pem.damaged);
  if (pem.private_key)
    return bad("peer certificate text contains a private key: refused");
  if (pem.certs.empty())
    return bad("peer certificate is not a PEM X.509 certificate "
               "(no -----BEGIN CERTIFICATE----- block)");
  if (pem.certs.size() > max_peer_chain)
    return bad("peer certificate chain is too long (" + std::to_string(pem.certs.size())
               + " certificates)");
  X509* leaf = pem.certs.front().get();
  const auto who = "peer certificate " + subject(leaf);
  if (auto why = anchor.verify(leaf, pem.certs); !why.empty())
    return refused(who + " " + why);
  if (is_ca(leaf))
    return refused(who + " is a CA certificate, not a node certificate");
  auto id = node_id_of(leaf);
  if (!id)
    return refused(who + " " + id.error().message);
  return peer{std::move(pem.certs), std::move(*id)};
}

} // namespace

expected<std::string> trust_anchor::verify_peer(std::string_view certificate_pem) const {
  clear_errors guard;
  if (!impl_)
    return make_error(errc::internal, "trust_anchor used after move");
  auto p = check_peer(*impl_, certificate_pem);
  if (!p)
    return std::move(p).error();
  return std::move(p->node_id);
}

expected<std::string> trust_anchor::verify_signed(std::string_view certificate_pem,
                                                  std::string_view data,
                                                  std::string_view signature) const {
  clear_errors guard;
  if (!impl_)
    return make_error(errc::internal, "trust_anchor used after move");
  auto p = check_peer(*impl_, certificate_pem);
  if (!p)
    return std::move(p).error();
  EVP_PKEY* key = X509_get0_pubkey(p->chain.front().get());
  if (!key)
    return refused("peer certificate of node " + p->node_id + " has an unusable public key");
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  if (!ctx)
    throw std::bad_alloc{};
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(key), nullptr, key) != 1)
    return refused("signature of node " + p->node_id
                   + " cannot be checked: unsupported key type (" + openssl_reason() + ")");
  int r = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                           signature.size(),
                           reinterpret_cast<const unsigned char*>(data.data()), data.size());
  if (r != 1)
    return refused("signature does not match the certificate of node " + p->node_id);
  return std::move(p->node_id);
}

// --- node_identity -----------------------------------------------------------

struct node_identity::key_holder {
  pkey_ptr key;
};

node_identity::node_identity(std::string node_id, std::string pem,
                             std::shared_ptr<const key_holder> key, trust_anchor anchor,
                             tls_files files, long long not_after)
  : node_id_(std::move(node_id)),
    certificate_pem_(std::move(pem)),
    key_(std::move(key)),
    anchor_(std::move(anchor)),
    files_(std::move(files)),
    not_after_(not_after) {}

namespace {

int refuse_passphrase(char*, int, int, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

bool looks_encrypted(std::string_view text) {
  return text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos
         || text.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

} // namespace

expected<node_identity> node_identity::load(const tls_files& files) {
  clear_errors guard;
  auto cert_text = read_file("cluster certificate", files.certificate);
  if (!cert_text)
    return std::move(cert_text).error();
  auto key_text = read_file("cluster key", files.key);
  if (!key_text)
    return std::move(key_text).error();
  auto ca_text = read_file("fabric CA", files.ca);
  if (!ca_text)
    return std::move(ca_text).error();

  auto anchor = anchor_from(files.ca, *ca_text);
  if (!anchor)
    return std::move(anchor).error();

  // The certificate (and any chain after it).
  const auto cert_who = "cluster certificate " + files.certificate;
  auto pem = read_pem_certs(*cert_text);
  if (!pem.damaged.empty())
    return bad(cert_who + " is not valid PEM X.509: " + pem.damaged);
  if (pem.certs.empty())
    return bad(cert_who
               + (pem.private_key
                    ? std::string{" contains a private key, not a certificate (are the "
                                  "certificate and key files swapped?)"}
                    : std::string{" is not a PEM X.509 certificate (no -----BEGIN "
                                  "CERTIFICATE----- block)"}));
  X509* leaf = pem.certs.front().get();

  // The key.
  const auto key_who = "cluster key " + files.key;
  bool asked = false;
  auto key_bio = mem_bio(*key_text);
  pkey_ptr key{PEM_read_bio_PrivateKey(key_bio.get(), nullptr, refuse_passphrase, &asked)};
  if (!key) {
    if (asked || looks_encrypted(*key_text))
      return bad(key_who + " is encrypted (passphrase-protected); the node needs an "
                           "unencrypted PEM key (openssl pkey -in KEY -out PLAIN.key), "
                           "readable by the node only (mode 600)");
    if (read_pem_certs(*key_text).certs.size() > 0)
      return bad(key_who + " contains a certificate, not a private key (are the "
                           "certificate and key files swapped?)");
    return bad(key_who + " is not a PEM private key"
               + (openssl_reason().empty() ? std::string{} : " (" + openssl_reason() + ")"));
  }
  ERR_clear_error();

  // They belong together.
  const EVP_PKEY* pub = X509_get0_pubkey(leaf);
  if (!pub)
    return bad(cert_who + " has a public key OpenSSL cannot use (" + openssl_reason() + ")");
  if (EVP_PKEY_eq(pub, key.get()) != 1)
    return bad(key_who + " does not belong to " + cert_who + " (" + subject(leaf)
               + "): their public keys differ");

  // Signed by the fabric CA, valid now, a node certificate with an id.
  if (auto why = (*anchor)->verify(leaf, pem.certs); !why.empty())
    return bad(cert_who + " " + why);
  if (is_ca(leaf))
    return bad(cert_who + " is a CA certificate, not a node certificate");
  auto id = node_id_of(leaf);
  if (!id)
    return bad(cert_who + " " + id.error().message);

  auto holder = std::make_shared<key_holder>();
  holder->key = std::move(key);
  auto not_after = epoch(X509_get0_notAfter(leaf));
  return node_identity{std::move(*id),
                       pem_of(pem.certs),
                       std::move(holder),
                       trust_anchor{std::move(*anchor), files.ca},
                       files,
                       not_after};
}

std::string node_identity::sign(std::string_view data) const {
  clear_errors guard;
  if (!key_)
    throw std::logic_error("node_identity used after move");
  EVP_PKEY* key = key_->key.get();
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  if (!ctx)
    throw std::bad_alloc{};
  if (EVP_DigestSignInit(ctx.get(), nullptr, digest_for(key), nullptr, key) != 1)
    throw std::runtime_error("EVP_DigestSignInit failed: " + openssl_reason());
  auto in = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1)
    throw std::runtime_error("EVP_DigestSign failed: " + openssl_reason());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size())
      != 1)
    throw std::runtime_error("EVP_DigestSign failed: " + openssl_reason());
  sig.resize(len);
  return sig;
}

// --- base64 and hex ----------------------------------------------------------

namespace {

constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

std::string to_base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto u = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (u(i) << 16) | (u(i + 1) << 8) | u(i + 2);
    out.push_back(b64[(v >> 18) & 63]);
    out.push_back(b64[(v >> 12) & 63]);
    out.push_back(b64[(v >> 6) & 63]);
    out.push_back(b64[v & 63]);
  }
  if (auto rest = bytes.size() - i; rest == 1) {
    unsigned v = u(i) << 16;
    out.push_back(b64[(v >> 18) & 63]);
    out.push_back(b64[(v >> 12) & 63]);
    out.append("==");
  } else if (rest == 2) {
    unsigned v = (u(i) << 16) | (u(i + 1) << 8);
    out.push_back(b64[(v >> 18) & 63]);
    out.push_back(b64[(v >> 12) & 63]);
    out.push_back(b64[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

expected<std::string> from_base64(std::string_view text) {
  if (text.size() % 4 != 0)
    return bad("base64: length " + std::to_string(text.size()) + " is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = 0;
    if (last && text[i + 3] == '=')
      pad = text[i + 2] == '=' ? 2 : 1;
    unsigned v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      int d = 0;
      if (k >= 4 - static_cast<std::size_t>(pad)) {
        d = 0; // padding
      } else if (d = b64_value(c); d < 0) {
        return bad("base64: invalid character at offset " + std::to_string(i + k));
      }
      v = (v << 6) | static_cast<unsigned>(d);
    }
    if (pad == 2 && (v & 0xffff) != 0)
      return bad("base64: non-zero unused bits before the padding");
    if (pad == 1 && (v & 0xff) != 0)
      return bad("base64: non-zero unused bits before the padding");
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2)
      out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1)
      out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 0x0f]);
  }
  return out;
}

expected<std::string> from_hex(std::string_view text) {
  if (text.size() % 2 != 0)
    return bad("hex: odd length " + std::to_string(text.size()));
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = hex_value(text[i]);
    int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0)
      return bad("hex: invalid character at offset " + std::to_string(hi < 0 ? i : i + 1));
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

} // namespace twin::security
