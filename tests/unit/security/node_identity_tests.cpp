// node_identity / trust_anchor, against a PKI made at test time by
// deploy/make-fabric-certs.sh: a fabric CA and a foreign CA with the same
// name (an impostor's), nodes of both, an expired and a not-yet-valid node.

#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twin/security/node_identity.hpp"

using namespace twin;
using namespace twin::security;
namespace fs = std::filesystem;

namespace {

const std::string script = TWIN_FABRIC_CERTS_SCRIPT;

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

struct run_result {
  int status = -1;
  std::string output;
};

/// Runs a shell command, stdout and stderr together.
run_result run(const std::string& command) {
  run_result r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p)
    throw std::runtime_error("popen failed: " + command);
  std::array<char, 4096> buf{};
  while (auto n = std::fread(buf.data(), 1, buf.size(), p))
    r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

void must_run(const std::string& command) {
  auto r = run(command);
  if (r.status != 0)
    throw std::runtime_error("command failed (" + std::to_string(r.status) + "): " + command
                             + "\n" + r.output);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

fs::path make_temp_dir(const std::string& tag) {
  std::string tmpl = (fs::temp_directory_path() / ("twin-" + tag + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data()))
    throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

/// The PKI, made once for the whole test module.
struct pki {
  fs::path root;
  fs::path fabric;
  fs::path foreign;
  std::string make_output;

  pki() {
    root = make_temp_dir("node-identity");
    fabric = root / "fabric";
    foreign = root / "foreign";
    auto s = quote(script);
    auto r = run(s + " --ca-name 'twin test CA' " + quote(fabric.string())
                 + " node-a node-b");
    if (r.status != 0)
      throw std::runtime_error("make-fabric-certs.sh failed:\n" + r.output);
    make_output = r.output;
    must_run(s + " --expired " + quote(fabric.string()) + " node-old");
    must_run(s + " --not-yet-valid " + quote(fabric.string()) + " node-future");
    must_run(s + " --days 30 " + quote(fabric.string()) + " node-short");
    // An impostor: its own CA with the very same name, and a node "node-a".
    must_run(s + " --ca-name 'twin test CA' " + quote(foreign.string()) + " node-a");
  }
  ~pki() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  tls_files files(const std::string& node) const {
    return {(fabric / (node + ".pem")).string(), (fabric / (node + ".key")).string(),
            ca()};
  }
  std::string ca() const { return (fabric / "ca.pem").string(); }
  std::string pem(const std::string& node) const { return slurp(fabric / (node + ".pem")); }
};

const pki& certs() {
  static pki p;
  return p;
}

/// A scratch directory per test, removed afterwards.
struct scratch {
  fs::path dir = make_temp_dir("node-identity-case");
  ~scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name, const std::string& text) const {
    write(dir / name, text);
    return (dir / name).string();
  }
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// Loads `files` and expects a bad_request whose message contains every part.
void expect_load_error(const tls_files& files, std::vector<std::string> parts) {
  auto id = node_identity::load(files);
  BOOST_REQUIRE_MESSAGE(!id, "loaded although it should not: " << files.certificate);
  BOOST_TEST(id.error().code == errc::bad_request);
  for (auto& part : parts)
    BOOST_TEST(contains(id.error().message, part),
               "message \"" << id.error().message << "\" lacks \"" << part << "\"");
}

std::string utc_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::array<char, 16> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%d", &tm);
  return buf.data();
}

} // namespace

BOOST_AUTO_TEST_SUITE(node_identity_suite)

// --- the script ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_script_makes_a_ca_and_node_files_with_private_keys) {
  auto& p = certs();
  for (auto name : {"ca.pem", "ca.key", "node-a.pem", "node-a.key", "node-b.pem", "node-b.key"})
    BOOST_TEST(fs::exists(p.fabric / name), name);
  for (auto name : {"ca.key", "node-a.key", "node-b.key", "node-old.key"}) {
    struct stat st {};
    BOOST_REQUIRE(::stat((p.fabric / name).c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u, name);
  }
  BOOST_TEST(contains(p.make_output, "created CA"), p.make_output);
  BOOST_TEST(contains(p.make_output, "created node-a"), p.make_output);
  auto text = run("openssl x509 -noout -subject -ext subjectAltName -in "
                  + quote((p.fabric / "node-a.pem").string()));
  BOOST_TEST(text.status == 0);
  BOOST_TEST(contains(text.output, "CN = node-a"), text.output);
  BOOST_TEST(contains(text.output, "DNS:node-a"), text.output);
  auto ca = run("openssl x509 -noout -subject -in " + quote(p.ca()));
  BOOST_TEST(contains(ca.output, "CN = twin test CA"), ca.output);
}

BOOST_AUTO_TEST_CASE(the_script_is_idempotent_and_reuses_its_ca_for_new_nodes) {
  auto& p = certs();
  scratch s;
  auto out = s.dir / "pki";
  must_run(quote(script) + " " + quote(out.string()) + " n1");
  auto ca = slurp(out / "ca.pem");
  auto n1 = slurp(out / "n1.pem");
  auto n1_key = slurp(out / "n1.key");
  auto again = run(quote(script) + " " + quote(out.string()) + " n1 n2");
  BOOST_TEST(again.status == 0, again.output);
  BOOST_TEST(contains(again.output, "reusing CA"), again.output);
  BOOST_TEST(contains(again.output, "kept n1"), again.output);
  BOOST_TEST(contains(again.output, "created n2"), again.output);
  BOOST_TEST(slurp(out / "ca.pem") == ca);
  BOOST_TEST(slurp(out / "n1.pem") == n1);
  BOOST_TEST(slurp(out / "n1.key") == n1_key);
  // The later node is signed by the same CA.
  auto n2 = node_identity::load({(out / "n2.pem").string(), (out / "n2.key").string(),
                                 (out / "ca.pem").string()});
  BOOST_REQUIRE_MESSAGE(n2, n2);
  BOOST_TEST(n2->node_id() == "n2");
  (void)p;
}

BOOST_AUTO_TEST_CASE(the_script_refuses_bad_arguments_with_its_usage) {
  scratch s;
  auto none = run(quote(script));
  BOOST_TEST(none.status == 2);
  BOOST_TEST(contains(none.output, "usage:"), none.output);
  auto one = run(quote(script) + " " + quote(s.dir.string()));
  BOOST_TEST(one.status == 2);
  BOOST_TEST(contains(one.output, "need OUT_DIR and at least one NODE_ID"), one.output);
  auto bad_id = run(quote(script) + " " + quote(s.dir.string()) + " 'a/b'");
  BOOST_TEST(bad_id.status == 2);
  BOOST_TEST(contains(bad_id.output, "bad NODE_ID 'a/b'"), bad_id.output);
  auto bad_days = run(quote(script) + " --days 0 " + quote(s.dir.string()) + " n");
  BOOST_TEST(bad_days.status == 2);
  BOOST_TEST(contains(bad_days.output, "--days"), bad_days.output);
  auto unknown = run(quote(script) + " --frobnicate " + quote(s.dir.string()) + " n");
  BOOST_TEST(unknown.status == 2);
  BOOST_TEST(contains(unknown.output, "unknown option --frobnicate"), unknown.output);
  BOOST_TEST(!fs::exists(s.dir / "ca.pem"));
}

// --- loading this node's identity ---------------------------------------------

BOOST_AUTO_TEST_CASE(a_good_identity_loads_with_its_node_id) {
  auto& p = certs();
  auto id = node_identity::load(p.files("node-a"));
  BOOST_REQUIRE_MESSAGE(id, id);
  BOOST_TEST(id->node_id() == "node-a");
  BOOST_TEST(id->certificate_pem().rfind("-----BEGIN CERTIFICATE-----", 0) == 0u);
  BOOST_TEST(!contains(id->certificate_pem(), "PRIVATE KEY"));
  BOOST_TEST(id->files().key == p.files("node-a").key);
  BOOST_TEST(id->anchor().ca_file() == p.ca());
  // The default validity is two years (730 days).
  auto now = static_cast<long long>(std::time(nullptr));
  BOOST_TEST(id->not_after() > now + 729LL * 86400);
  BOOST_TEST(id->not_after() < now + 731LL * 86400);
  auto b = node_identity::load(p.files("node-b"));
  BOOST_REQUIRE_MESSAGE(b, b);
  BOOST_TEST(b->node_id() == "node-b");
}

BOOST_AUTO_TEST_CASE(days_sets_the_validity_of_node_certificates) {
  auto id = node_identity::load(certs().files("node-short"));
  BOOST_REQUIRE_MESSAGE(id, id);
  auto now = static_cast<long long>(std::time(nullptr));
  BOOST_TEST(id->not_after() > now + 29LL * 86400);
  BOOST_TEST(id->not_after() < now + 31LL * 86400);
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_named_with_its_role) {
  auto& p = certs();
  scratch s;
  auto missing = (s.dir / "nope.pem").string();
  auto f = p.files("node-a");
  f.certificate = missing;
  expect_load_error(f, {"cluster certificate " + missing + " does not exist"});
  f = p.files("node-a");
  f.key = missing;
  expect_load_error(f, {"cluster key " + missing + " does not exist"});
  f = p.files("node-a");
  f.ca = missing;
  expect_load_error(f, {"fabric CA " + missing + " does not exist"});
  f = p.files("node-a");
  f.key.clear();
  expect_load_error(f, {"cluster key: no file given"});
  auto anchor = trust_anchor::load(missing);
  BOOST_REQUIRE(!anchor);
  BOOST_TEST(anchor.error().message == "fabric CA " + missing + " does not exist");
}

BOOST_AUTO_TEST_CASE(an_unreadable_a_directory_or_an_empty_file_is_refused) {
  auto& p = certs();
  scratch s;
  auto f = p.files("node-a");
  f.certificate = s.dir.string();
  expect_load_error(f, {"cluster certificate " + s.dir.string() + " is a directory, not a file"});

  f = p.files("node-a");
  f.key = s.file("empty.key", "");
  expect_load_error(f, {"cluster key " + f.key + " is empty"});

  // A key the process may not read. Root reads everything, so as root the
  // load runs in a child that has become `nobody`.
  ::chmod(s.dir.c_str(), 0755);
  f = p.files("node-a");
  f.certificate = s.file("node.pem", p.pem("node-a"));
  f.key = s.file("node.key", slurp(p.files("node-a").key));
  f.ca = s.file("ca.pem", slurp(p.ca()));
  ::chmod(f.certificate.c_str(), 0644);
  ::chmod(f.ca.c_str(), 0644);
  ::chmod(f.key.c_str(), 0);
  std::string message;
  if (::geteuid() != 0) {
    auto id = node_identity::load(f);
    BOOST_REQUIRE(!id);
    BOOST_TEST(id.error().code == errc::bad_request);
    message = id.error().message;
  } else {
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
      ::close(fds[0]);
      std::string out = "setuid failed";
      if (::setgid(65534) == 0 && ::setuid(65534) == 0) {
        auto id = node_identity::load(f);
        out = id ? std::string{"loaded"} : id.error().message;
      }
      auto written = ::write(fds[1], out.data(), out.size());
      (void)written;
      ::_exit(0);
    }
    ::close(fds[1]);
    std::array<char, 1024> buf{};
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf.data(), buf.size())) > 0)
      message.append(buf.data(), static_cast<std::size_t>(n));
    ::close(fds[0]);
    int st = 0;
    ::waitpid(child, &st, 0);
  }
  BOOST_TEST(message == "cluster key " + f.key + " is not readable (permission denied)");
}

