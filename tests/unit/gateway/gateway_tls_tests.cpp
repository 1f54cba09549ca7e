// HTTPS: the gateway with a certificate and key (a throw-away self-signed
// pair generated here with OpenSSL).

#include <cstdio>
#include <filesystem>
#include <memory>

#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/test/unit_test.hpp>

#include "fake_fabric.hpp"

using namespace twin;
using namespace twin::test;
namespace fs = std::filesystem;

namespace {

/// Writes a self-signed EC certificate for 127.0.0.1 and its key to `dir`.
void write_self_signed(const fs::path& dir) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"),
                                                          &EVP_PKEY_free);
  BOOST_REQUIRE(key);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  auto* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  BOOST_REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  auto write = [](const fs::path& p, auto&& fn) {
    std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(p.c_str(), "w"),
                                                    &std::fclose);
    BOOST_REQUIRE(f);
    BOOST_REQUIRE(fn(f.get()) == 1);
  };
  write(dir / "cert.pem", [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
  write(dir / "key.pem", [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr,
                                nullptr);
  });
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path()
           / ("twin-gateway-tls-" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(gateway_tls)

BOOST_AUTO_TEST_CASE(with_a_certificate_and_key_the_gateway_serves_https) {
  temp_dir dir;
  write_self_signed(dir.path);
  gateway::gateway_options o;
  o.tls_cert_file = (dir.path / "cert.pem").string();
  o.tls_key_file = (dir.path / "key.pem").string();
  gateway_fixture f(o);
  BOOST_TEST(f.gw->tls());
  auto r = https(f.port(), "GET", "/api/v1/twins/p1", f.auth());
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("etag") == "\"7\"");
  BOOST_TEST(https(f.port(), "GET", "/api/v1/twins/p1").status == 401);
  BOOST_TEST(https(f.port(), "GET", "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(a_certificate_without_a_key_is_refused_at_start) {
  fake_fabric fabric;
  auto tokens = security::token_table::parse("");
  BOOST_REQUIRE(tokens);
  gateway::gateway_options o;
  o.port = 0;
  o.tls_cert_file = "/tmp/cert.pem";
  auto g = gateway::gateway::start(o, fabric, *tokens);
  BOOST_REQUIRE(!g);
  BOOST_TEST(g.error().code == errc::bad_request);
}

BOOST_AUTO_TEST_SUITE_END()
