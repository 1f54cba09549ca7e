#include "commands.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "cluster_view.hpp"
#include "output.hpp"
#include "twin/model/dtdl.hpp"

namespace twinctl {

namespace fs = std::filesystem;
using nlohmann::json;
using twin::http::encode_path_segment;
using twin::http::encode_query_value;

// -- values -----------------------------------------------------------------

json parse_value(const std::string& text) {
  auto v = json::parse(text, nullptr, false);
  if (v.is_discarded())
    return json(text);
  return v;
}

json parse_assignments(const std::vector<std::string>& sets) {
  json out = json::object();
  for (const auto& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw usage_error("--set expects NAME=VALUE, got '" + s + "'");
    out[s.substr(0, eq)] = parse_value(s.substr(eq + 1));
  }
  return out;
}

namespace {

json parse_json_argument(const std::string& what, const std::string& text) {
  auto v = json::parse(text, nullptr, false);
  if (v.is_discarded())
    throw usage_error(what + " is not valid JSON: " + text);
  return v;
}

std::string twin_path(const std::string& id) {
  return "/api/v1/twins/" + encode_path_segment(id);
}

void add_query(std::string& target, const char* name, const std::string& value) {
  if (value.empty())
    return;
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += name;
  target += '=';
  target += encode_query_value(value);
}

void print_json(const json& j) {
  std::cout << j.dump(2) << '\n';
}

/// Prints the body of a response as JSON (pretty) or verbatim.
void print_body(const twin::http::response& r) {
  auto j = r.json();
  if (j.is_discarded())
    std::cout << r.body << (r.body.empty() || r.body.back() == '\n' ? "" : "\n");
  else
    print_json(j);
}

std::string source_of(const json& lineage) {
  if (!lineage.is_object())
    return "-";
  auto src = lineage.find("source");
  if (src == lineage.end())
    return "-";
  if (src->is_object()) {
    std::string kind = cell(*src, "kind");
    std::string id = cell(*src, "id");
    return kind == "-" ? id : kind + ":" + id;
  }
  return cell(*src);
}

void print_twin(const json& t) {
  print_fields(std::cout, {{"id", cell(t, "$id")},
                           {"model", cell(t, "$model")},
                           {"lifecycle", cell(t, "$lifecycle")},
                           {"revision", cell(t, "$revision")},
                           {"created", cell(t, "$createdAt")},
                           {"updated", cell(t, "$updatedAt")}});
  table tbl({"kind", "name", "value", "version", "source time"});
  for (const char* kind : {"properties", "telemetry"}) {
    auto it = t.find(kind);
    if (it == t.end() || !it->is_object())
      continue;
    for (const auto& [name, v] : it->items()) {
      std::string k = kind == std::string_view{"properties"} ? "property" : "telemetry";
      if (v.is_object() && v.contains("value"))
        tbl.add({k, name, cell(v["value"]), cell(v, "version"), cell(v, "sourceTime")});
      else
        tbl.add({k, name, cell(v), "-", "-"});
    }
  }
  if (!tbl.empty()) {
    std::cout << '\n';
    tbl.print(std::cout);
  }
}

std::string display_name(const json& item) {
  auto it = item.find("displayName");
  if (it == item.end() || it->is_null())
    return "-";
  if (it->is_object()) {
    if (it->contains("en"))
      return cell((*it)["en"]);
    if (!it->empty())
      return cell(it->begin().value());
    return "-";
  }
  return cell(*it);
}

/// Collects the *.json files named by `paths` (directories recursively,
/// sorted). Throws usage_error for a missing path.
std::vector<std::string> collect_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end;
           it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".json")
          found.push_back(it->path().string());
      if (ec)
        throw usage_error("cannot read directory " + p + ": " + ec.message());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      files.push_back(p);
    } else {
      throw usage_error("no such file or directory: " + p);
    }
  }
  if (files.empty())
    throw usage_error("no .json files found in the given paths");
  return files;
}

} // namespace

// -- session ----------------------------------------------------------------

namespace {

twin::http::client_options client_options_of(const globals& g) {
  twin::http::client_options o;
  o.bearer_token = g.token;
  o.verify_peer = !g.insecure;
  o.ca_file = g.cacert;
  auto ms = std::chrono::milliseconds(static_cast<long long>(g.timeout * 1000));
  o.request_timeout = ms;
  o.connect_timeout = std::min(ms, std::chrono::milliseconds(10000));
  o.user_agent = "twinctl/1";
  return o;
}

} // namespace

