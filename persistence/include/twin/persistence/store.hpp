#pragma once
// The node's durable store: one RocksDB database with a column family per
// concern, and a group-commit writer.
//
// Column families (see docs/storage.md):
//   journal    twin_id '\0' be64(revision) -> event bytes (the lineage log)
//   snapshots  twin_id                     -> be64(revision) + state bytes
//   twins      twin_id                     -> index entry bytes (model, lifecycle)
//   models     dtmi                        -> DTDL document (JSON text)
//   audit      be64(seq)                   -> audit record (JSON, hash-chained)
//   alerts     be64(seq)                   -> alert (JSON)
//   meta       name                        -> value ("format_version" = "1")
//   history    tier byte + twin '\0' series '\0' + time keys -> Gorilla
//              chunks, rollup buckets, pending samples (docs/storage.md)
//
// Threads: `submit` may be called from any thread; one writer thread owns
// the write path, coalesces all pending requests into one WriteBatch, writes
// it with WriteOptions.sync = store_options.sync (default true: WAL fsync)
// and then runs every request's callback on the writer thread. Reads are
// thread-safe and go straight to RocksDB.
//
// CONTRACT: actors/ and cli/ use exactly the declarations below. They may be
// extended, not changed.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"

namespace twin::persistence {

/// Current on-disk format; open() refuses a newer one and migrates older ones.
inline constexpr int storage_format_version = 1;

/// How long each history tier is kept (ms). Data older than now - age is
/// removed by compaction (a compaction filter) and hidden from queries at
/// once. Enforced per storage window: a raw chunk goes when its whole 1-hour
/// window is past raw_ms, a rollup bucket when its end is past its tier's age.
struct retention_policy {
  std::int64_t raw_ms = 30LL * 24 * 3600 * 1000;          ///< 30 days
  std::int64_t minute_ms = 365LL * 24 * 3600 * 1000;      ///< 1 year
  std::int64_t hour_ms = 7LL * 365 * 24 * 3600 * 1000;    ///< 7 years
};

struct store_options {
  /// Directory of the RocksDB database (created if missing).
  std::string path;
  /// fsync the WAL on every group commit. Default true: an update is
  /// acknowledged only when durable.
  bool sync = true;
  /// Upper bound of requests coalesced into one WriteBatch.
  std::size_t max_batch_requests = 4096;
  /// Test hook: called by the writer before each group commit; a non-ok
  /// status fails that whole batch (every callback gets the error) as if
  /// RocksDB had failed. Default: none.
  std::function<status()> fault_injector;
  /// History retention per tier (defaults: raw 30 d, 1 min 1 y, 1 h 7 y).
  retention_policy retention;
  /// Now, in ms since the epoch; called by queries and by RocksDB's
  /// compaction threads (must be thread-safe). Default (empty): the system
  /// clock.
  std::function<std::int64_t()> clock;
  /// Samples per raw history chunk before it is sealed (default 1024).
  std::uint32_t history_chunk_samples = 1024;
  /// History checkpoint: after this many samples since the last one, the
  /// writer stores every open chunk and rollup bucket and deletes the
  /// pending-sample records they cover (default 2,000,000). Bounds the
  /// replay at open (bench_history measures it) and the memory held by
  /// sealed-but-unwritten chunks (a few bytes per sample).
  std::uint64_t history_checkpoint_samples = 2'000'000;
  /// Also checkpoint this often (0: only by sample count and at close).
  /// Series idle for a whole interval leave memory at the next one, so the
  /// history's memory follows the active series. Default 5 s: a checkpoint
  /// writes every series touched since the last one, so its cost follows
  /// series x checkpoints, not samples (see docs/adr/0013).
  std::chrono::milliseconds history_checkpoint_interval{5000};
  /// At a checkpoint, an open chunk holding at least this many samples is
  /// sealed (written once under its final key, and the next sample starts a
  /// new chunk in the same window) instead of being written now and again
  /// at every later checkpoint until it is full. Smaller ones are written
  /// open and overwritten. Default 128 (0 or 1: seal every open chunk).
  std::uint32_t history_checkpoint_seal_samples = 128;
  /// Also checkpoint (at most every 200 ms after the previous one ends)
  /// while more series than this are held in memory and at least half of
  /// that many are idle (see history_idle_min) or new since the last
  /// checkpoint: a burst of new series (e.g. a fleet being
  /// created) leaves memory at the next checkpoint instead of piling up for
  /// an interval. Default 8192.
  std::size_t history_max_open_series = 8192;
  /// A checkpoint frees a series' in-memory state only once it is stored,
  /// untouched since the previous checkpoint and idle at least about this
  /// long (between one and two of it): an over-capacity checkpoint soon
  /// after another must not free series that are merely between two
  /// samples (ADR 0014). 0: untouched since the previous checkpoint is
  /// enough. Default 1 s.
  std::chrono::milliseconds history_idle_min{1000};
};

/// One history sample of a twin's property or telemetry value.
struct sample {
  /// Property/telemetry name; not empty, no NUL.
  std::string series;
  /// Source time, ms since epoch.
  std::int64_t time_ms = 0;
  /// Numbers and booleans (0/1) as double; strings/JSON text as string.
  std::variant<double, std::string> value;
};

/// Writes for one twin inside a request.
struct twin_write {
  std::string twin_id;
  /// (revision, event bytes); revisions ascending and contiguous.
  std::vector<std::pair<std::uint64_t, std::string>> events;
  /// A snapshot of the state at `revision` (replaces the previous one).
  std::optional<std::pair<std::uint64_t, std::string>> snapshot;
  /// The twins-index entry (replaces the previous one).
  std::optional<std::string> index_entry;
  /// History samples; durable with the events, in the same WriteBatch.
  std::vector<sample> samples;
};

/// History tiers: raw samples, 1-minute and 1-hour rollups.
enum class history_tier { raw, minute, hour };

struct raw_point {
  std::int64_t time_ms;
  std::variant<double, std::string> value;
};

/// A rollup bucket [start_ms, start_ms + 1 min or 1 h) of numeric samples
/// (NaN samples are not counted). `last` is the value with the greatest
/// time (on a tie, the one written last).
struct rollup_point {
  std::int64_t start_ms;
  double min, max, mean;
  std::uint64_t count;
  double last;
  std::int64_t last_time_ms;
};

/// Samples (raw) or buckets (minute, hour: by start) with
/// from_ms <= time <= to_ms, ascending, at most `limit` (the earliest).
struct history_query {
  std::string twin, series;
  std::int64_t from_ms = 0, to_ms = 0;
  history_tier tier = history_tier::raw;
  std::size_t limit = 10000;
};

struct history_result {
  history_tier tier = history_tier::raw;
  /// Filled for tier raw.
  std::vector<raw_point> raw;
  /// Filled for tiers minute and hour.
  std::vector<rollup_point> rollups;
  /// More points matched than `limit`.
  bool truncated = false;
};

/// One atomic unit of writes: everything in it becomes durable together.
struct write_request {
  /// (twin id, keep_through): deletes the twin's journal records with
  /// revision > keep_through, its snapshot if the snapshot's revision is >
  /// keep_through, and, when keep_through == 0, its twins-index entry.
  /// Applied in the WriteBatch before `twins`, so one request can replace
  /// a twin's tail atomically (cluster restore from the changelog). History
  /// samples are not touched. The node must not hold the twin in memory
  /// (node::release_shard) while its stored state is rewritten.
  std::vector<std::pair<std::string, std::uint64_t>> truncate;
  std::vector<twin_write> twins;
  /// Audit records to append. The writer assigns "seq" (from 1) and
  /// "prevHash", then "hash" = SHA-256 over the canonical record (see
  /// security/audit_chain.hpp), in submission order.
  std::vector<nlohmann::json> audit;
  /// Alerts to append; the writer assigns "seq".
  std::vector<nlohmann::json> alerts;
  /// Models to store (dtmi, document JSON text) and to delete.
  std::vector<std::pair<std::string, std::string>> models_put;
  std::vector<std::string> models_delete;
  /// Entries of the meta column family to set (key, value) and to delete,
  /// after everything above (e.g. a changelog offset restored through,
  /// durable with the restored twins). Keys: non-empty, not
  /// "format_version" (else the request is rejected with bad_request).
  std::vector<std::pair<std::string, std::string>> meta_put;
  std::vector<std::string> meta_delete;
};

/// Called once the request is durable (ok) or failed (storage_failure, the
/// fault injector's error, bad_request for a malformed request, unavailable
/// after close). Runs on the writer thread: it must not block (no waiting on
/// I/O or on another write) and must not throw; send a message or fulfil a
/// promise and return. Every group commit waits for all its callbacks.
using durable_callback = std::function<void(const status&)>;

struct snapshot_record {
  std::uint64_t revision = 0;
  std::string bytes;
};

struct journal_record {
  std::uint64_t revision = 0;
  std::string bytes;
};

/// Result of walking the audit chain.
struct audit_verdict {
  bool intact = true;
  /// Records checked.
  std::uint64_t records = 0;
  /// First broken record's seq (0 if intact) and why.
  std::uint64_t first_bad_seq = 0;
  std::string reason;
};

/// Counters for /metrics (monotonic, relaxed atomics).
struct store_stats {
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> bytes_written{0};
  /// History samples accepted, checkpoints done, history records (chunks,
  /// buckets) removed by retention in compactions.
  std::atomic<std::uint64_t> history_samples{0};
  std::atomic<std::uint64_t> history_checkpoints{0};
  std::atomic<std::uint64_t> history_expired{0};
};

class store {
public:
  /// Opens (creating if needed) the database at options.path. Errors:
  /// unavailable if another process holds the database ("data directory
  /// ... is in use by another process"), corruption if the format version
  /// is newer than this build knows, storage_failure on I/O errors.
  static expected<std::unique_ptr<store>> open(store_options options);

