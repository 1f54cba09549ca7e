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
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"

namespace twin::persistence {

/// Current on-disk format; open() refuses a newer one and migrates older ones.
inline constexpr int storage_format_version = 1;

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
};

/// One atomic unit of writes: everything in it becomes durable together.
struct write_request {
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

  const store_stats& stats() const noexcept;

  struct impl;

private:
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace twin::persistence