BOOST_AUTO_TEST_CASE(files_that_are_not_pem_are_refused) {
  auto& p = certs();
  scratch s;
  auto junk = s.file("junk.pem", "hello, this is not PEM\n");
  auto f = p.files("node-a");
  f.certificate = junk;
  expect_load_error(f, {"cluster certificate " + junk,
                        "is not a PEM X.509 certificate (no -----BEGIN CERTIFICATE----- block)"});
  f = p.files("node-a");
  f.key = junk;
  expect_load_error(f, {"cluster key " + junk + " is not a PEM private key"});
  f = p.files("node-a");
  f.ca = junk;
  expect_load_error(f, {"fabric CA " + junk + " is not a PEM X.509 certificate"});

  // A CERTIFICATE block whose body is not a certificate.
  auto broken = s.file("broken.pem", "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n"
                                     "-----END CERTIFICATE-----\n");
  f = p.files("node-a");
  f.certificate = broken;
  expect_load_error(f, {"cluster certificate " + broken + " is not valid PEM X.509"});

  // Certificate and key given the wrong way round.
  f = p.files("node-a");
  std::swap(f.certificate, f.key);
  expect_load_error(f, {"cluster certificate " + f.certificate, "swapped"});
}

BOOST_AUTO_TEST_CASE(a_key_from_another_node_is_refused) {
  auto& p = certs();
  auto f = p.files("node-a");
  f.key = p.files("node-b").key;
  expect_load_error(f, {"cluster key " + f.key + " does not belong to cluster certificate "
                          + f.certificate});
}

