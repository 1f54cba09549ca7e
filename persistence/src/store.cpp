// The RocksDB store and its group-commit writer. See store.hpp and
// docs/storage.md.
//
// Ownership and threads:
//   - `submit` runs on any thread: it only moves the request into `queue_`
//     under `queue_mutex_`.
//   - the writer thread (`writer_loop`) owns the write path and the chain
//     heads (`audit_seq_`, `audit_head_`, `alert_seq_`, `batch_`): nothing
//     else touches them after open().
//   - reads run on the caller's thread straight against RocksDB; they hold
//     `db_mutex_` shared so that close() cannot pull the DB away under them.

#include "twin/persistence/store.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "twin/security/audit_chain.hpp"

#include "be64.hpp"
#include "history.hpp"

namespace twin::persistence {

namespace {

// -- key encoding -------------------------------------------------------------

using detail::get_be64;
using detail::put_be64;

std::string be64(std::uint64_t v) {
  std::string out(8, '\0');
  put_be64(out.data(), v);
  return out;
}

/// twin_id '\0' be64(revision)
std::string journal_key(const std::string& twin, std::uint64_t revision) {
  std::string key;
  key.reserve(twin.size() + 9);
  key.append(twin);
  key.push_back('\0');
  key.resize(twin.size() + 9);
  put_be64(key.data() + twin.size() + 1, revision);
  return key;
}

// The journal's prefix extractor: the key minus its 8-byte revision, i.e.
// twin_id '\0'. A prefix bloom filter then answers "does this SST hold any
// event of twin X" for the per-twin range scans.
class journal_prefix final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "twin.journal_prefix.v1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), key.size() - 8};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= 9 && key[key.size() - 9] == '\0';
  }
};

// -- column families ----------------------------------------------------------

enum cf_index : std::size_t {
  cf_default,
  cf_journal,
  cf_snapshots,
  cf_twins,
  cf_models,
  cf_audit,
  cf_alerts,
  cf_meta,
  cf_history,
  cf_count,
};

constexpr const char* cf_names[cf_count] = {
  "default", "journal", "snapshots", "twins", "models", "audit", "alerts", "meta",
  "history",
};

// -- errors -------------------------------------------------------------------

error from_rocks(const rocksdb::Status& s, std::string_view what) {
  auto code = s.IsCorruption() ? errc::corruption : errc::storage_failure;
  std::string msg{what};
  msg += ": ";
  msg += s.ToString();
  return make_error(code, std::move(msg), "rocksdb");
}

bool is_lock_error(const rocksdb::Status& s) {
  if (!s.IsIOError())
    return false;
  auto text = s.ToString();
  // PosixFileSystem::LockFile: "While lock file: DIR/LOCK: Resource
  // temporarily unavailable" (other process) or "lock hold by current
  // process ..." (this process).
  // Not "While open a file for lock" (permissions, missing directory):
  // that is an I/O failure, not a directory in use.
  return text.find("While lock file") != std::string::npos
         || text.find("lock hold by current process") != std::string::npos;
}

error closed_error() {
  return make_error(errc::unavailable, "store is closed");
}

/// The meta key the store itself owns.
constexpr const char* format_version_key = "format_version";

/// A meta key the layers above may use: non-empty, not format_version.
bool meta_key_allowed(const std::string& key) {
  return !key.empty() && key != format_version_key;
}

bool twin_id_ok(const std::string& id) {
  return !id.empty() && std::memchr(id.data(), '\0', id.size()) == nullptr;
}

/// A read inside the writer failed while a request was being prepared
/// (reported as storage_failure, not bad_request).
struct writer_read_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// -- RocksDB options ----------------------------------------------------------

bool compression_supported(rocksdb::CompressionType t) {
  auto all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), t) != all.end();
}

rocksdb::ColumnFamilyOptions
cf_options(std::size_t idx, const std::shared_ptr<rocksdb::Cache>& cache,
           rocksdb::CompressionType compression,
           const std::shared_ptr<rocksdb::CompactionFilterFactory>& retention) {
  rocksdb::ColumnFamilyOptions opts;
  opts.compression = compression;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  if (idx == cf_journal) {
    opts.prefix_extractor = std::make_shared<journal_prefix>();
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.whole_key_filtering = false; // journal reads are range scans
  } else if (idx == cf_history) {
    // Point lookups of rollup buckets (late data, after a restart); range
    // scans for queries. Retention is a compaction filter.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    opts.compaction_filter_factory = retention;
    // Room for the pending records of a whole checkpoint period (about 30
    // bytes per sample, history_checkpoint_samples 2M): the checkpoint's
    // range delete then drops them in the memtable, at flush, instead of
    // their going to L0 and waiting for a compaction.
    opts.write_buffer_size = 128u << 20;
  } else if (idx == cf_twins || idx == cf_snapshots) {
    // point lookups by twin id (get_index, load_snapshot on rehydration)
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  }
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return opts;
}

