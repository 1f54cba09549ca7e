#include "api.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "embedded.hpp"

namespace twin::gateway::detail {

namespace {

constexpr std::string_view api_prefix = "/api/v1";
constexpr std::string_view json_type = "application/json";
constexpr std::string_view problem_type = "application/problem+json";

std::string dump(const json& j) {
  // Replace invalid UTF-8 rather than throw: a reply must always go out.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              auto lower = [](char c) {
                return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
              };
              return lower(x) == lower(y);
            });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

template <class Int>
std::optional<Int> parse_uint(std::string_view s) {
  Int v{};
  if (s.empty())
    return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

response json_response(int status, const json& body) {
  return response{status, std::string(json_type), dump(body), {}};
}

// -- routes ------------------------------------------------------------------

/// Every route of the API: the template (metrics label) and its methods.
enum class route_id {
  none,
  dashboard,
  ui_file,
  healthz,
  metrics,
  openapi,
  twins,
  twin,
  twin_telemetry,
  twin_lifecycle,
  twin_lineage,
  twin_history,
  twin_behaviour,
  models,
  model,
  audit,
  audit_verify,
  alerts,
  events,
  cluster,
};

struct route_info {
  route_id id = route_id::none;
  std::string_view label = "unmatched";
  std::string_view allow;     ///< methods, comma separated
  bool needs_auth = false;
  std::string param;          ///< decoded {id} / {dtmi} / {file}
  std::string param2;         ///< decoded {name} (behaviours)
};

bool allowed(std::string_view allow, std::string_view method) {
  while (!allow.empty()) {
    auto comma = allow.find(',');
    auto item = trim(allow.substr(0, comma));
    if (item == method)
      return true;
    if (comma == std::string_view::npos)
      break;
    allow.remove_prefix(comma + 1);
  }
  return false;
}

/// Splits `path` (which starts with '/') into decoded segments. A trailing
/// slash yields a final empty segment. None on a malformed escape.
std::optional<std::vector<std::string>> split_path(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path.front() != '/')
    return std::nullopt;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    auto raw = path.substr(0, slash);
    auto dec = percent_decode(raw, false);
    if (!dec)
      return std::nullopt;
    out.push_back(std::move(*dec));
    if (slash == std::string_view::npos)
      break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

route_info match(const std::vector<std::string>& seg) {
  route_info r;
  auto set = [&](route_id id, std::string_view label, std::string_view allow,
                 bool auth, std::string param = {}) {
    r.id = id;
    r.label = label;
    r.allow = allow;
    r.needs_auth = auth;
    r.param = std::move(param);
  };
  const auto n = seg.size();
  // "/" and "/ui", "/ui/", "/ui/FILE": the dashboard.
  if (n == 1 && seg[0].empty()) {
    set(route_id::dashboard, "/", "GET", false);
    return r;
  }
  if (seg[0] == "ui") {
    if (n == 1 || (n == 2 && seg[1].empty()))
      set(route_id::dashboard, "/ui/*", "GET", false);
    else if (n == 2)
      set(route_id::ui_file, "/ui/*", "GET", false, seg[1]);
    return r;
  }
  if (n == 1 && seg[0] == "healthz") {
    set(route_id::healthz, "/healthz", "GET", false);
    return r;
  }
  if (n == 1 && seg[0] == "metrics") {
    set(route_id::metrics, "/metrics", "GET", false);
    return r;
  }
  if (n < 3 || seg[0] != "api" || seg[1] != "v1")
    return r;
  const auto& s = seg[2];
  if (n == 3) {
    if (s == "openapi.json")
      set(route_id::openapi, "/api/v1/openapi.json", "GET", false);
    else if (s == "twins")
      set(route_id::twins, "/api/v1/twins", "GET", true);
    else if (s == "models")
      set(route_id::models, "/api/v1/models", "GET, POST", true);
    else if (s == "audit")
      set(route_id::audit, "/api/v1/audit", "GET", true);
    else if (s == "alerts")
      set(route_id::alerts, "/api/v1/alerts", "GET", true);
    else if (s == "events")
      set(route_id::events, "/api/v1/events", "GET", true);
    else if (s == "cluster")
      set(route_id::cluster, "/api/v1/cluster", "GET", true);
    return r;
  }
  if (seg[3].empty())
    return r;
  if (n == 4) {
    if (s == "twins")
      set(route_id::twin, "/api/v1/twins/{id}", "GET, PUT, PATCH", true,
          seg[3]);
    else if (s == "models")
      set(route_id::model, "/api/v1/models/{dtmi}", "GET, DELETE", true,
          seg[3]);
    else if (s == "audit" && seg[3] == "verify")
      set(route_id::audit_verify, "/api/v1/audit/verify", "GET", true);
    return r;
  }
  if (n == 5 && s == "twins") {
    if (seg[4] == "telemetry")
      set(route_id::twin_telemetry, "/api/v1/twins/{id}/telemetry", "POST",
          true, seg[3]);
    else if (seg[4] == "lifecycle")
      set(route_id::twin_lifecycle, "/api/v1/twins/{id}/lifecycle", "POST",
          true, seg[3]);
    else if (seg[4] == "lineage")
      set(route_id::twin_lineage, "/api/v1/twins/{id}/lineage", "GET", true,
          seg[3]);
    else if (seg[4] == "history")
      set(route_id::twin_history, "/api/v1/twins/{id}/history", "GET", true,
          seg[3]);
  }
  if (n == 6 && s == "twins" && seg[4] == "behaviours" && !seg[5].empty()) {
    set(route_id::twin_behaviour, "/api/v1/twins/{id}/behaviours/{name}",
        "PUT, DELETE", true, seg[3]);
    r.param2 = seg[5];
  }
  return r;
}

// -- assets -----------------------------------------------------------------

class embedded_assets final : public asset_source {
public:
  explicit embedded_assets(std::string dir) : dir_(std::move(dir)) {}

  std::optional<std::string> find(std::string_view name) const override {
    if (!dir_.empty() && name != "openapi.json" && safe_name(name)) {
      std::ifstream in(dir_ + "/" + std::string(name), std::ios::binary);
      if (in) {
        std::ostringstream buf;
        buf << in.rdbuf();
        return std::move(buf).str();
      }
    }
    for (std::size_t i = 0; i < embedded_file_count; ++i)
      if (embedded_files[i].name == name)
        return std::string(embedded_files[i].data);
    return std::nullopt;
  }

private:
  static bool safe_name(std::string_view name) {
    if (name.empty() || name.front() == '.')
      return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
             || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    });
  }

  std::string dir_;
};

