#pragma once
// The store's time-series history (private to twin_persistence). See
// docs/adr/0008-history-chunks.md and docs/storage.md.
//
// Ownership and threads:
//   - The store's writer thread calls validate/add/put_pending while it
//     builds a group commit, ingest after the commit is durable (before the
//     callbacks run) and checkpoint; open() and close_checkpoint() run
//     before the writer starts and after it stopped.
//   - history()/series() run on any reader thread.
//   - `mutex_` guards the in-memory state (`twins_`, counters used by
//     queries); the writer takes it once per group commit, not per sample.
//   - The compaction filter runs on RocksDB's background threads; it reads
//     only the options (clock, retention) and bumps an atomic counter.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "twin/persistence/gorilla.hpp"
#include "twin/persistence/store.hpp"

namespace twin::persistence::detail {

/// Raw chunks partition time into windows of this length (1 hour).
inline constexpr std::int64_t raw_window_ms = 3'600'000;
inline constexpr std::int64_t minute_ms = 60'000;
inline constexpr std::int64_t hour_ms = 3'600'000;

/// Key tier bytes of the history column family.
inline constexpr char key_raw = 'r';
inline constexpr char key_minute = 'm';
inline constexpr char key_hour = 'h';
inline constexpr char key_pending = 'p';
/// The checkpoint record: "\0cp".
inline const std::string checkpoint_key{"\0cp", 3};

/// floor(t / w) * w, also for negative t.
constexpr std::int64_t window_of(std::int64_t t, std::int64_t w) noexcept {
  auto r = t % w;
  return r < 0 ? t - r - w : t - r;
}

/// The retention compaction filter's factory; `now` is read once per
/// compaction.
std::shared_ptr<rocksdb::CompactionFilterFactory>
make_retention_filter(std::function<std::int64_t()> clock, retention_policy retention,
                      std::atomic<std::uint64_t>* expired);

class history {
public:
  history(const store_options& options, store_stats& stats);

  /// Loads the checkpoint record and replays the pending samples after it.
  status open(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf);

  // -- writer thread --------------------------------------------------------

  /// Throws std::invalid_argument for an empty series name or one with NUL.
  static void validate(const twin_write& tw);
  /// Starts a group commit's pending record.
  void begin_batch() { pending_buf_.clear(); }
  /// Appends the samples of an accepted twin write to the pending record.
  void add(const twin_write& tw);
  /// Puts the pending record (if any samples) into `batch`.
  void put_pending(rocksdb::WriteBatch& batch);
  /// The group commit is durable: fold its samples into the open state.
  void ingest(const std::vector<const twin_write*>& writes);
  /// The group commit failed: forget its pending record.
  void abort_batch() { pending_buf_.clear(); }
  /// Samples folded in since the last checkpoint.
  bool dirty() const noexcept { return since_checkpoint_ > 0; }
  /// Anything in memory (dirty or kept from the last checkpoint).
  bool has_state() {
    std::lock_guard lk{mutex_};
    return open_series_ > 0 || since_checkpoint_ > 0;
  }
  /// More series in memory than history_max_open_series (writer thread:
  /// the only one that changes the map).
  /// ... and at least half of the cap could be freed (series idle for a
  /// whole idle epoch, see touch()), so a fleet with more hot series than
  /// the cap does not checkpoint over and over.
  /// ... or at least half of the cap are series new since the last
  /// checkpoint: a fleet being created is all dirty, and waiting for the
  /// interval would hold every series it makes meanwhile (ADR 0013).
  bool over_capacity() const noexcept {
    const auto cap = options_.history_max_open_series;
    const auto recent = touched_[0] + touched_[1];
    return open_series_ > cap
           && ((open_series_ > recent && open_series_ - recent >= cap / 2)
               || new_series_ >= cap / 2);
  }
  bool checkpoint_due() const noexcept {
    return since_checkpoint_ >= options_.history_checkpoint_samples;
  }
  /// Writes every open chunk and rollup bucket and deletes the pending
  /// records they cover, in one WriteBatch.
  status checkpoint(const rocksdb::WriteOptions& wo);

  // -- any thread -----------------------------------------------------------

  expected<history_result> query(const history_query& q);
  expected<std::vector<std::string>> series(const std::string& twin);