// One queued request and whom to tell.
struct pending {
  write_request req;
  durable_callback done;
  /// Internal (compact_history): write a history checkpoint before `done`.
  bool checkpoint = false;
};

} // namespace

// -- impl ---------------------------------------------------------------------

struct store::impl {
  store_options options;
  store_stats stats;

  // Guards `db` and `handles` against close(): reads hold it shared.
  std::shared_mutex db_mutex;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles; // cf_index order, then extras
  rocksdb::WriteOptions write_options;

  // The queue between submitters and the writer.
  std::mutex queue_mutex;
  std::condition_variable queue_cv;
  std::vector<pending> queue;
  bool stopping = false; // no new submits; writer drains then exits
  bool closed = false;   // close() completed
  std::mutex close_mutex;
  std::thread writer;

  // Owned by the writer thread after open().
  std::vector<pending> batch_requests;
  std::vector<status> outcomes;
  rocksdb::WriteBatch batch;
  std::uint64_t audit_seq = 0;
  std::string audit_head = security::genesis_hash;
  std::uint64_t alert_seq = 0;
  std::vector<const twin_write*> accepted_writes;
  /// Truncation support, only while the batch holds a truncate: the newest
  /// snapshot revision put per twin earlier in this batch (not yet in the
  /// DB, so a later truncate in the same batch must see it), and per
  /// truncate of the current request whether its snapshot goes.
  bool track_snapshots = false;
  std::unordered_map<std::string, std::uint64_t> batch_snapshots;
  std::vector<char> drop_snapshot;

  // Time-series history: open chunks and buckets, pending samples.
  std::unique_ptr<detail::history> hist;

  rocksdb::ColumnFamilyHandle* cf(cf_index i) const { return handles[i]; }

  ~impl() { close(); }

  status open_db();
  status check_format_version();
  status load_chain_heads();
  void writer_loop();
  /// Writer thread: when the last over-capacity checkpoint ran.
  std::chrono::steady_clock::time_point last_capacity_checkpoint{};
  void commit_batch();
  /// Adds one request to `batch`; throws on a malformed audit/alert value.
  void add_request(write_request& req);
  /// Whether truncating `twin` through `keep` removes its snapshot (the
  /// stored one or one put earlier in this batch); throws writer_read_error.
  bool snapshot_beyond(const std::string& twin, std::uint64_t keep);
  void close();
  void release_db();
  void enqueue(pending p);
};

status store::impl::open_db() {
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.max_background_jobs = 2;
  // A single writer thread issues all writes, so a second write queue or a
  // pipelined write would only add hand-offs; keep the default write path.
  dbo.enable_pipelined_write = false;
  // Bound memtable memory across the column families.
  dbo.db_write_buffer_size = 256u << 20;
  dbo.keep_log_file_num = 4;

  auto cache = rocksdb::NewLRUCache(64u << 20);
  auto compression = compression_supported(rocksdb::kLZ4Compression)
                       ? rocksdb::kLZ4Compression
                       : rocksdb::kNoCompression;

  // Open every column family that exists on disk (a newer build may have
  // added some), so that the format-version check, not RocksDB, refuses it.
  std::vector<std::string> existing;
  auto ls = rocksdb::DB::ListColumnFamilies(dbo, options.path, &existing);
  (void) ls; // NotFound/IOError for a new directory: just use ours
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  auto retention = detail::make_retention_filter(options.clock, options.retention,
                                                 &stats.history_expired);
  for (std::size_t i = 0; i < cf_count; ++i)
    descriptors.emplace_back(cf_names[i], cf_options(i, cache, compression, retention));
  for (const auto& name : existing) {
    if (std::find(std::begin(cf_names), std::end(cf_names), name)
        == std::end(cf_names))
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  }

  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(dbo, options.path, descriptors, &handles, &raw);
  if (!s.ok()) {
    if (is_lock_error(s))
      return make_error(errc::unavailable,
                        "data directory " + options.path
                          + " is in use by another process (RocksDB lock held)",
                        "rocksdb_lock");
    return from_rocks(s, "cannot open data directory " + options.path);
  }
  db.reset(raw);
  write_options.sync = options.sync;
  return ok();
}