// -- replies -----------------------------------------------------------------

/// Adds `ETag: "REV"` when the body is a twin document.
void add_etag(response& r, const json& body) {
  if (body.is_object()) {
    auto it = body.find("$revision");
    // Parsed JSON holds 7 as unsigned, a json built in C++ as signed.
    if (it != body.end() && it->is_number_integer()
        && (it->is_number_unsigned() || it->get<std::int64_t>() >= 0))
      r.headers.emplace_back("ETag",
                             "\"" + std::to_string(it->get<std::uint64_t>())
                               + "\"");
  }
}

/// Wraps `done` into the fabric's reply_fn: success -> `ok_status`,
/// errors -> problem+json. Tolerates a fabric that replies twice (the second
/// reply is dropped) and never throws into the fabric.
actors::reply_fn make_reply(api::done_fn done, int ok_status,
                            std::string instance, bool etag) {
  auto once = std::make_shared<std::atomic<bool>>(false);
  return [done = std::move(done), ok_status, instance = std::move(instance),
          etag, once](expected<json> r) {
    if (once->exchange(true))
      return;
    response out;
    try {
      if (!r) {
        out = problem_response(r.error(), instance);
      } else if (ok_status == 204) {
        out.status = 204;
      } else {
        out = json_response(ok_status, *r);
        if (etag)
          add_etag(out, *r);
      }
    } catch (const std::exception& e) {
      out = problem_response(make_error(errc::internal, e.what()), instance);
    }
    done(std::move(out));
  };
}

} // namespace

// -- helpers -------------------------------------------------------------------