BOOST_AUTO_TEST_CASE(a_certificate_from_a_foreign_ca_is_refused) {
  auto& p = certs();
  tls_files f{(p.foreign / "node-a.pem").string(), (p.foreign / "node-a.key").string(), p.ca()};
  auto id = node_identity::load(f);
  BOOST_REQUIRE(!id);
  BOOST_TEST(id.error().code == errc::bad_request);
  BOOST_TEST(id.error().message.rfind("cluster certificate " + f.certificate
                                        + " is not signed by the fabric CA " + p.ca(),
                                      0)
               == 0u,
             id.error().message);
  // It is a good identity in its own (foreign) fabric.
  f.ca = (p.foreign / "ca.pem").string();
  auto own = node_identity::load(f);
  BOOST_REQUIRE_MESSAGE(own, own);
  BOOST_TEST(own->node_id() == "node-a");
}

BOOST_AUTO_TEST_CASE(an_expired_certificate_is_refused_with_its_dates) {
  auto id = node_identity::load(certs().files("node-old"));
  BOOST_REQUIRE(!id);
  BOOST_TEST(id.error().code == errc::bad_request);
  const auto& m = id.error().message;
  BOOST_TEST(contains(m, "cluster certificate " + certs().files("node-old").certificate
                           + " expired on "),
             m);
  BOOST_TEST(contains(m, "(valid from "), m);
  // It ended a day before it was made (made seconds ago, so allow for midnight).
  auto now = std::time(nullptr);
  BOOST_TEST((contains(m, "expired on " + utc_date(now - 86400))
              || contains(m, "expired on " + utc_date(now - 86400 - 3600))),
             m);
}