status store::impl::check_format_version() {
  std::string value;
  auto s = db->Get(rocksdb::ReadOptions{}, cf(cf_meta), "format_version", &value);
  if (s.IsNotFound()) {
    // A fresh database (or one from before versioning, which has no other
    // layout): stamp the current version.
    auto w = db->Put(rocksdb::WriteOptions{}, cf(cf_meta), "format_version",
                     std::to_string(storage_format_version));
    if (!w.ok())
      return from_rocks(w, "cannot write format_version");
    return ok();
  }
  if (!s.ok())
    return from_rocks(s, "cannot read format_version");
  int version = 0;
  try {
    std::size_t used = 0;
    version = std::stoi(value, &used);
    if (used != value.size())
      throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    return make_error(errc::corruption, "data directory " + options.path
                                          + ": format_version '" + value
                                          + "' is not a number",
                      "format_version");
  }
  if (version > storage_format_version)
    return make_error(errc::corruption,
                      "data directory " + options.path + " has storage format version "
                        + std::to_string(version)
                        + ", newer than this build supports ("
                        + std::to_string(storage_format_version)
                        + "); run a newer twin-node or restore a backup",
                      "format_version");
  if (version < storage_format_version) {
    // Migrations from older formats go here, one step at a time. Version 1
    // is the first format, so there is nothing older to migrate yet.
    auto w = db->Put(rocksdb::WriteOptions{}, cf(cf_meta), "format_version",
                     std::to_string(storage_format_version));
    if (!w.ok())
      return from_rocks(w, "cannot write format_version");
  }
  return ok();
}

status store::impl::load_chain_heads() {
  {
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator({}, cf(cf_audit))};
    it->SeekToLast();
    if (it->Valid()) {
      if (it->key().size() != 8)
        return make_error(errc::corruption, "audit key is not an 8-byte seq",
                          "audit_chain");
      audit_seq = get_be64(it->key().data());
      auto rec = nlohmann::json::parse(it->value().data(),
                                       it->value().data() + it->value().size(),
                                       nullptr, false);
      if (rec.is_object() && rec.contains("hash") && rec["hash"].is_string())
        audit_head = rec["hash"].get<std::string>();
      else
        // The newest record is damaged. Still open, so that verify_audit can
        // report it; new records chain from the hash of its raw bytes.
        audit_head = security::sha256_hex(it->value().ToString());
    }
    if (!it->status().ok())
      return from_rocks(it->status(), "cannot read the audit log");
  }
  {
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator({}, cf(cf_alerts))};
    it->SeekToLast();
    if (it->Valid() && it->key().size() == 8)
      alert_seq = get_be64(it->key().data());
    if (!it->status().ok())
      return from_rocks(it->status(), "cannot read the alerts");
  }
  return ok();
}

void store::impl::writer_loop() {
  using clock = std::chrono::steady_clock;
  const auto interval = options.history_checkpoint_interval;
  auto next_checkpoint = clock::now() + interval;
  for (;;) {
    {
      std::unique_lock lk{queue_mutex};
      if (interval.count() > 0) {
        queue_cv.wait_until(lk, next_checkpoint,
                            [this] { return !queue.empty() || stopping; });
      } else {
        queue_cv.wait(lk, [this] { return !queue.empty() || stopping; });
      }
      if (interval.count() > 0 && clock::now() >= next_checkpoint) {
        // The periodic checkpoint: stores what changed and frees the
        // in-memory state of series idle for a whole interval, so history
        // memory follows the active series, not every series ever seen.
        next_checkpoint = clock::now() + interval;
        if (hist->has_state()) {
          lk.unlock();
          auto cs = hist->checkpoint(write_options);
          (void) cs; // a failed checkpoint keeps the pending records; retried
          lk.lock();
        }
      }
      if (queue.empty()) {
        if (stopping)
          return; // stopping and drained
        continue;
      }
      if (queue.size() <= options.max_batch_requests) {
        // batch_requests is empty here; swapping keeps both capacities.
        std::swap(queue, batch_requests);
      } else {
        auto n = static_cast<std::ptrdiff_t>(options.max_batch_requests);
        std::move(queue.begin(), queue.begin() + n,
                  std::back_inserter(batch_requests));
        queue.erase(queue.begin(), queue.begin() + n);
      }
    }
    commit_batch();
    batch_requests.clear();
  }
}

bool store::impl::snapshot_beyond(const std::string& twin, std::uint64_t keep) {
  if (auto it = batch_snapshots.find(twin);
      it != batch_snapshots.end() && it->second > keep)
    return true;
  std::string value;
  auto s = db->Get(rocksdb::ReadOptions{}, cf(cf_snapshots), twin, &value);
  if (s.IsNotFound())
    return false;
  if (!s.ok())
    throw writer_read_error("cannot read snapshot of " + twin + ": " + s.ToString());
  // An undecodable snapshot goes too: it could not be trusted anyway.
  return value.size() < 8 || get_be64(value.data()) > keep;
}