  /// Drains pending writes, stops the writer, closes RocksDB.
  ~store();

  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// Queues `req` for the next group commit; `done` runs on the writer
  /// thread once it is durable or has failed. After close(): `done` gets
  /// unavailable at once.
  void submit(write_request req, durable_callback done);

  /// submit() and wait for the outcome. Never call it from a callback (the
  /// writer thread would wait for itself).
  status write(write_request req);

  /// Stops accepting writes, drains the queue and syncs. Idempotent.
  /// Also closes RocksDB and releases the directory lock; reads after it
  /// return unavailable.
  void close();

  /// Flushes every column family's memtable to SST files (backups, tests).
  /// Errors: unavailable after close(), storage_failure on I/O errors.
  status flush();

  // -- reads ----------------------------------------------------------------

  expected<std::optional<snapshot_record>> load_snapshot(const std::string& twin);

  /// Journal records of `twin` with from <= revision <= to, ascending.
  expected<std::vector<journal_record>>
  read_journal(const std::string& twin, std::uint64_t from,
               std::uint64_t to = UINT64_MAX);

  /// Walks the journal of `twin` newest first until `fn` returns false.
  status scan_journal_reverse(
    const std::string& twin,
    const std::function<bool(const journal_record&)>& fn);

  expected<std::optional<std::string>> get_index(const std::string& twin);