session::session(globals g)
  : globals_(std::move(g)), client_(globals_.server, client_options_of(globals_)) {}

std::optional<twin::http::response>
session::call(const std::string& method, const std::string& target,
              const std::optional<json>& body,
              const twin::http::header_list& headers) {
  auto r = client_.request(method, target, body ? body->dump() : std::string{},
                           headers);
  if (!r) {
    const auto& e = r.error();
    if (e.code == twin::errc::bad_request) {
      std::cerr << "error: " << e.message << '\n';
      failure_code_ = exit_usage;
    } else {
      std::cerr << "error: cannot reach the server: " << e.message << '\n';
      failure_code_ = exit_unavailable;
    }
    return std::nullopt;
  }
  if (r->ok())
    return std::move(*r);

  // A refusal: show the problem+json document clearly.
  auto p = r->json();
  std::ostringstream msg;
  msg << "error: ";
  if (p.is_object() && p.contains("code"))
    msg << cell(p, "code") << " (HTTP " << r->status << ")";
  else
    msg << "HTTP " << r->status;
  std::string detail = p.is_object() ? cell(p, "detail") : "-";
  if (detail == "-" && p.is_object())
    detail = cell(p, "title");
  if (detail != "-")
    msg << ": " << detail;
  else if (!p.is_object() && !r->body.empty())
    msg << ": " << r->body;
  msg << '\n';
  if (p.is_object()) {
    if (p.contains("rule") && !p["rule"].is_null())
      msg << "  rule: " << cell(p, "rule") << '\n';
    if (p.contains("path") && !p["path"].is_null())
      msg << "  path: " << cell(p, "path") << '\n';
    if (auto it = p.find("errors"); it != p.end() && it->is_array()) {
      msg << "  errors:\n";
      for (const auto& e : *it) {
        msg << "  - ";
        if (e.contains("source"))
          msg << cell(e, "source") << ": ";
        msg << cell(e, "code");
        if (e.contains("rule"))
          msg << " [" << cell(e, "rule") << (e.contains("path") ? " at " + cell(e, "path") : "") << "]";
        msg << ": " << cell(e, "detail") << '\n';
      }
    }
  }
  if (auto rid = r->header("X-Request-Id"))
    msg << "  request-id: " << *rid << '\n';
  if (r->status == 401)
    msg << "  hint: pass a token with --token or TWIN_TOKEN\n";
  std::cerr << msg.str();
  failure_code_ = r->status >= 500 ? exit_unavailable : exit_refused;
  return std::nullopt;
}

// -- models -----------------------------------------------------------------

int model_add(session& s, const std::vector<std::string>& paths) {
  auto files = collect_files(paths);
  json docs = json::array();
  std::vector<std::string> origin; // request index -> file
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in)
      throw usage_error("cannot read " + f);
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = json::parse(ss.str(), nullptr, false);
    if (j.is_discarded())
      throw usage_error(f + " is not valid JSON");
    if (j.is_array()) {
      for (auto& d : j) {
        docs.push_back(std::move(d));
        origin.push_back(f);
      }
    } else {
      docs.push_back(std::move(j));
      origin.push_back(f);
    }
  }
  auto r = s.call("POST", "/api/v1/models", docs);
  if (!r) {
    if (s.failure_code() == exit_refused && origin.size() > 1) {
      std::cerr << "  (request[i] is document i of:";
      for (std::size_t i = 0; i < origin.size(); ++i)
        std::cerr << (i ? ", " : " ") << i << "=" << origin[i];
      std::cerr << ")\n";
    }
    return s.failure_code();
  }
  if (s.json_output()) {
    print_body(*r);
    return exit_ok;
  }
  auto j = r->json();
  if (j.is_object() && j.contains("models"))
    for (const auto& m : j["models"])
      std::cout << "added " << cell(m) << '\n';
  return exit_ok;
}

int model_list(session& s) {
  auto r = s.call("GET", "/api/v1/models");
  if (!r)
    return s.failure_code();
  if (s.json_output()) {
    print_body(*r);
    return exit_ok;
  }
  table tbl({"id", "dtdl", "display name"});
  auto j = r->json();
  if (j.is_object() && j.contains("items"))
    for (const auto& m : j["items"])
      tbl.add({cell(m, "id"), cell(m, "dtdlVersion"), display_name(m)});
  tbl.print(std::cout);
  return exit_ok;
}

int model_show(session& s, const std::string& dtmi) {
  auto r = s.call("GET", "/api/v1/models/" + encode_path_segment(dtmi));
  if (!r)
    return s.failure_code();
  print_body(*r);
  return exit_ok;
}