void store::impl::add_request(write_request& req) {
  char rev[8];
  static constexpr char nul = '\0';
  // Validate before the first Put, so that only audit/alert values can
  // fail half-way (commit_batch sets a save point for those).
  for (auto& tw : req.twins)
    if (!twin_id_ok(tw.twin_id))
      throw std::invalid_argument("twin id is empty or contains NUL");
  for (auto& [twin, keep] : req.truncate)
    if (!twin_id_ok(twin))
      throw std::invalid_argument("truncated twin id is empty or contains NUL");
  for (auto& [key, value] : req.meta_put)
    if (!meta_key_allowed(key))
      throw std::invalid_argument("meta key '" + key + "' is empty or reserved");
  for (auto& key : req.meta_delete)
    if (!meta_key_allowed(key))
      throw std::invalid_argument("meta key '" + key + "' is empty or reserved");
  for (auto& tw : req.twins)
    detail::history::validate(tw);
  drop_snapshot.clear();
  for (auto& [twin, keep] : req.truncate)
    drop_snapshot.push_back(snapshot_beyond(twin, keep) ? 1 : 0);
  // Truncations first: the request's own twin writes then land on the
  // shortened journal (one request replaces a tail atomically).
  for (std::size_t i = 0; i < req.truncate.size(); ++i) {
    const auto& [twin, keep] = req.truncate[i];
    if (keep != UINT64_MAX) {
      // [twin \0 be64(keep + 1), twin \x01): every later revision of this
      // twin and nothing of another (ids have no NUL).
      auto from = journal_key(twin, keep + 1);
      auto to = twin + '\x01';
      auto s = batch.DeleteRange(cf(cf_journal), from, to);
      if (!s.ok())
        throw std::runtime_error(s.ToString());
    }
    if (drop_snapshot[i]) {
      auto s = batch.Delete(cf(cf_snapshots), twin);
      if (!s.ok())
        throw std::runtime_error(s.ToString());
      batch_snapshots.erase(twin);
    }
    if (keep == 0) {
      auto s = batch.Delete(cf(cf_twins), twin);
      if (!s.ok())
        throw std::runtime_error(s.ToString());
    }
  }
  for (auto& tw : req.twins) {
    rocksdb::Slice id{tw.twin_id};
    for (auto& [revision, bytes] : tw.events) {
      put_be64(rev, revision);
      rocksdb::Slice kparts[3] = {id, {&nul, 1}, {rev, 8}};
      rocksdb::Slice vpart{bytes};
      auto s = batch.Put(cf(cf_journal), rocksdb::SliceParts{kparts, 3},
                         rocksdb::SliceParts{&vpart, 1});
      if (!s.ok())
        throw std::runtime_error(s.ToString());
    }
    if (tw.snapshot) {
      put_be64(rev, tw.snapshot->first);
      rocksdb::Slice vparts[2] = {{rev, 8}, tw.snapshot->second};
      auto s = batch.Put(cf(cf_snapshots), rocksdb::SliceParts{&id, 1},
                         rocksdb::SliceParts{vparts, 2});
      if (!s.ok())
        throw std::runtime_error(s.ToString());
      if (track_snapshots)
        batch_snapshots[tw.twin_id] = tw.snapshot->first;
    }
    if (tw.index_entry) {
      auto s = batch.Put(cf(cf_twins), id, *tw.index_entry);
      if (!s.ok())
        throw std::runtime_error(s.ToString());
    }
  }
  for (auto& record : req.audit) {
    if (!record.is_object())
      throw std::invalid_argument("audit record is not a JSON object");
    record["seq"] = ++audit_seq;
    security::seal_audit_record(record, audit_head);
    audit_head = record["hash"].get<std::string>();
    put_be64(rev, audit_seq);
    auto s = batch.Put(cf(cf_audit), {rev, 8},
                       record.dump(-1, ' ', false,
                                   nlohmann::json::error_handler_t::replace));
    if (!s.ok())
      throw std::runtime_error(s.ToString());
  }
  for (auto& alert : req.alerts) {
    if (!alert.is_object())
      throw std::invalid_argument("alert is not a JSON object");
    alert["seq"] = ++alert_seq;
    put_be64(rev, alert_seq);
    auto s = batch.Put(cf(cf_alerts), {rev, 8},
                       alert.dump(-1, ' ', false,
                                  nlohmann::json::error_handler_t::replace));
    if (!s.ok())
      throw std::runtime_error(s.ToString());
  }
  for (auto& [dtmi, doc] : req.models_put) {
    auto s = batch.Put(cf(cf_models), dtmi, doc);
    if (!s.ok())
      throw std::runtime_error(s.ToString());
  }
  for (auto& dtmi : req.models_delete) {
    auto s = batch.Delete(cf(cf_models), dtmi);
    if (!s.ok())
      throw std::runtime_error(s.ToString());
  }
  for (auto& [key, value] : req.meta_put) {
    auto s = batch.Put(cf(cf_meta), key, value);
    if (!s.ok())
      throw std::runtime_error(s.ToString());
  }
  for (auto& key : req.meta_delete) {
    auto s = batch.Delete(cf(cf_meta), key);
    if (!s.ok())
      throw std::runtime_error(s.ToString());
  }
  // Last: nothing after this throws, so a rejected request leaves no
  // samples in the group's pending record.
  for (auto& tw : req.twins)
    hist->add(tw);
}

