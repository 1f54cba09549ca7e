#pragma once
// `twinctl cluster status` without the transport: rendering the answer of
// GET /api/v1/cluster (docs/api.md) as text, and the restore-watch loop with
// its I/O injected. Pure, so tests/unit/gateway (twinctl_unit_tests) checks
// it without a server.

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace twinctl {

/// Shard numbers as ascending ranges: {0,1,2,3,7} -> "0-3,7"; duplicates and
/// order do not matter; empty -> "-".
std::string compress_ranges(std::vector<std::int64_t> shards);

/// The integers of a JSON array (other items skipped) as ranges; "-" when
/// `shards` is not an array or holds none.
std::string compress_ranges(const nlohmann::json& shards);

/// Percent done, floor(records * 100 / total), clamped to 0..100; a total of
/// 0 (nothing to restore) counts as 100.
int restore_percent(std::int64_t records, std::int64_t total);

/// `shard 3 [#########.......] 57% 1200/2100`: `width` cells, filled
/// floor(records * width / total) (clamped; full when total is 0).
std::string progress_bar(std::int64_t shard, std::int64_t records,
                         std::int64_t total, std::size_t width = 16);

/// A duration in ms for humans: "40ms", "1.5s", "2m05s".
std::string format_ms(std::int64_t ms);

/// The restore cell of the shards table: "57% 1200/2100 (40ms)", or "-"
/// without restore figures.
std::string restore_cell(const nlohmann::json& shard_state);

/// True for {"mode": "standalone"} (or no mode at all: an old node).
bool is_standalone(const nlohmann::json& status);

/// The shard numbers whose state is "restoring", ascending.
std::vector<std::int64_t> restoring_shards(const nlohmann::json& status);

/// The whole table view: for a standalone node the line
/// "standalone node: not part of a cluster"; in cluster mode a header line
/// (mode, this node, shard count, forwarded requests), a blank line, the
/// nodes table (id, endpoint, http, shards count, owned ranges, alive, last
/// seen), a blank line and the shards table (shard, owner, state, lag,
/// restore).
std::string render_cluster(const nlohmann::json& status);

/// The progress lines of `shards` in `status`, one per shard: the bar of a
/// restoring shard; for one that finished, its last restore's bar and
/// " done" (or its state when it has no figures).
std::vector<std::string> progress_lines(const nlohmann::json& status,
                                        const std::vector<std::int64_t>& shards);

/// The one-line summary of a poll (non-terminal --watch): "restoring 2
/// shards: shard 3 [...] 57% 1200/2100, shard 5 [...] ..." or "no shard
/// restoring".
std::string poll_line(const nlohmann::json& status);

// -- watching a restore --------------------------------------------------------

struct watch_hooks {
  /// GET /api/v1/cluster again; none when the call failed (it has reported
  /// the failure already).
  std::function<std::optional<nlohmann::json>()> fetch;
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<std::chrono::steady_clock::time_point()> now;
};

struct watch_options {
  /// Stdout is a terminal: redraw the progress bars in place (ANSI cursor
  /// movement); else print a line per poll (poll_line).
  bool tty = false;
  /// JSON output: print each polled document as one compact line instead.
  bool json_lines = false;
  std::chrono::milliseconds interval{500};
  std::chrono::milliseconds limit{std::chrono::minutes(5)};
};

enum class watch_result {
  finished,   ///< no shard is restoring any more
  timed_out,  ///< still restoring when `limit` passed
  failed,     ///< a poll failed
};

/// Polls while some shard of the latest document is restoring, starting
/// from `first` (already fetched and shown by the caller), every `interval`,
/// at most `limit`. Writes the progress to `out`.
watch_result watch_restores(const nlohmann::json& first,
                            const watch_hooks& hooks,
                            const watch_options& options, std::ostream& out);

} // namespace twinctl