BOOST_AUTO_TEST_CASE(a_certificate_not_valid_yet_is_refused_with_its_dates) {
  auto id = node_identity::load(certs().files("node-future"));
  BOOST_REQUIRE(!id);
  BOOST_TEST(contains(id.error().message, "is not valid yet (valid from "), id.error().message);
}

BOOST_AUTO_TEST_CASE(an_encrypted_key_is_refused_clearly) {
  auto& p = certs();
  scratch s;
  auto pkcs8 = (s.dir / "pkcs8.key").string();
  must_run("openssl pkey -in " + quote(p.files("node-a").key)
           + " -aes256 -passout pass:secret -out " + quote(pkcs8));
  auto f = p.files("node-a");
  f.key = pkcs8;
  expect_load_error(f, {"cluster key " + pkcs8 + " is encrypted (passphrase-protected)"});
  // The traditional (OpenSSL 1.0) form, with Proc-Type / DEK-Info headers.
  auto legacy = (s.dir / "legacy.key").string();
  must_run("openssl rsa -in " + quote(p.files("node-a").key)
           + " -traditional -aes128 -passout pass:secret -out " + quote(legacy));
  BOOST_REQUIRE(contains(slurp(legacy), "Proc-Type: 4,ENCRYPTED"));
  f.key = legacy;
  expect_load_error(f, {"cluster key " + legacy + " is encrypted"});
}