int model_validate(const std::vector<std::string>& paths) {
  return twin::model::validate_paths(paths, std::cout);
}

// -- twins ------------------------------------------------------------------

namespace {

/// A JSON object from `--FLAG JSON` (optional) overlaid with `--set
/// NAME=VALUE` assignments.
json object_argument(const char* flag, const std::string& text,
                     const std::vector<std::string>& assignments,
                     const char* what) {
  json obj = json::object();
  if (!text.empty()) {
    obj = parse_json_argument(flag, text);
    if (!obj.is_object())
      throw usage_error(std::string(flag) + " must be " + what);
  }
  const json sets = parse_assignments(assignments);
  for (const auto& [k, v] : sets.items())
    obj[k] = v;
  return obj;
}

/// Prints a twin document answered by a call (table or JSON), or returns
/// the call's failure code.
int show_twin(session& s, const std::optional<twin::http::response>& r) {
  if (!r)
    return s.failure_code();
  if (s.json_output())
    print_body(*r);
  else
    print_twin(r->json());
  return exit_ok;
}

} // namespace

int twin_create(session& s, const twin_create_args& a) {
  json props = object_argument("--properties", a.properties, a.sets,
                               "a JSON object");
  json body = {{"$model", a.model}, {"properties", props}};
  return show_twin(s, s.call("PUT", twin_path(a.id), body));
}

int twin_get(session& s, const std::string& id) {
  return show_twin(s, s.call("GET", twin_path(id)));
}

int twin_list(session& s, const twin_list_args& a) {
  json all = json::array();
  std::string token = a.page_token;
  std::string next;
  for (;;) {
    std::string target = "/api/v1/twins";
    add_query(target, "model", a.model);
    add_query(target, "lifecycle", a.lifecycle);
    if (a.limit > 0)
      add_query(target, "limit", std::to_string(a.limit));
    add_query(target, "pageToken", token);
    auto r = s.call("GET", target);
    if (!r)
      return s.failure_code();
    auto j = r->json();
    if (!j.is_object())
      throw std::runtime_error("server sent a twin list that is not JSON");
    if (j.contains("items") && j["items"].is_array())
      for (auto& t : j["items"])
        all.push_back(std::move(t));
    next.clear();
    if (j.contains("nextPageToken") && j["nextPageToken"].is_string())
      next = j["nextPageToken"].get<std::string>();
    if (!a.all || next.empty())
      break;
    token = next;
  }
  if (s.json_output()) {
    json out = {{"items", all}};
    if (!next.empty())
      out["nextPageToken"] = next;
    print_json(out);
    return exit_ok;
  }
  // The node may list summaries (id, model, lifecycle) or whole twins: show
  // the revision and update time only when there are any.
  bool full = std::any_of(all.begin(), all.end(), [](const json& t) {
    return t.is_object() && (t.contains("$revision") || t.contains("$updatedAt"));
  });
  table tbl = full ? table({"id", "model", "lifecycle", "revision", "updated"})
                   : table({"id", "model", "lifecycle"});
  for (const auto& t : all) {
    if (full)
      tbl.add({cell(t, "$id"), cell(t, "$model"), cell(t, "$lifecycle"),
               cell(t, "$revision"), cell(t, "$updatedAt")});
    else
      tbl.add({cell(t, "$id"), cell(t, "$model"), cell(t, "$lifecycle")});
  }
  tbl.print(std::cout);
  if (!next.empty())
    std::cerr << "more twins: --page-token " << next << " (or --all)\n";
  return exit_ok;
}

int twin_patch(session& s, const twin_patch_args& a) {
  json patch = object_argument("--patch", a.patch, a.sets,
                               "a JSON object (a merge patch)");
  if (patch.empty())
    throw usage_error("nothing to patch: give --set NAME=VALUE or --patch JSON");
  twin::http::header_list h;
  if (!a.if_match.empty()) {
    std::string rev = a.if_match;
    if (rev.front() != '"')
      rev = "\"" + rev + "\"";
    h.emplace_back("If-Match", rev);
  }
  return show_twin(s, s.call("PATCH", twin_path(a.id), patch, h));
}