std::optional<std::string> percent_decode(std::string_view s,
                                          bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (s.size() - i < 3)
        return std::nullopt;
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>>
parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto item = q.substr(0, amp);
    if (!item.empty()) {
      auto eq = item.find('=');
      auto key = percent_decode(item.substr(0, eq), true);
      auto val = eq == std::string_view::npos
                   ? std::optional<std::string>{std::string{}}
                   : percent_decode(item.substr(eq + 1), true);
      if (!key || !val)
        return std::nullopt;
      out[std::move(*key)] = std::move(*val);
    }
    if (amp == std::string_view::npos)
      break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

expected<std::optional<std::uint64_t>> parse_if_match(std::string_view v) {
  auto bad = [&] {
    return make_error(errc::bad_request,
                      "malformed If-Match '" + std::string(v)
                        + "': expected a revision such as 7 or \"7\"",
                      "if-match");
  };
  auto s = trim(v);
  if (s == "*")
    return std::optional<std::uint64_t>{};
  if (s.size() >= 2 && s[0] == 'W' && s[1] == '/')
    s.remove_prefix(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
    s = s.substr(1, s.size() - 2);
  auto rev = parse_uint<std::uint64_t>(s);
  if (!rev)
    return bad();
  return std::optional<std::uint64_t>{*rev};
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
  }
  return "Error";
}

json problem(const error& e, std::string_view instance, int status) {
  if (status == 0)
    status = http_status(e.code);
  auto code = std::string(to_string(e.code));
  json p = {{"type", "urn:twin-fabric:error:" + code},
            {"title", std::string(reason_phrase(status))},
            {"status", status},
            {"code", code},
            {"detail", e.message}};
  if (!e.rule.empty())
    p["rule"] = e.rule;
  if (!e.path.empty())
    p["path"] = e.path;
  if (!e.source.empty())
    p["source"] = e.source;
  if (!e.errors.empty()) {
    json list = json::array();
    for (const auto& sub : e.errors) {
      json item = {{"code", std::string(to_string(sub.code))},
                   {"detail", sub.message}};
      if (!sub.rule.empty())
        item["rule"] = sub.rule;
      if (!sub.path.empty())
        item["path"] = sub.path;
      if (!sub.source.empty())
        item["source"] = sub.source;
      list.push_back(std::move(item));
    }
    p["errors"] = std::move(list);
  }
  p["instance"] = std::string(instance);
  return p;
}

response problem_response(const error& e, std::string_view instance,
                          int status) {
  if (status == 0)
    status = http_status(e.code);
  response r{status, std::string(problem_type), dump(problem(e, instance, status)),
             {}};
  if (status == 401)
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"twin-fabric\"");
  return r;
}

std::string_view mime_type(std::string_view name) noexcept {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size()
           && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html"))
    return "text/html; charset=utf-8";
  if (ends(".js"))
    return "text/javascript; charset=utf-8";
  if (ends(".css"))
    return "text/css; charset=utf-8";
  if (ends(".json"))
    return "application/json";
  if (ends(".svg"))
    return "image/svg+xml";
  if (ends(".png"))
    return "image/png";
  if (ends(".ico"))
    return "image/x-icon";
  return "application/octet-stream";
}

std::string generate_request_id() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    return (std::uint64_t(rd()) << 32) ^ rd();
  }()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int half = 0; half < 2; ++half) {
    auto v = rng();
    for (int i = 0; i < 16; ++i)
      out[half * 16 + i] = hex[(v >> (i * 4)) & 0xf];
  }
  return out;
}

std::string choose_request_id(std::string_view header) {
  if (!header.empty() && header.size() <= 128
      && std::all_of(header.begin(), header.end(),
                     [](char c) { return c > 0x20 && c < 0x7f; }))
    return std::string(header);
  return generate_request_id();
}

std::unique_ptr<asset_source> make_asset_source(std::string ui_directory) {
  return std::make_unique<embedded_assets>(std::move(ui_directory));
}

// -- api -----------------------------------------------------------------------

api::api(actors::fabric& fabric, const security::token_table& tokens,
         std::unique_ptr<asset_source> assets)
  : fabric_(fabric), tokens_(tokens), assets_(std::move(assets)) {}

response api::too_large(std::string_view target, std::size_t limit) {
  auto path = target.substr(0, target.find('?'));
  return problem_response(
    make_error(errc::bad_request, "request body exceeds the limit of "
                                    + std::to_string(limit) + " bytes"),
    path, 413);
}