BOOST_AUTO_TEST_CASE(a_ca_file_that_is_not_a_ca_or_holds_the_ca_key_is_refused) {
  auto& p = certs();
  scratch s;
  auto f = p.files("node-a");
  f.ca = p.files("node-b").certificate;
  expect_load_error(f, {"fabric CA " + f.ca, "CN=node-b", "is not a CA certificate"});
  f = p.files("node-a");
  f.ca = s.file("ca+key.pem", slurp(p.ca()) + slurp(p.fabric / "ca.key"));
  expect_load_error(f, {"fabric CA " + f.ca + " contains a private key"});
}

// --- signatures and peers ------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_signature_verifies_and_names_the_signer) {
  auto& p = certs();
  auto a = node_identity::load(p.files("node-a"));
  auto b = node_identity::load(p.files("node-b"));
  BOOST_REQUIRE(a);
  BOOST_REQUIRE(b);
  const std::string data = "challenge 5f1e9c: node-a connects to node-b";
  auto sig = a->sign(data);
  BOOST_TEST(sig.size() == 256u); // RSA 2048
  auto who = b->anchor().verify_signed(a->certificate_pem(), data, sig);
  BOOST_REQUIRE_MESSAGE(who, who);
  BOOST_TEST(*who == "node-a");
  // Through base64, as carried in JSON.
  auto carried = from_base64(to_base64(sig));
  BOOST_REQUIRE(carried);
  BOOST_TEST(b->anchor().verify_signed(a->certificate_pem(), data, *carried).has_value());
  // Binary data with NULs signs too.
  const std::string binary("\0\x01\xff\0", 4);
  BOOST_TEST(*a->anchor().verify_signed(b->certificate_pem(), binary, b->sign(binary))
             == "node-b");
}

BOOST_AUTO_TEST_CASE(a_wrong_signature_does_not_match) {
  auto& p = certs();
  auto a = node_identity::load(p.files("node-a"));
  auto b = node_identity::load(p.files("node-b"));
  BOOST_REQUIRE(a);
  BOOST_REQUIRE(b);
  const std::string data = "announce node-a";
  auto& anchor = a->anchor();
  // node-b's key signing while presenting node-a's certificate.
  auto forged = anchor.verify_signed(a->certificate_pem(), data, b->sign(data));
  BOOST_REQUIRE(!forged);
  BOOST_TEST(forged.error().code == errc::unauthorized);
  BOOST_TEST(forged.error().message == "signature does not match the certificate of node node-a");
  // Other data, a flipped bit, an empty signature.
  auto sig = a->sign(data);
  BOOST_TEST(!anchor.verify_signed(a->certificate_pem(), data + ".", sig));
  auto flipped = sig;
  flipped[17] = static_cast<char>(flipped[17] ^ 0x01);
  BOOST_TEST(!anchor.verify_signed(a->certificate_pem(), data, flipped));
  BOOST_TEST(!anchor.verify_signed(a->certificate_pem(), data, ""));
}

BOOST_AUTO_TEST_CASE(a_foreign_ca_peer_is_refused_even_with_its_own_good_signature) {
  auto& p = certs();
  auto anchor = trust_anchor::load(p.ca());
  BOOST_REQUIRE_MESSAGE(anchor, anchor);
  auto foreign_pem = slurp(p.foreign / "node-a.pem");
  auto r = anchor->verify_peer(foreign_pem);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().code == errc::unauthorized);
  BOOST_TEST(contains(r.error().message,
                      "peer certificate CN=node-a is not signed by the fabric CA " + p.ca()),
             r.error().message);
  auto impostor = node_identity::load({(p.foreign / "node-a.pem").string(),
                                       (p.foreign / "node-a.key").string(),
                                       (p.foreign / "ca.pem").string()});
  BOOST_REQUIRE(impostor);
  const std::string data = "announce node-a";
  auto s = anchor->verify_signed(impostor->certificate_pem(), data, impostor->sign(data));
  BOOST_REQUIRE(!s);
  BOOST_TEST(contains(s.error().message, "is not signed by the fabric CA"), s.error().message);
  // The real node-a verifies.
  BOOST_TEST(*anchor->verify_peer(p.pem("node-a")) == "node-a");
}