int lifecycle(session& s, const std::string& twin, const std::string& to,
              const std::string& reason) {
  json body = {{"to", to}, {"reason", reason}};
  auto r = s.call("POST", twin_path(twin) + "/lifecycle", body);
  if (!r)
    return s.failure_code();
  if (s.json_output()) {
    print_body(*r);
    return exit_ok;
  }
  auto t = r->json();
  std::cout << twin << " is now " << cell(t, "$lifecycle") << " (revision "
            << cell(t, "$revision") << ")\n";
  return exit_ok;
}

int lineage(session& s, const std::string& twin, const std::string& property,
            const std::string& at) {
  std::string target = twin_path(twin) + "/lineage";
  add_query(target, "property", property);
  add_query(target, "at", at);
  auto r = s.call("GET", target);
  if (!r)
    return s.failure_code();
  if (s.json_output()) {
    print_body(*r);
    return exit_ok;
  }
  auto j = r->json();
  table tbl({"revision", "type", "time", "value", "source", "principal",
             "source time", "pipeline", "model", "request id"});
  if (j.is_object() && j.contains("items"))
    for (const auto& e : j["items"]) {
      // Properties are in "changes", telemetry values in "telemetry".
      std::string value = "-";
      for (const char* key : {"changes", "telemetry"})
        if (auto c = e.find(key); c != e.end() && c->is_object()
                                  && c->contains(property))
          value = cell((*c)[property]);
      const json lin = e.value("lineage", json::object());
      tbl.add({cell(e, "revision"), cell(e, "type"), cell(e, "time"), value,
               source_of(lin), cell(lin, "principal"), cell(lin, "sourceTime"),
               cell(lin, "pipelineVersion"), cell(lin, "model"),
               cell(lin, "requestId")});
    }
  tbl.print(std::cout);
  return exit_ok;
}

// -- history ------------------------------------------------------------------

std::string resolve_history_time(const std::string& arg, long long now_ms) {
  if (arg.empty())
    return arg;
  if (arg == "now")
    return std::to_string(now_ms);
  if (arg.size() >= 3 && arg[0] == '-') {
    long long n = 0;
    auto* first = arg.data() + 1;
    auto* last = arg.data() + arg.size() - 1;
    auto [p, ec] = std::from_chars(first, last, n);
    long long unit = 0;
    switch (arg.back()) {
      case 's': unit = 1000; break;
      case 'm': unit = 60'000; break;
      case 'h': unit = 3'600'000; break;
      case 'd': unit = 86'400'000; break;
      default: break;
    }
    if (ec != std::errc{} || p != last || unit == 0 || n < 0)
      throw usage_error("time '" + arg
                        + "' is not understood: use now, -90s, -30m, -1h, -7d, "
                          "an RFC 3339 time or milliseconds since the epoch");
    return std::to_string(now_ms - n * unit);
  }
  return arg; // RFC 3339 or epoch ms: the server checks it
}

int history(session& s, const history_args& a) {
  using namespace std::chrono;
  auto now_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::string target = twin_path(a.twin) + "/history";
  add_query(target, "name", a.name);
  add_query(target, "from", resolve_history_time(a.from, now_ms));
  add_query(target, "to", resolve_history_time(a.to, now_ms));
  add_query(target, "resolution", a.resolution);
  if (a.limit > 0)
    add_query(target, "limit", std::to_string(a.limit));
  auto r = s.call("GET", target);
  if (!r)
    return s.failure_code();
  if (s.json_output()) {
    print_body(*r);
    return exit_ok;
  }
  auto j = r->json();
  bool raw = j.value("resolution", "raw") == "raw";
  table tbl(raw ? std::vector<std::string>{"time", "value"}
                : std::vector<std::string>{"start", "min", "max", "mean",
                                           "count", "last"});
  for (const auto& p : j.value("points", json::array())) {
    if (raw)
      tbl.add({cell(p, "time"), cell(p, "value")});
    else
      tbl.add({cell(p, "start"), cell(p, "min"), cell(p, "max"),
               cell(p, "mean"), cell(p, "count"), cell(p, "last")});
  }
  tbl.print(std::cout);
  std::cout.flush();
  std::cerr << j.value("points", json::array()).size() << " points, resolution "
            << j.value("resolution", "?")
            << (j.value("truncated", false) ? " (truncated: raise --limit)" : "")
            << '\n';
  return exit_ok;
}

// -- governance -------------------------------------------------------------