  /// Walks the twins index in key order, starting after `after` (empty:
  /// from the start), until `fn` returns false.
  status scan_index(const std::string& after,
                    const std::function<bool(const std::string& twin,
                                             const std::string& entry)>& fn);

  /// Every twin id in the twins index, in key order.
  expected<std::vector<std::string>> twin_ids();

  /// Meta entries (the `meta` column family) for the layers above, e.g. the
  /// cluster's restore offsets. put/delete go through the group commit
  /// (durable when they return; never call them from a durable_callback);
  /// get reads the latest durable value. Keys: non-empty, not
  /// "format_version" (bad_request).
  status put_meta(const std::string& key, const std::string& value);
  expected<std::optional<std::string>> get_meta(const std::string& key);
  status delete_meta(const std::string& key);

  /// All stored models: (dtmi, document JSON text).
  expected<std::vector<std::pair<std::string, std::string>>> list_models();

  /// Audit records with seq >= from, at most `limit`, ascending.
  expected<std::vector<nlohmann::json>> list_audit(std::uint64_t from,
                                                   std::size_t limit);

  /// Walks the whole audit chain and checks every hash and link.
  expected<audit_verdict> verify_audit();

  /// Alerts with seq >= from, at most `limit`, ascending.
  expected<std::vector<nlohmann::json>> list_alerts(std::uint64_t from,
                                                    std::size_t limit);

  // -- history ------------------------------------------------------------------

  /// Samples or rollups of one series of `twin` (loaded or not: served from
  /// the store). Sees every acknowledged sample. Strings are kept in the raw
  /// tier only (no rollups). Errors: unavailable after close(), corruption
  /// for an undecodable chunk, storage_failure on I/O errors. Thread-safe.
  expected<history_result> history(const history_query& q);

  /// Names of the series of `twin` that have history (any tier), sorted.
  expected<std::vector<std::string>> history_series(const std::string& twin);

  /// Stores the open history state (a checkpoint) and compacts the history
  /// column family, so that retention applies now (ops, tests). Errors:
  /// unavailable after close(), storage_failure.
  status compact_history();

  const store_stats& stats() const noexcept;

  /// Bytes held by RocksDB memtables (all column families) right now;
  /// 0 after close(). Memory the node budgets (db_write_buffer), for /metrics.
  std::uint64_t memtable_bytes() const;

  struct impl;

private:
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace twin::persistence