  std::int64_t now() const;

private:
  struct builder {
    gorilla::chunk_encoder enc;
    std::int64_t window = 0;
    std::uint64_t seq = 0;
    bool active = false;
  };
  struct sealed_chunk {
    std::int64_t window;
    std::uint64_t seq;
    std::string bytes;
  };
  struct bucket {
    std::int64_t start = 0;
    double min = 0, max = 0, sum = 0;
    std::uint64_t count = 0;
    double last = 0;
    std::int64_t last_time = 0;
    bool dirty = false;
  };
  struct series_state {
    builder open, late;
    std::vector<sealed_chunk> sealed; // awaiting the next checkpoint
    std::vector<bucket> minutes, hours; // ascending by start
    bool dirty = false;                 // touched since the last checkpoint
    std::uint32_t epoch = 0;            // the idle epoch it was last touched in
  };
  struct series_entry {
    std::string name;
    series_state state;
  };
  /// A twin's series, found by name with a linear search (a twin has a few
  /// dozen at most): a sample costs a string compare, and a twin write one
  /// hash lookup, however many samples it carries. Held by value: nothing
  /// keeps a reference to an entry across an insertion (every sample looks
  /// its series up again), and growing the vector moves the entries.
  struct twin_state {
    std::vector<series_entry> series;
  };
  static_assert(std::is_nothrow_move_constructible_v<series_entry>);

  /// The index of `t`'s series `name`, or t.series.size(); the search
  /// starts at `from` (<= size) and wraps around.
  static std::size_t find_series(const twin_state& t, std::string_view name,
                                 std::size_t from) noexcept;
  /// `t`'s series `name`, added if new. `next` is where the search starts,
  /// and is set to the index after the entry: a twin's writes usually name
  /// its series in the same order, so the first compare is a hit.
  series_entry& open_series(twin_state& t, std::string_view name, std::size_t& next);
  /// The series `series` of `twin` held in memory, or null (mutex_ held).
  const series_entry* find_entry(const std::string& twin, std::string_view series) const;
  void ingest_sample(const std::string& twin, series_entry& e, std::int64_t t,
                     double number, std::string_view text, bool is_text);
  builder& pick_builder(series_state& s, std::int64_t window, gorilla::chunk_kind kind);
  void start(builder& b, std::int64_t window, gorilla::chunk_kind kind);
  void seal(series_state& s, builder& b);
  /// The bucket of `e` starting at `start`: the newest one (nearly every
  /// sample's) inline, any other out of line.
  bucket& find_bucket(const std::string& twin, series_entry& e, bool hour,
                      std::int64_t start) {
    auto& v = hour ? e.state.hours : e.state.minutes;
    if (!v.empty() && v.back().start == start)
      return v.back();
    return find_other_bucket(twin, e, hour, start);
  }
  bucket& find_other_bucket(const std::string& twin, series_entry& e, bool hour,
                            std::int64_t start);
  void replay_record(std::string_view value);

  const store_options& options_;
  store_stats& stats_;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* cf_ = nullptr;

  std::mutex mutex_;
  std::unordered_map<std::string, twin_state> twins_;
  /// Series held in `twins_` (writer thread changes it).
  std::size_t open_series_ = 0;
  /// Series added to memory since the last checkpoint (writer thread).
  std::size_t new_series_ = 0;
  /// Idle epochs (ADR 0014): a checkpoint frees only series untouched in
  /// the current epoch and the one before, i.e. idle for at least one
  /// epoch, however soon after the previous checkpoint it runs. Without
  /// this, an over-capacity checkpoint 200 ms after another freed every hot
  /// series that had not been written in those 200 ms, and they came back
  /// at once as new series, reloading their buckets: a fleet larger than
  /// the cap checkpointed every 200 ms (writer thread).
  /// The epoch's length is store_options::history_idle_min.
  std::uint32_t epoch_ = 2;  // 0 (a series' initial epoch) is never recent
  std::chrono::steady_clock::time_point epoch_start_{};
  /// Series in memory last touched in epoch_ ([0]) and in epoch_ - 1 ([1]).
  std::size_t touched_[2] = {0, 0};
  void advance_epoch();
  void touch(series_state& s) noexcept;
  bool recent(const series_state& s) const noexcept { return s.epoch + 1 >= epoch_; }

  // Writer thread only.
  std::string pending_buf_;
  std::uint64_t next_pending_ = 1;   // seq of the next pending record
  std::uint64_t covered_ = 0;        // pending records <= covered_ are folded in memory
  std::uint64_t next_chunk_ = 1;     // chunk key disambiguator, store-wide
  std::int64_t max_written_[2] = {INT64_MIN, INT64_MIN}; // minute, hour bucket starts
  std::uint64_t since_checkpoint_ = 0;
};

} // namespace twin::persistence::detail