outcome api::handle(const request& req, done_fn done) const {
  outcome out;
  std::string_view target = req.target;
  auto qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  std::string_view query =
    qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
  auto fail = [&](error e, int status = 0) {
    out.now = problem_response(e, path, status);
    return out;
  };

  auto segments = split_path(path);
  if (!segments)
    return fail(make_error(errc::bad_request,
                           "malformed request target '" + std::string(path)
                             + "'"));
  auto route = match(*segments);
  out.route = std::string(route.label);
  if (route.id == route_id::none)
    return fail(make_error(errc::not_found,
                           "no route for '" + std::string(path) + "'"));
  if (!allowed(route.allow, req.method)) {
    fail(make_error(errc::bad_request,
                    "method " + req.method + " is not allowed on '"
                      + std::string(path) + "'; allowed: "
                      + std::string(route.allow)),
         405);
    out.now->headers.emplace_back("Allow", std::string(route.allow));
    return out;
  }
  auto params = parse_query(query);
  if (!params)
    return fail(make_error(errc::bad_request, "malformed query string"));
  auto param = [&](const char* key) -> std::optional<std::string> {
    auto it = params->find(key);
    if (it == params->end())
      return std::nullopt;
    return it->second;
  };

  // -- public routes ----------------------------------------------------------
  auto asset = [&](std::string_view name) {
    auto body = assets_->find(name);
    if (!body)
      return fail(make_error(errc::not_found,
                             "no file '" + std::string(name) + "'"));
    out.now = response{200, std::string(mime_type(name)), std::move(*body),
                       {{"Cache-Control", "no-cache"}}};
    return out;
  };
  switch (route.id) {
    case route_id::dashboard:
      return asset("index.html");
    case route_id::ui_file:
      return asset(route.param);
    case route_id::openapi:
      return asset("openapi.json");
    case route_id::healthz: {
      try {
        auto h = fabric_.health();
        auto status = h.value("status", std::string{});
        out.now = json_response(status == "ok" ? 200 : 503, h);
      } catch (const std::exception& e) {
        return fail(make_error(errc::internal, e.what()));
      }
      return out;
    }
    case route_id::metrics: {
      try {
        auto text =
          prometheus::TextSerializer{}.Serialize(fabric_.metrics().Collect());
        out.now = response{200, "text/plain; version=0.0.4; charset=utf-8",
                           std::move(text), {}};
      } catch (const std::exception& e) {
        return fail(make_error(errc::internal, e.what()));
      }
      return out;
    }
    default:
      break;
  }

  // -- authentication ---------------------------------------------------------
  std::string token;
  bool from_header = false;
  {
    auto auth = trim(req.authorization);
    auto sp = auth.find(' ');
    if (!auth.empty()) {
      from_header = true;
      if (sp != std::string_view::npos && iequals(auth.substr(0, sp), "Bearer"))
        token = std::string(trim(auth.substr(sp + 1)));
    }
    if (!from_header && route.id == route_id::events)
      if (auto t = param("access_token"))
        token = *t;
  }
  if (token.empty()) {
    bool had_creds = from_header || (route.id == route_id::events
                                     && params->count("access_token"));
    return fail(make_error(errc::unauthorized,
                           had_creds ? "malformed credentials: expected "
                                       "'Authorization: Bearer TOKEN'"
                                     : "missing bearer token"));
  }
  auto who = tokens_.authenticate(token);
  if (!who) {
    auto e = who.error();
    e.code = errc::unauthorized;
    if (e.message.empty())
      e.message = "invalid bearer token";
    fail(e, 401);
    return out;
  }
  actors::request_context ctx{std::move(*who), req.request_id};
  if (ctx.request_id.empty())
    ctx.request_id = generate_request_id();

  if (route.id == route_id::events) {
    out.stream = std::move(ctx);
    return out;
  }

  // -- bodies and parameters ----------------------------------------------------
  auto parse_body = [&]() -> expected<json> {
    try {
      return json::parse(req.body);
    } catch (const json::parse_error& e) {
      return make_error(errc::bad_request,
                        std::string("invalid JSON body: ") + e.what());
    }
  };
  auto uint_param = [&]<class Int>(const char* key, Int def,
                                   Int max) -> expected<Int> {
    auto v = param(key);
    if (!v)
      return def;
    auto n = parse_uint<Int>(*v);
    if (!n || *n > max)
      return make_error(errc::bad_request,
                        std::string("query parameter '") + key
                          + "' must be an integer from 0 to "
                          + std::to_string(max));
    return *n;
  };
  const std::string instance(path);
  auto reply = [&](int ok_status, bool etag = false) {
    return make_reply(std::move(done), ok_status, instance, etag);
  };

  try {
    switch (route.id) {
      case route_id::twins: {
        actors::list_query q;
        q.model = param("model").value_or("");
        q.lifecycle = param("lifecycle").value_or("");
        q.after = param("pageToken").value_or("");
        auto limit = uint_param("limit", std::size_t{100}, std::size_t{1000});
        if (!limit)
          return fail(limit.error());
        if (*limit == 0)
          return fail(make_error(errc::bad_request,
                                 "query parameter 'limit' must be from 1 to "
                                 "1000"));
        q.limit = *limit;
        fabric_.list_twins(ctx, std::move(q), reply(200));
        return out;
      }
      case route_id::twin: {
        if (req.method == "GET") {
          if (auto hot = fabric_.cached_twin(ctx, route.param)) {
            response r;
            r.status = 200;
            r.content_type = std::string(json_type);
            r.body = hot->json;
            r.headers.emplace_back("ETag",
                                   "\"" + std::to_string(hot->revision) + "\"");
            out.now = std::move(r);
            return out;
          }
          fabric_.get_twin(ctx, route.param, reply(200, true));
        } else if (req.method == "PUT") {
          auto body = parse_body();
          if (!body)
            return fail(body.error());
          fabric_.create_twin(ctx, route.param, std::move(*body),
                              reply(201, true));
        } else { // PATCH
          std::optional<std::uint64_t> rev;
          if (req.has_if_match) {
            auto m = parse_if_match(req.if_match);
            if (!m)
              return fail(m.error());
            rev = *m;
          }
          auto body = parse_body();
          if (!body)
            return fail(body.error());
          fabric_.patch_twin(ctx, route.param, std::move(*body), rev,
                             reply(200, true));
        }
        return out;
      }
      case route_id::twin_telemetry: {
        auto body = parse_body();
        if (!body)
          return fail(body.error());
        fabric_.ingest(ctx, route.param, std::move(*body), reply(202));
        return out;
      }
      case route_id::twin_lifecycle: {
        auto body = parse_body();
        if (!body)
          return fail(body.error());
        fabric_.transition(ctx, route.param, std::move(*body),
                           reply(200, true));
        return out;
      }
      case route_id::twin_lineage:
        fabric_.lineage(ctx, route.param, param("property").value_or(""),
                        param("at"), reply(200));
        return out;
      case route_id::twin_history: {
        actors::history_request q;
        q.name = param("name").value_or("");
        if (q.name.empty())
          return fail(make_error(errc::bad_request,
                                 "query parameter 'name' (a property or "
                                 "telemetry name) is required",
                                 "query-parameter", "name"));
        q.from = param("from").value_or("");
        q.to = param("to").value_or("");
        q.resolution = param("resolution").value_or("auto");
        if (q.resolution != "raw" && q.resolution != "1m"
            && q.resolution != "1h" && q.resolution != "auto")
          return fail(make_error(errc::bad_request,
                                 "query parameter 'resolution' must be raw, "
                                 "1m, 1h or auto",
                                 "query-parameter", "resolution"));
        auto limit = uint_param("limit", std::size_t{10000},
                                std::size_t{100000});
        if (!limit)
          return fail(limit.error());
        if (*limit == 0)
          return fail(make_error(errc::bad_request,
                                 "query parameter 'limit' must be from 1 to "
                                 "100000"));
        q.limit = *limit;
        fabric_.history(ctx, route.param, std::move(q), reply(200));
        return out;
      }
      case route_id::twin_behaviour:
        if (req.method == "PUT") {
          auto body = parse_body();
          if (!body)
            return fail(body.error());
          fabric_.attach_behaviour(ctx, route.param, route.param2, std::move(*body),
                                   reply(200, true));
        } else {
          fabric_.detach_behaviour(ctx, route.param, route.param2, reply(200, true));
        }
        return out;
      case route_id::models:
        if (req.method == "GET") {
          fabric_.list_models(ctx, reply(200));
        } else {
          auto body = parse_body();
          if (!body)
            return fail(body.error());
          fabric_.add_models(ctx, std::move(*body), reply(201));
        }
        return out;
      case route_id::model:
        if (req.method == "GET")
          fabric_.get_model(ctx, route.param, reply(200));
        else
          fabric_.delete_model(ctx, route.param, reply(204));
        return out;
      case route_id::audit:
      case route_id::alerts: {
        auto from = uint_param("from", std::uint64_t{0},
                               std::numeric_limits<std::uint64_t>::max());
        if (!from)
          return fail(from.error());
        auto limit = uint_param("limit", std::size_t{100}, std::size_t{1000});
        if (!limit)
          return fail(limit.error());
        if (route.id == route_id::audit)
          fabric_.list_audit(ctx, *from, *limit, reply(200));
        else
          fabric_.list_alerts(ctx, *from, *limit, reply(200));
        return out;
      }
      case route_id::audit_verify:
        fabric_.verify_audit(ctx, reply(200));
        return out;
      case route_id::cluster:
        fabric_.cluster_status(ctx, reply(200));
        return out;
      default:
        return fail(make_error(errc::internal, "unhandled route"));
    }
  } catch (const std::exception& e) {
    // A fabric that throws instead of replying: answer now. If it threw
    // after it had replied, the reply's once-flag is set already and the
    // transport ignores a second answer (it only takes the first).
    return fail(make_error(errc::internal, e.what()));
  }
}

} // namespace twin::gateway::detail