BOOST_AUTO_TEST_CASE(verify_peer_names_each_reason) {
  auto& p = certs();
  auto anchor = trust_anchor::load(p.ca());
  BOOST_REQUIRE(anchor);
  auto junk = anchor->verify_peer("not a certificate");
  BOOST_REQUIRE(!junk);
  BOOST_TEST(junk.error().code == errc::bad_request);
  BOOST_TEST(contains(junk.error().message, "is not a PEM X.509 certificate"));
  auto old = anchor->verify_peer(p.pem("node-old"));
  BOOST_REQUIRE(!old);
  BOOST_TEST(contains(old.error().message, "peer certificate CN=node-old expired on "),
             old.error().message);
  auto future = anchor->verify_peer(p.pem("node-future"));
  BOOST_REQUIRE(!future);
  BOOST_TEST(contains(future.error().message, "is not valid yet"), future.error().message);
  // The CA's own certificate chains to itself, but is no node.
  auto ca = anchor->verify_peer(slurp(p.ca()));
  BOOST_REQUIRE(!ca);
  BOOST_TEST(contains(ca.error().message, "is a CA certificate, not a node certificate"),
             ca.error().message);
  // A private key in the announced text is refused outright.
  auto leaked = anchor->verify_peer(p.pem("node-a") + slurp(p.files("node-a").key));
  BOOST_REQUIRE(!leaked);
  BOOST_TEST(contains(leaked.error().message, "contains a private key"));
}

BOOST_AUTO_TEST_CASE(the_node_id_falls_back_to_the_san_and_is_required) {
  auto& p = certs();
  scratch s;
  auto key = p.files("node-a").key;
  auto ca_key = (p.fabric / "ca.key").string();
  auto issue = [&](const std::string& name, const std::string& ext) {
    auto csr = (s.dir / (name + ".csr")).string();
    auto pem = (s.dir / (name + ".pem")).string();
    must_run("openssl req -new -key " + quote(key) + " -subj /O=twin -out " + quote(csr));
    std::string extopt;
    if (!ext.empty())
      extopt = " -extfile " + quote(s.file(name + ".ext", ext));
    must_run("openssl x509 -req -in " + quote(csr) + " -CA " + quote(p.ca()) + " -CAkey "
             + quote(ca_key) + " -set_serial 4242 -days 1 -out " + quote(pem) + extopt);
    return slurp(pem);
  };
  auto anchor = trust_anchor::load(p.ca());
  BOOST_REQUIRE(anchor);
  auto uri = anchor->verify_peer(issue("uri", "subjectAltName=URI:urn:twin:node:edge-7\n"));
  BOOST_REQUIRE_MESSAGE(uri, uri);
  BOOST_TEST(*uri == "urn:twin:node:edge-7");
  auto dns = anchor->verify_peer(
    issue("dns", "subjectAltName=URI:urn:twin:node:x,DNS:node-dns\n"));
  BOOST_REQUIRE_MESSAGE(dns, dns);
  BOOST_TEST(*dns == "node-dns"); // DNS before URI
  auto none = anchor->verify_peer(issue("none", ""));
  BOOST_REQUIRE(!none);
  BOOST_TEST(contains(none.error().message, "carries no node id"), none.error().message);
  // And load refuses an identity without one.
  auto f = p.files("node-a");
  f.certificate = (s.dir / "none.pem").string();
  expect_load_error(f, {"cluster certificate " + f.certificate + " carries no node id"});
}

