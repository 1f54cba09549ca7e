#include "cluster_view.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "output.hpp"

namespace twinctl {

using nlohmann::json;

namespace {

std::optional<std::int64_t> int_of(const json& obj, const char* key) {
  if (!obj.is_object())
    return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer())
    return std::nullopt;
  return it->get<std::int64_t>();
}

std::string string_of(const json& obj, const char* key) {
  if (!obj.is_object())
    return {};
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string())
    return {};
  return it->get<std::string>();
}

const json& array_of(const json& obj, const char* key) {
  static const json empty = json::array();
  if (!obj.is_object())
    return empty;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array())
    return empty;
  return *it;
}

/// The entry of `status.shardStates` for `shard`, or nullptr.
const json* shard_state(const json& status, std::int64_t shard) {
  for (const auto& s : array_of(status, "shardStates"))
    if (int_of(s, "shard") == shard)
      return &s;
  return nullptr;
}

/// records/total of a shard state's "restore", if it has both.
std::optional<std::pair<std::int64_t, std::int64_t>>
restore_figures(const json& state) {
  if (!state.is_object())
    return std::nullopt;
  auto it = state.find("restore");
  if (it == state.end() || !it->is_object())
    return std::nullopt;
  auto records = int_of(*it, "records");
  auto total = int_of(*it, "total");
  if (!records || !total)
    return std::nullopt;
  return std::pair{*records, *total};
}

} // namespace

std::string compress_ranges(std::vector<std::int64_t> shards) {
  if (shards.empty())
    return "-";
  std::sort(shards.begin(), shards.end());
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
  std::string out;
  for (std::size_t i = 0; i < shards.size();) {
    std::size_t j = i;
    while (j + 1 < shards.size() && shards[j + 1] == shards[j] + 1)
      ++j;
    if (!out.empty())
      out += ',';
    out += std::to_string(shards[i]);
    if (j > i)
      out += '-' + std::to_string(shards[j]);
    i = j + 1;
  }
  return out;
}

std::string compress_ranges(const json& shards) {
  std::vector<std::int64_t> v;
  if (shards.is_array())
    for (const auto& s : shards)
      if (s.is_number_integer())
        v.push_back(s.get<std::int64_t>());
  return compress_ranges(std::move(v));
}

int restore_percent(std::int64_t records, std::int64_t total) {
  if (total <= 0)
    return 100;
  if (records <= 0)
    return 0;
  if (records >= total)
    return 100;
  // records < total here, so records * 100 only overflows for absurd totals;
  // fall back to floating point for those.
  if (records > INT64_MAX / 100)
    return static_cast<int>(static_cast<long double>(records) * 100 / total);
  return static_cast<int>(records * 100 / total);
}

std::string progress_bar(std::int64_t shard, std::int64_t records,
                         std::int64_t total, std::size_t width) {
  std::size_t filled = width;
  if (total > 0) {
    if (records <= 0)
      filled = 0;
    else if (records < total)
      filled = static_cast<std::size_t>(static_cast<long double>(records)
                                        * static_cast<long double>(width)
                                        / static_cast<long double>(total));
  }
  filled = std::min(filled, width);
  std::string out = "shard " + std::to_string(shard) + " [";
  out.append(filled, '#');
  out.append(width - filled, '.');
  out += "] " + std::to_string(restore_percent(records, total)) + "% "
         + std::to_string(records) + "/" + std::to_string(total);
  return out;
}