void store::impl::commit_batch() {
  const auto n = batch_requests.size();
  outcomes.assign(n, ok());
  batch.Clear();
  hist->begin_batch();
  // Snapshots put in this batch matter only to a truncate in this batch.
  track_snapshots = false;
  for (std::size_t i = 0; i < n && !track_snapshots; ++i)
    track_snapshots = !batch_requests[i].req.truncate.empty();
  batch_snapshots.clear();

  // Chain heads before this group commit: restored if the write fails, so
  // that a failed batch leaves no gap in the audit seq and no dangling link.
  const auto seq_before = audit_seq;
  const auto head_before = audit_head;
  const auto alert_before = alert_seq;

  std::size_t accepted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    // A request is atomic: a malformed one is rolled back out of the batch
    // and rejected alone, the rest of the group still commits.
    auto& req = batch_requests[i].req;
    // Truncations and meta entries are Puts before the audit records, so
    // they ride on the save point too (a Put failing half-way is rolled back).
    const bool save = !req.audit.empty() || !req.alerts.empty()
                      || !req.truncate.empty() || !req.meta_put.empty()
                      || !req.meta_delete.empty();
    if (save)
      batch.SetSavePoint();
    const auto seq_mark = audit_seq;
    auto head_mark = save ? audit_head : std::string{};
    const auto alert_mark = alert_seq;
    try {
      add_request(req);
      if (save) {
        auto ps = batch.PopSavePoint(); // keep the save-point stack shallow
        (void) ps;
      }
      ++accepted;
    } catch (const std::exception& e) {
      // Without audit/alerts the throw came from validation, before any
      // Put and before any chain head moved.
      if (save) {
        auto rs = batch.RollbackToSavePoint();
        (void) rs; // a save point was set just above
        audit_seq = seq_mark;
        audit_head = std::move(head_mark);
        alert_seq = alert_mark;
      }
      const bool read_failed = dynamic_cast<const writer_read_error*>(&e) != nullptr;
      outcomes[i] = make_error(read_failed ? errc::storage_failure : errc::bad_request,
                               std::string{"write request rejected: "} + e.what());
    }
  }

  status result = ok();
  if (accepted > 0) {
    // One record holds every sample of the group commit (not one key per
    // sample): they become durable with their events.
    try {
      hist->put_pending(batch);
    } catch (const std::exception& e) {
      result = make_error(errc::storage_failure,
                          std::string{"group commit failed: "} + e.what(), "rocksdb");
    }
    if (result && options.fault_injector)
      result = options.fault_injector();
    if (result) {
      auto s = db->Write(write_options, &batch);
      if (!s.ok())
        result = from_rocks(s, "group commit failed");
    }
  }
  bool force_checkpoint = false;
  if (result && accepted > 0) {
    // Durable: visible to history queries before anyone is told.
    accepted_writes.clear();
    for (std::size_t i = 0; i < n; ++i)
      if (outcomes[i])
        for (const auto& tw : batch_requests[i].req.twins)
          accepted_writes.push_back(&tw);
    hist->ingest(accepted_writes);
  } else {
    hist->abort_batch();
  }
  // compact_history(): one checkpoint for every such request of the batch.
  status forced = ok();
  for (std::size_t i = 0; result && i < n; ++i)
    if (batch_requests[i].checkpoint && outcomes[i]) {
      if (!force_checkpoint)
        forced = hist->checkpoint(write_options);
      force_checkpoint = true;
      outcomes[i] = forced;
    }
  stats.commits.fetch_add(1, std::memory_order_relaxed);
  stats.requests.fetch_add(n, std::memory_order_relaxed);
  if (result) {
    stats.bytes_written.fetch_add(batch.GetDataSize(), std::memory_order_relaxed);
  } else {
    audit_seq = seq_before;
    audit_head = head_before;
    alert_seq = alert_before;
    for (auto& o : outcomes)
      if (o)
        o = result;
  }
  // Counters first: whoever a callback wakes sees them up to date.
  std::uint64_t failed = 0;
  for (const auto& o : outcomes)
    if (!o)
      ++failed;
  if (failed > 0)
    stats.failures.fetch_add(failed, std::memory_order_relaxed);
  for (std::size_t i = 0; i < n; ++i) {
    auto& done = batch_requests[i].done;
    if (!done)
      continue;
    // Callbacks must not throw or block (see store.hpp); a throwing one
    // must not take the writer thread, and every later commit, with it.
    try {
      done(outcomes[i]);
    } catch (...) {
    }
  }
  // After the callbacks: acknowledgements do not wait for it. A failed
  // checkpoint keeps the pending records; the next batch retries.
  const auto now = std::chrono::steady_clock::now();
  if (!force_checkpoint
      && (hist->checkpoint_due()
          || (hist->over_capacity()
              && now - last_capacity_checkpoint >= std::chrono::milliseconds{200}))) {
    auto cs = hist->checkpoint(write_options);
    (void) cs;
    // From its end: a checkpoint slower than the spacing must not let the
    // next one start at once.
    last_capacity_checkpoint = std::chrono::steady_clock::now();
  }
}