BOOST_AUTO_TEST_CASE(ec_and_ed25519_keys_sign_and_verify_too) {
  auto& p = certs();
  scratch s;
  auto ca_key = (p.fabric / "ca.key").string();
  auto ext = s.file("node.ext", "basicConstraints=critical,CA:FALSE\n");
  int serial = 7000;
  for (std::string algorithm : {"EC -pkeyopt ec_paramgen_curve:P-256", "ED25519"}) {
    auto name = algorithm.substr(0, 2) == "EC" ? std::string{"node-ec"} : "node-ed";
    auto key = (s.dir / (name + ".key")).string();
    auto csr = (s.dir / (name + ".csr")).string();
    auto pem = (s.dir / (name + ".pem")).string();
    must_run("openssl genpkey -algorithm " + algorithm + " -out " + quote(key));
    must_run("openssl req -new -key " + quote(key) + " -subj /CN=" + name + " -out "
             + quote(csr));
    must_run("openssl x509 -req -in " + quote(csr) + " -CA " + quote(p.ca()) + " -CAkey "
             + quote(ca_key) + " -set_serial " + std::to_string(serial++)
             + " -days 1 -extfile " + quote(ext) + " -out " + quote(pem));
    auto id = node_identity::load({pem, key, p.ca()});
    BOOST_REQUIRE_MESSAGE(id, algorithm << ": " << id);
    BOOST_TEST(id->node_id() == name);
    auto who = id->anchor().verify_signed(id->certificate_pem(), "hello", id->sign("hello"));
    BOOST_REQUIRE_MESSAGE(who, algorithm << ": " << who);
    BOOST_TEST(*who == name);
    BOOST_TEST(!id->anchor().verify_signed(id->certificate_pem(), "hellO", id->sign("hello")));
  }
}

BOOST_AUTO_TEST_CASE(signing_and_verifying_from_several_threads_at_once) {
  auto& p = certs();
  auto a = node_identity::load(p.files("node-a"));
  BOOST_REQUIRE(a);
  std::atomic<int> good{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto data = "message " + std::to_string(t) + "/" + std::to_string(i);
        auto r = a->anchor().verify_signed(a->certificate_pem(), data, a->sign(data));
        (r && *r == "node-a" ? good : bad)++;
        // A wrong signature fails on every thread too.
        if (a->anchor().verify_signed(a->certificate_pem(), data + "!", a->sign(data)))
          bad++;
      }
    });
  for (auto& th : threads)
    th.join();
  BOOST_TEST(good.load() == 200);
  BOOST_TEST(bad.load() == 0);
}

BOOST_AUTO_TEST_CASE(an_identity_moves_and_copies) {
  auto id = node_identity::load(certs().files("node-a"));
  BOOST_REQUIRE(id);
  node_identity moved = std::move(*id);
  auto copy = moved;
  BOOST_TEST(copy.node_id() == "node-a");
  BOOST_TEST(*moved.anchor().verify_signed(copy.certificate_pem(), "x", copy.sign("x"))
             == "node-a");
}

// --- base64 and hex ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(base64_matches_rfc_4648_and_round_trips) {
  const std::vector<std::pair<std::string, std::string>> vectors{
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto& [plain, coded] : vectors) {
    BOOST_TEST(to_base64(plain) == coded);
    auto back = from_base64(coded);
    BOOST_REQUIRE(back);
    BOOST_TEST(*back == plain);
  }
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    auto part = all.substr(0, n);
    auto back = from_base64(to_base64(part));
    BOOST_REQUIRE(back);
    BOOST_TEST(*back == part);
  }
  BOOST_TEST(to_base64("\xfb\xff") == "+/8=");
}

BOOST_AUTO_TEST_CASE(base64_refuses_malformed_text) {
  for (std::string bad : {"Zg=", "Zg=a", "Z===", "====", "Zh==", "Zm9=", "Zm9v\n", "Zm9-",
                          "Zg==Zm9v", "Zm 9v"}) {
    auto r = from_base64(bad);
    BOOST_TEST(!r, "accepted \"" << bad << "\"");
    if (!r)
      BOOST_TEST(r.error().code == errc::bad_request);
  }
}

BOOST_AUTO_TEST_CASE(hex_round_trips_and_refuses_malformed_text) {
  BOOST_TEST(to_hex(std::string("\x00\x7f\xff\x10", 4)) == "007fff10");
  BOOST_TEST(*from_hex("007FfF10") == std::string("\x00\x7f\xff\x10", 4));
  BOOST_TEST(!from_hex("abc"));
  BOOST_TEST(!from_hex("zz"));
}

BOOST_AUTO_TEST_SUITE_END()