std::string format_ms(std::int64_t ms) {
  if (ms < 0)
    ms = 0;
  char buf[64];
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  else if (ms < 60'000)
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  else if (ms < 3'600'000)
    std::snprintf(buf, sizeof buf, "%lldm%02llds",
                  static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldh%02lldm",
                  static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  return buf;
}

std::string restore_cell(const json& state) {
  auto fig = restore_figures(state);
  if (!fig)
    return "-";
  auto [records, total] = *fig;
  std::string out = std::to_string(restore_percent(records, total)) + "% "
                    + std::to_string(records) + "/" + std::to_string(total);
  if (auto el = int_of(state["restore"], "elapsedMs"))
    out += " (" + format_ms(*el) + ")";
  return out;
}

bool is_standalone(const json& status) {
  if (!status.is_object())
    return false;
  auto mode = string_of(status, "mode");
  return mode.empty() || mode == "standalone";
}

std::vector<std::int64_t> restoring_shards(const json& status) {
  std::vector<std::int64_t> out;
  for (const auto& s : array_of(status, "shardStates"))
    if (string_of(s, "state") == "restoring")
      if (auto n = int_of(s, "shard"))
        out.push_back(*n);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string render_cluster(const json& status) {
  if (is_standalone(status))
    return "standalone node: not part of a cluster\n";
  std::ostringstream out;
  out << "mode: " << cell(status, "mode") << "  this node: "
      << cell(status, "nodeId") << "  shards: " << cell(status, "shards")
      << "  forwarded requests: " << cell(status, "forwarded") << "\n\n";

  table nodes({"id", "endpoint", "http", "shards", "owned", "alive",
               "last seen"},
              200);
  for (const auto& n : array_of(status, "nodes")) {
    std::string id = cell(n, "id");
    if (n.is_object() && n.value("self", false))
      id += " (self)";
    const json& owned = array_of(n, "shards");
    std::string alive = "-";
    if (auto it = n.find("alive"); it != n.end() && it->is_boolean())
      alive = it->get<bool>() ? "yes" : "no";
    auto seen = int_of(n, "lastSeenMs");
    nodes.add({id, cell(n, "endpoint"), cell(n, "http"),
               std::to_string(owned.size()), compress_ranges(owned), alive,
               seen ? format_ms(*seen) + " ago" : "-"});
  }
  nodes.print(out);
  out << '\n';

  table shards({"shard", "owner", "state", "lag", "restore"});
  for (const auto& s : array_of(status, "shardStates"))
    shards.add({cell(s, "shard"), cell(s, "owner"), cell(s, "state"),
                cell(s, "lag"), restore_cell(s)});
  shards.print(out);
  return std::move(out).str();
}

std::vector<std::string> progress_lines(const json& status,
                                        const std::vector<std::int64_t>& shards) {
  std::vector<std::string> out;
  for (auto n : shards) {
    const json* s = shard_state(status, n);
    if (!s) {
      out.push_back("shard " + std::to_string(n) + " unknown");
      continue;
    }
    auto state = string_of(*s, "state");
    auto fig = restore_figures(*s);
    if (state == "restoring") {
      if (fig)
        out.push_back(progress_bar(n, fig->first, fig->second));
      else
        out.push_back("shard " + std::to_string(n) + " restoring");
    } else if (fig) {
      out.push_back(progress_bar(n, fig->first, fig->second) + " "
                    + (state == "serving" ? std::string("done") : state));
    } else {
      out.push_back("shard " + std::to_string(n) + " "
                    + (state.empty() ? std::string("unknown") : state));
    }
  }
  return out;
}

std::string poll_line(const json& status) {
  auto restoring = restoring_shards(status);
  if (restoring.empty())
    return "no shard restoring";
  std::string out = "restoring " + std::to_string(restoring.size())
                    + (restoring.size() == 1 ? " shard: " : " shards: ");
  auto lines = progress_lines(status, restoring);
  for (std::size_t i = 0; i < lines.size(); ++i)
    out += (i ? ", " : "") + lines[i];
  return out;
}

watch_result watch_restores(const json& first, const watch_hooks& hooks,
                            const watch_options& options, std::ostream& out) {
  auto tracked = restoring_shards(first);
  if (tracked.empty())
    return watch_result::finished;
  const auto start = hooks.now();
  std::size_t shown = 0; // progress lines on screen (tty)
  auto draw = [&](const json& doc) {
    if (options.json_lines) {
      out << doc.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
    } else if (options.tty) {
      if (shown > 0)
        out << "\033[" << shown << 'A'; // back to the first progress line
      out << "\r\033[J";                // and clear from there down
      auto lines = progress_lines(doc, tracked);
      for (const auto& l : lines)
        out << l << '\n';
      shown = lines.size();
    } else {
      out << poll_line(doc) << '\n';
    }
    out.flush();
  };
  if (options.tty && !options.json_lines)
    draw(first);
  json doc = first;
  while (!restoring_shards(doc).empty()) {
    if (hooks.now() - start >= options.limit)
      return watch_result::timed_out;
    hooks.sleep(options.interval);
    auto next = hooks.fetch();
    if (!next)
      return watch_result::failed;
    doc = std::move(*next);
    for (auto n : restoring_shards(doc))
      if (!std::binary_search(tracked.begin(), tracked.end(), n))
        tracked.insert(std::lower_bound(tracked.begin(), tracked.end(), n), n);
    draw(doc);
  }
  return watch_result::finished;
}

} // namespace twinctl