namespace {

/// GET `target`?from=&limit= and print its "items" as a table of `columns`
/// (each a member of the item), or the body as JSON.
int list_items(session& s, std::string target, long long from, int limit,
               const std::vector<std::string>& columns) {
  if (from >= 0)
    add_query(target, "from", std::to_string(from));
  if (limit > 0)
    add_query(target, "limit", std::to_string(limit));
  auto r = s.call("GET", target);
  if (!r)
    return s.failure_code();
  if (s.json_output()) {
    print_body(*r);
    return exit_ok;
  }
  table tbl(columns);
  auto j = r->json();
  if (j.is_object() && j.contains("items"))
    for (const auto& item : j["items"]) {
      std::vector<std::string> row;
      row.reserve(columns.size());
      for (const auto& c : columns)
        row.push_back(cell(item, c.c_str()));
      tbl.add(std::move(row));
    }
  tbl.print(std::cout);
  return exit_ok;
}

} // namespace

int audit_list(session& s, long long from, int limit) {
  return list_items(s, "/api/v1/audit", from, limit,
                    {"seq", "time", "principal", "action", "target", "detail"});
}

int audit_verify(session& s) {
  auto r = s.call("GET", "/api/v1/audit/verify");
  if (!r)
    return s.failure_code();
  auto j = r->json();
  if (!j.is_object() || !j.contains("intact") || !j["intact"].is_boolean()) {
    std::cerr << "error: unexpected answer from /audit/verify: " << r->body << '\n';
    return exit_unavailable;
  }
  bool intact = j["intact"].get<bool>();
  if (s.json_output()) {
    print_json(j);
  } else if (intact) {
    std::cout << "audit chain intact: " << cell(j, "records") << " records\n";
  } else {
    std::cout << "audit chain BROKEN at record " << cell(j, "firstBadSeq")
              << ": " << cell(j, "reason") << '\n';
  }
  return intact ? exit_ok : exit_refused;
}

int alerts_list(session& s, long long from, int limit) {
  return list_items(s, "/api/v1/alerts", from, limit,
                    {"seq", "time", "severity", "type", "twin", "source",
                     "cause", "detail"});
}

int telemetry_send(session& s, const telemetry_args& a) {
  json body = {{"values", parse_assignments(a.sets)}};
  if (!a.source.empty())
    body["source"] = a.source;
  if (!a.source_time.empty())
    body["sourceTime"] = a.source_time;
  if (a.sequence >= 0)
    body["sequence"] = a.sequence;
  auto r = s.call("POST", twin_path(a.twin) + "/telemetry", body);
  if (!r)
    return s.failure_code();
  if (s.json_output())
    print_body(*r);
  else
    std::cout << "accepted: " << a.twin << " revision "
              << cell(r->json(), "revision") << '\n';
  return exit_ok;
}

// -- cluster ----------------------------------------------------------------

int cluster_status(session& s, const cluster_status_args& a) {
  auto fetch = [&s]() -> std::optional<json> {
    auto r = s.call("GET", "/api/v1/cluster");
    if (!r)
      return std::nullopt;
    auto j = r->json();
    if (!j.is_object()) {
      std::cerr << "error: unexpected answer from /cluster: " << r->body << '\n';
      return json(nullptr);
    }
    return j;
  };
  auto first = fetch();
  if (!first)
    return s.failure_code();
  if (first->is_null())
    return exit_unavailable;

  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  if (s.json_output())
    print_json(*first);
  else
    std::cout << render_cluster(*first);
  std::cout.flush();
  if (is_standalone(*first))
    return exit_ok;
  // A terminal shows live progress bars (table output only); --watch polls
  // anywhere, a line (or a JSON document) per poll.
  if (!a.watch && (!tty || s.json_output()))
    return exit_ok;
  if (restoring_shards(*first).empty())
    return exit_ok;

  watch_options o;
  o.tty = tty && !s.json_output();
  o.json_lines = s.json_output();
  if (!s.json_output())
    std::cout << '\n';
  bool bad_answer = false;
  watch_hooks h;
  h.fetch = [&]() -> std::optional<json> {
    auto j = fetch();
    if (j && j->is_null()) {
      bad_answer = true;
      return std::nullopt;
    }
    return j;
  };
  h.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  h.now = [] { return std::chrono::steady_clock::now(); };
  switch (watch_restores(*first, h, o, std::cout)) {
    case watch_result::finished:
      if (!s.json_output())
        std::cout << "no shard is restoring\n";
      return exit_ok;
    case watch_result::timed_out:
      std::cout.flush();
      std::cerr << "still restoring after " << format_ms(o.limit.count())
                << "; stopped watching\n";
      return exit_ok;
    case watch_result::failed:
      break;
  }
  return bad_answer ? exit_unavailable : s.failure_code();
}

} // namespace twinctl
