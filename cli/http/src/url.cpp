#include "twin/http/client.hpp"

#include <cctype>

namespace twin::http {

std::string url::to_string() const {
  return scheme + "://" + host + ":" + port + prefix;
}

expected<url> url::parse(std::string_view text) {
  url u;
  auto sep = text.find("://");
  if (sep == std::string_view::npos)
    return make_error(errc::bad_request,
                      "bad URL '" + std::string{text}
                        + "': expected http://HOST[:PORT] or https://HOST[:PORT]");
  u.scheme = std::string{text.substr(0, sep)};
  for (auto& c : u.scheme)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https")
    return make_error(errc::bad_request,
                      "unsupported URL scheme '" + u.scheme + "' in '"
                        + std::string{text} + "' (use http or https)");
  auto rest = text.substr(sep + 3);
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    u.prefix = std::string{rest.substr(slash)};
    while (!u.prefix.empty() && u.prefix.back() == '/')
      u.prefix.pop_back();
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return make_error(errc::bad_request, "bad IPv6 host in URL '"
                                             + std::string{text} + "'");
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return make_error(errc::bad_request, "bad URL '" + std::string{text} + "'");
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty())
    return make_error(errc::bad_request,
                      "missing host in URL '" + std::string{text} + "'");
  u.host = std::string{host};
  if (port.empty()) {
    u.port = u.tls() ? "443" : "80";
  } else {
    unsigned long n = 0;
    for (char c : port) {
      if (c < '0' || c > '9')
        return make_error(errc::bad_request, "bad port in URL '"
                                               + std::string{text} + "'");
      n = n * 10 + static_cast<unsigned long>(c - '0');
      if (n > 65535)
        return make_error(errc::bad_request, "bad port in URL '"
                                               + std::string{text} + "'");
    }
    u.port = std::string{port};
  }
  return u;
}

namespace {

std::string encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool keep = std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
                || c == ':' || c == ';' || c == '@' || c == ',';
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace

std::string encode_path_segment(std::string_view s) {
  return encode(s);
}

std::string encode_query_value(std::string_view s) {
  return encode(s);
}

} // namespace twin::http