void store::impl::close() {
  std::lock_guard close_lk{close_mutex};
  if (closed)
    return;
  {
    std::lock_guard lk{queue_mutex};
    stopping = true;
  }
  queue_cv.notify_all();
  if (writer.joinable())
    writer.join();
  if (db && hist && hist->dirty()) {
    // A clean close leaves nothing to replay at the next open.
    auto cs = hist->checkpoint(write_options);
    (void) cs; // on failure the pending records stay and are replayed
  }
  release_db();
  closed = true;
}

void store::impl::release_db() {
  std::unique_lock lk{db_mutex};
  if (!db)
    return;
  if (!options.sync) {
    auto s = db->FlushWAL(true);
    (void) s; // best effort on shutdown: nothing left to report it to
  }
  for (auto* h : handles) {
    auto s = db->DestroyColumnFamilyHandle(h);
    (void) s;
  }
  handles.clear();
  auto s = db->Close();
  (void) s;
  db.reset();
}

// -- store --------------------------------------------------------------------

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

store::~store() {
  if (impl_)
    impl_->close();
}

expected<std::unique_ptr<store>> store::open(store_options options) {
  if (options.path.empty())
    return make_error(errc::bad_request, "store_options.path is empty");
  if (options.max_batch_requests == 0)
    options.max_batch_requests = 1;
  auto p = std::make_unique<impl>();
  p->options = std::move(options);
  if (p->options.history_chunk_samples == 0)
    p->options.history_chunk_samples = 1;
  p->hist = std::make_unique<detail::history>(p->options, p->stats);
  if (auto s = p->open_db(); !s)
    return std::move(s).error();
  if (auto s = p->check_format_version(); !s) {
    p->release_db();
    return std::move(s).error();
  }
  if (auto s = p->load_chain_heads(); !s) {
    p->release_db();
    return std::move(s).error();
  }
  if (auto s = p->hist->open(p->db.get(), p->cf(cf_history)); !s) {
    p->release_db();
    return std::move(s).error();
  }
  p->queue.reserve(1024);
  p->batch_requests.reserve(1024);
  auto* raw = p.get();
  p->writer = std::thread{[raw] { raw->writer_loop(); }};
  return std::unique_ptr<store>{new store(std::move(p))};
}

void store::submit(write_request req, durable_callback done) {
  impl_->enqueue(pending{std::move(req), std::move(done)});
}

void store::impl::enqueue(pending p) {
  auto& d = *this;
  bool wake = false;
  {
    std::unique_lock lk{d.queue_mutex};
    if (d.stopping) {
      lk.unlock();
      if (p.done)
        p.done(closed_error());
      return;
    }
    wake = d.queue.empty();
    d.queue.push_back(std::move(p));
  }
  // Only the first request of an empty queue needs to wake the writer: if
  // the queue was not empty the writer is awake or already notified, and it
  // re-checks the queue before it sleeps.
  if (wake)
    d.queue_cv.notify_one();
}

status store::write(write_request req) {
  std::promise<status> promise;
  auto fut = promise.get_future();
  submit(std::move(req), [&promise](const status& s) { promise.set_value(s); });
  return fut.get();
}

void store::close() {
  impl_->close();
}

status store::flush() {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  rocksdb::FlushOptions fo;
  fo.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(impl_->handles.begin(),
                                                impl_->handles.begin() + cf_count);
  auto s = impl_->db->Flush(fo, cfs);
  if (!s.ok())
    return from_rocks(s, "flush failed");
  return ok();
}

std::uint64_t store::memtable_bytes() const {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return 0;
  std::uint64_t v = 0;
  if (!impl_->db->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &v))
    return 0;
  return v;
}

// -- history ------------------------------------------------------------------

