#include "behaviour.hpp"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "output.hpp"
#include "twin/behaviours/spec.hpp"

namespace twinctl {

using json = nlohmann::json;

namespace {

std::string behaviours_path(const std::string& twin) {
  return "/api/v1/twins/" + twin::http::encode_path_segment(twin) + "/behaviours";
}

/// --spec: inline JSON (starts with '{'), '-' (stdin) or a file.
json read_spec(const std::string& arg) {
  std::string text;
  auto first = arg.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && arg[first] == '{') {
    text = arg;
  } else {
    std::ostringstream ss;
    if (arg == "-") {
      ss << std::cin.rdbuf();
    } else {
      std::ifstream in(arg);
      if (!in)
        throw usage_error("--spec: cannot read " + arg);
      ss << in.rdbuf();
    }
    text = ss.str();
  }
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded())
    throw usage_error("--spec: not valid JSON");
  return j;
}

std::string summary(const json& spec) {
  auto kind = spec.value("kind", "");
  std::ostringstream s;
  if (kind == "fmu") {
    s << spec.value("fmu", "?") << " in:";
    const json inputs = spec.value("inputs", json::object());
    const json outputs = spec.value("outputs", json::object());
    for (auto& [k, v] : inputs.items())
      s << ' ' << (v.is_string() ? v.get<std::string>() : v.dump()) << "->" << k;
    s << " out:";
    for (auto& [k, v] : outputs.items())
      s << ' ' << k << "->" << (v.is_string() ? v.get<std::string>() : v.dump());
  } else if (kind == "forecast") {
    s << spec.value("indicator", "?") << " -> " << spec.value("limit", json()).dump() << ", out "
      << spec.value("output", "-") << ", horizon " << spec.value("horizonDays", 30.0) << " d";
  } else if (kind == "anomaly") {
    s << spec.value("features", json::array()).size() << " features, "
      << (spec.contains("trained") ? "trained" : "training") << ", out "
      << spec.value("output", "anomalyScore");
  }
  return s.str();
}

int attach(session& s, const std::string& twin, const std::string& name, const std::string& arg) {
  auto spec = read_spec(arg);
  // Checked here first, so a bad field is named before anything is sent.
  auto b = twin::behaviours::parse_binding(name, spec);
  if (!b) {
    std::cerr << "error: " << b.error().message << '\n';
    return exit_usage;
  }
  auto r = s.call("PUT", behaviours_path(twin) + "/" + twin::http::encode_path_segment(name), spec);
  if (!r)
    return s.failure_code();
  auto j = r->json();
  if (s.json_output()) {
    std::cout << (j.is_discarded() ? r->body : j.dump(2)) << '\n';
    return exit_ok;
  }
  std::cout << "attached " << name << " (" << to_string(b->kind) << ") to " << twin;
  if (j.is_object() && j.contains("$revision"))
    std::cout << ", revision " << j["$revision"];
  std::cout << '\n';
  return exit_ok;
}

int detach(session& s, const std::string& twin, const std::string& name) {
  auto r = s.call("DELETE", behaviours_path(twin) + "/" + twin::http::encode_path_segment(name));
  if (!r)
    return s.failure_code();
  if (s.json_output()) {
    auto j = r->json();
    std::cout << (j.is_discarded() ? r->body : j.dump(2)) << '\n';
    return exit_ok;
  }
  std::cout << "detached " << name << " from " << twin << '\n';
  return exit_ok;
}

int list(session& s, const std::string& twin) {
  auto r = s.call("GET", "/api/v1/twins/" + twin::http::encode_path_segment(twin));
  if (!r)
    return s.failure_code();
  auto j = r->json();
  json bs = j.is_object() && j.contains("$behaviours") ? j["$behaviours"] : json::object();
  if (s.json_output()) {
    std::cout << bs.dump(2) << '\n';
    return exit_ok;
  }
  table tbl({"name", "kind", "model", "version", "what"}, 80);
  for (auto& [name, spec] : bs.items())
    tbl.add({name, cell(spec, "kind"), cell(spec, "model"), cell(spec, "version"), summary(spec)});
  tbl.print(std::cout);
  std::cout.flush();
  std::cerr << bs.size() << " behaviours\n";
  return exit_ok;
}

} // namespace

void add_behaviour_commands(CLI::App& app,
                            std::function<int(const std::function<session&()>&)>& run) {
  auto* b = app.add_subcommand("behaviour", "Attach, detach and list FMU / ML behaviours of a twin");
  b->require_subcommand(1);
  struct args {
    std::string twin, name, spec;
  };
  auto a = std::make_shared<args>();
  auto* at = b->add_subcommand("attach", "Attach (or replace) a behaviour binding: --spec FILE|-|JSON");
  at->add_option("twin", a->twin, "Twin id")->required();
  at->add_option("name", a->name, "Behaviour name ([A-Za-z0-9._-], 1..64)")->required();
  at->add_option("--spec", a->spec, "Binding spec: a JSON file, '-' for stdin, or inline JSON")
    ->required();
  at->callback([&run, a] { run = [a](auto& s) { return attach(s(), a->twin, a->name, a->spec); }; });
  auto* de = b->add_subcommand("detach", "Remove a behaviour binding");
  de->add_option("twin", a->twin, "Twin id")->required();
  de->add_option("name", a->name, "Behaviour name")->required();
  de->callback([&run, a] { run = [a](auto& s) { return detach(s(), a->twin, a->name); }; });
  auto* li = b->add_subcommand("list", "List the behaviours bound to a twin");
  li->add_option("twin", a->twin, "Twin id")->required();
  li->callback([&run, a] { run = [a](auto& s) { return list(s(), a->twin); }; });
}

} // namespace twinctl