expected<history_result> store::history(const history_query& q) {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  return impl_->hist->query(q);
}

expected<std::vector<std::string>> store::history_series(const std::string& twin) {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  return impl_->hist->series(twin);
}

status store::compact_history() {
  // 1. A checkpoint on the writer thread: the open chunks and buckets go to
  //    the column family, where compaction can see them.
  std::promise<status> promise;
  auto fut = promise.get_future();
  pending p;
  p.done = [&promise](const status& s) { promise.set_value(s); };
  p.checkpoint = true;
  impl_->enqueue(std::move(p));
  if (auto s = fut.get(); !s)
    return s;
  // 2. Compact everything (flushing the memtable first), so that the
  //    retention filter sees every record.
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  auto s = impl_->db->CompactRange(co, impl_->cf(cf_history), nullptr, nullptr);
  if (!s.ok())
    return from_rocks(s, "history compaction failed");
  return ok();
}

const store_stats& store::stats() const noexcept {
  return impl_->stats;
}

// -- reads --------------------------------------------------------------------

expected<std::optional<snapshot_record>>
store::load_snapshot(const std::string& twin) {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  std::string value;
  auto s = impl_->db->Get({}, impl_->cf(cf_snapshots), twin, &value);
  if (s.IsNotFound())
    return std::optional<snapshot_record>{};
  if (!s.ok())
    return from_rocks(s, "cannot read snapshot of " + twin);
  if (value.size() < 8)
    return make_error(errc::corruption,
                      "snapshot of " + twin + " is shorter than its revision",
                      "snapshot_format");
  snapshot_record rec;
  rec.revision = get_be64(value.data());
  rec.bytes = value.substr(8);
  return std::optional<snapshot_record>{std::move(rec)};
}

expected<std::vector<journal_record>>
store::read_journal(const std::string& twin, std::uint64_t from, std::uint64_t to) {
  std::vector<journal_record> out;
  if (from > to)
    return out;
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  auto lower = journal_key(twin, from);
  // Exclusive upper bound: the next revision, or past the whole prefix.
  std::string upper = to == UINT64_MAX ? twin + '\x01' : journal_key(twin, to + 1);
  rocksdb::Slice lo{lower}, hi{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  ro.auto_prefix_mode = true;
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator(ro, impl_->cf(cf_journal))};
  const auto key_size = twin.size() + 9;
  for (it->Seek(lo); it->Valid(); it->Next()) {
    auto k = it->key();
    if (k.size() != key_size) // another twin's key inside the bounds
      continue;
    out.push_back({get_be64(k.data() + twin.size() + 1), it->value().ToString()});
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "cannot read journal of " + twin);
  return out;
}

status store::scan_journal_reverse(
  const std::string& twin, const std::function<bool(const journal_record&)>& fn) {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  auto lower = journal_key(twin, 0);
  std::string upper = twin + '\x01';
  rocksdb::Slice lo{lower}, hi{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  ro.total_order_seek = true; // backward iteration across the prefix end
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator(ro, impl_->cf(cf_journal))};
  const auto key_size = twin.size() + 9;
  journal_record rec;
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    auto k = it->key();
    if (k.size() != key_size)
      continue;
    rec.revision = get_be64(k.data() + twin.size() + 1);
    rec.bytes.assign(it->value().data(), it->value().size());
    if (!fn(rec))
      return ok();
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "cannot read journal of " + twin);
  return ok();
}

expected<std::optional<std::string>> store::get_index(const std::string& twin) {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  std::string value;
  auto s = impl_->db->Get({}, impl_->cf(cf_twins), twin, &value);
  if (s.IsNotFound())
    return std::optional<std::string>{};
  if (!s.ok())
    return from_rocks(s, "cannot read index entry of " + twin);
  return std::optional<std::string>{std::move(value)};
}

status store::scan_index(
  const std::string& after,
  const std::function<bool(const std::string& twin, const std::string& entry)>& fn) {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator({}, impl_->cf(cf_twins))};
  if (after.empty())
    it->SeekToFirst();
  else {
    it->Seek(after);
    if (it->Valid() && it->key() == rocksdb::Slice{after})
      it->Next();
  }
  std::string id, entry;
  for (; it->Valid(); it->Next()) {
    id.assign(it->key().data(), it->key().size());
    entry.assign(it->value().data(), it->value().size());
    if (!fn(id, entry))
      return ok();
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "cannot scan the twins index");
  return ok();
}

expected<std::vector<std::string>> store::twin_ids() {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator({}, impl_->cf(cf_twins))};
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out.push_back(it->key().ToString());
  if (!it->status().ok())
    return from_rocks(it->status(), "cannot scan the twins index");
  return out;
}

namespace {

error meta_key_error(const std::string& key) {
  return make_error(errc::bad_request,
                    "meta key '" + key + "' is empty or reserved (format_version)",
                    "meta_key");
}

} // namespace

status store::put_meta(const std::string& key, const std::string& value) {
  if (!meta_key_allowed(key))
    return meta_key_error(key);
  write_request req;
  req.meta_put.emplace_back(key, value);
  return write(std::move(req));
}

status store::delete_meta(const std::string& key) {
  if (!meta_key_allowed(key))
    return meta_key_error(key);
  write_request req;
  req.meta_delete.push_back(key);
  return write(std::move(req));
}

expected<std::optional<std::string>> store::get_meta(const std::string& key) {
  if (!meta_key_allowed(key))
    return meta_key_error(key);
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  std::string value;
  auto s = impl_->db->Get({}, impl_->cf(cf_meta), key, &value);
  if (s.IsNotFound())
    return std::optional<std::string>{};
  if (!s.ok())
    return from_rocks(s, "cannot read meta " + key);
  return std::optional<std::string>{std::move(value)};
}

expected<std::vector<std::pair<std::string, std::string>>> store::list_models() {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator({}, impl_->cf(cf_models))};
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out.emplace_back(it->key().ToString(), it->value().ToString());
  if (!it->status().ok())
    return from_rocks(it->status(), "cannot list models");
  return out;
}

namespace {

expected<std::vector<nlohmann::json>>
list_seq_cf(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::uint64_t from,
            std::size_t limit, std::string_view what) {
  std::vector<nlohmann::json> out;
  std::unique_ptr<rocksdb::Iterator> it{db.NewIterator({}, cf)};
  auto start = be64(from);
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    auto v = it->value();
    auto rec = nlohmann::json::parse(v.data(), v.data() + v.size(), nullptr, false);
    if (rec.is_discarded()) {
      auto seq = it->key().size() == 8 ? get_be64(it->key().data()) : 0;
      return make_error(errc::corruption,
                        std::string{what} + " record " + std::to_string(seq)
                          + " is not valid JSON",
                        "record_format");
    }
    out.push_back(std::move(rec));
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "cannot read " + std::string{what});
  return out;
}

} // namespace

expected<std::vector<nlohmann::json>> store::list_audit(std::uint64_t from,
                                                        std::size_t limit) {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  return list_seq_cf(*impl_->db, impl_->cf(cf_audit), from, limit, "audit");
}

expected<std::vector<nlohmann::json>> store::list_alerts(std::uint64_t from,
                                                         std::size_t limit) {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  return list_seq_cf(*impl_->db, impl_->cf(cf_alerts), from, limit, "alerts");
}

expected<audit_verdict> store::verify_audit() {
  std::shared_lock lk{impl_->db_mutex};
  if (!impl_->db)
    return closed_error();
  audit_verdict verdict;
  // A consistent view: records committed while we walk are not half-seen.
  const rocksdb::Snapshot* snap = impl_->db->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator(ro, impl_->cf(cf_audit))};
  auto fail = [&](std::uint64_t seq, std::string reason) {
    verdict.intact = false;
    verdict.first_bad_seq = seq;
    verdict.reason = std::move(reason);
  };
  std::string prev = security::genesis_hash;
  std::uint64_t expected_seq = 1;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++verdict.records;
    if (it->key().size() != 8) {
      fail(expected_seq, "key is not an 8-byte seq");
      break;
    }
    const auto seq = get_be64(it->key().data());
    if (seq != expected_seq) {
      fail(expected_seq, "record " + std::to_string(expected_seq)
                           + " is missing (next stored record is "
                           + std::to_string(seq) + ")");
      break;
    }
    auto v = it->value();
    auto rec = nlohmann::json::parse(v.data(), v.data() + v.size(), nullptr, false);
    if (rec.is_discarded()) {
      fail(seq, "not valid JSON");
      break;
    }
    if (!rec.is_object()) {
      fail(seq, "not a JSON object");
      break;
    }
    auto seq_it = rec.find("seq");
    if (seq_it == rec.end() || !seq_it->is_number_unsigned()
        || seq_it->get<std::uint64_t>() != seq) {
      fail(seq, "seq field does not match its key " + std::to_string(seq));
      break;
    }
    if (auto why = security::check_audit_record(rec, prev)) {
      fail(seq, std::move(*why));
      break;
    }
    prev = rec["hash"].get<std::string>();
    ++expected_seq;
  }
  auto it_status = it->status();
  it.reset();
  impl_->db->ReleaseSnapshot(snap);
  if (!it_status.ok())
    return from_rocks(it_status, "cannot read the audit log");
  return verdict;
}

} // namespace twin::persistence
