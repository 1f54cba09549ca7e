// The store's time-series history. See history.hpp for who runs what, and
// docs/adr/0008-history-chunks.md for the design.

#include "be64.hpp"
#include "history.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

namespace twin::persistence::detail {

namespace {

// -- encoding -----------------------------------------------------------------


/// Signed time as big-endian with the sign bit flipped: byte order is
/// numeric order, negative times included.
void append_time_key(std::string& out, std::int64_t t) {
  char b[8];
  put_be64(b, static_cast<std::uint64_t>(t) ^ (std::uint64_t{1} << 63));
  out.append(b, 8);
}

std::int64_t get_time_key(const char* in) noexcept {
  return static_cast<std::int64_t>(get_be64(in) ^ (std::uint64_t{1} << 63));
}

void append_be64(std::string& out, std::uint64_t v) {
  char b[8];
  put_be64(b, v);
  out.append(b, 8);
}

void append_le64(std::string& out, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.append(b, 8);
}

std::uint64_t get_le64(const char* in) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

void append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool read_varint(std::string_view& in, std::uint64_t& v) noexcept {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= std::uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0)
      return true;
  }
  return false;
}

/// tier + twin '\0' series '\0'
std::string series_prefix(char tier, std::string_view twin, std::string_view series) {
  std::string k;
  k.reserve(twin.size() + series.size() + 3 + 16);
  k.push_back(tier);
  k.append(twin);
  k.push_back('\0');
  k.append(series);
  k.push_back('\0');
  return k;
}

constexpr std::size_t bucket_value_size = 48;

/// a - b, saturating (a retention of INT64_MAX means "forever").
constexpr std::int64_t sat_sub(std::int64_t a, std::int64_t b) noexcept {
  if (b > 0 && a < INT64_MIN + b)
    return INT64_MIN;
  if (b < 0 && a > INT64_MAX + b)
    return INT64_MAX;
  return a - b;
}

// -- retention filter ---------------------------------------------------------

class retention_filter final : public rocksdb::CompactionFilter {
public:
  retention_filter(std::int64_t now, const retention_policy& r,
                   std::atomic<std::uint64_t>* expired)
    : now_(now), r_(r), expired_(expired) {}

  bool Filter(int, const rocksdb::Slice& key, const rocksdb::Slice&, std::string*,
              bool*) const override {
    if (key.empty())
      return false;
    std::int64_t end = 0, age = 0;
    switch (key[0]) {
      case key_raw:
        if (key.size() < 1 + 2 + 16)
          return false;
        end = get_time_key(key.data() + key.size() - 16) + raw_window_ms;
        age = r_.raw_ms;
        break;
      case key_minute:
        if (key.size() < 1 + 2 + 8)
          return false;
        end = get_time_key(key.data() + key.size() - 8) + minute_ms;
        age = r_.minute_ms;
        break;
      case key_hour:
        if (key.size() < 1 + 2 + 8)
          return false;
        end = get_time_key(key.data() + key.size() - 8) + hour_ms;
        age = r_.hour_ms;
        break;
      default:
        return false; // pending records and the checkpoint are never dropped
    }
    if (end > sat_sub(now_, age))
      return false;
    if (expired_ != nullptr)
      expired_->fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  const char* Name() const override { return "twin.history_retention.v1"; }

private:
  std::int64_t now_;
  retention_policy r_;
  std::atomic<std::uint64_t>* expired_;
};

class retention_filter_factory final : public rocksdb::CompactionFilterFactory {
public:
  retention_filter_factory(std::function<std::int64_t()> clock, retention_policy r,
                           std::atomic<std::uint64_t>* expired)
    : clock_(std::move(clock)), r_(r), expired_(expired) {}
  std::unique_ptr<rocksdb::CompactionFilter>
  CreateCompactionFilter(const rocksdb::CompactionFilter::Context&) override {
    return std::make_unique<retention_filter>(clock_(), r_, expired_);
  }
  const char* Name() const override { return "twin.history_retention_factory.v1"; }

private:
  std::function<std::int64_t()> clock_;
  retention_policy r_;
  std::atomic<std::uint64_t>* expired_;
};

std::int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

error corrupt(std::string what) {
  return make_error(errc::corruption, std::move(what), "history_format");
}

} // namespace

std::shared_ptr<rocksdb::CompactionFilterFactory>
make_retention_filter(std::function<std::int64_t()> clock, retention_policy retention,
                      std::atomic<std::uint64_t>* expired) {
  if (!clock)
    clock = system_now;
  return std::make_shared<retention_filter_factory>(std::move(clock), retention,
                                                    expired);
}

// -- history ------------------------------------------------------------------

history::history(const store_options& options, store_stats& stats)
  : options_(options), stats_(stats) {
  pending_buf_.reserve(1 << 16);
}

std::int64_t history::now() const {
  return options_.clock ? options_.clock() : system_now();
}

status history::open(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
  db_ = db;
  cf_ = cf;
  std::string value;
  auto s = db_->Get({}, cf_, checkpoint_key, &value);
  if (s.ok()) {
    if (value.size() != 32)
      return corrupt("history checkpoint record has " + std::to_string(value.size())
                     + " bytes, expected 32");
    covered_ = get_be64(value.data());
    next_chunk_ = get_be64(value.data() + 8);
    max_written_[0] = get_time_key(value.data() + 16);
    max_written_[1] = get_time_key(value.data() + 24);
  } else if (!s.IsNotFound()) {
    return make_error(errc::storage_failure,
                      "cannot read the history checkpoint: " + s.ToString(), "rocksdb");
  }
  next_pending_ = covered_ + 1;
  // Replay the pending records after the checkpoint (a crash or a close
  // without checkpoint left them): they are the only copy of those samples.
  std::string lower{key_pending}, upper{static_cast<char>(key_pending + 1)};
  rocksdb::Slice lo{lower}, hi{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf_)};
  std::lock_guard lk{mutex_};
  for (it->Seek(lo); it->Valid(); it->Next()) {
    auto k = it->key();
    if (k.size() != 9)
      continue;
    const auto seq = get_be64(k.data() + 1);
    if (seq <= covered_)
      continue; // folded into the checkpoint; its range delete was not compacted yet
    replay_record({it->value().data(), it->value().size()});
    covered_ = seq;
    next_pending_ = seq + 1;
  }
  if (!it->status().ok())
    return make_error(errc::storage_failure,
                      "cannot replay history: " + it->status().ToString(), "rocksdb");
  return ok();
}

void history::replay_record(std::string_view in) {
  // Malformed bytes stop the replay of this record (it was written by us;
  // a torn record cannot be acknowledged, so nothing acknowledged is lost).
  std::string twin;
  while (!in.empty()) {
    std::uint64_t len = 0, n = 0;
    if (!read_varint(in, len) || len > in.size())
      return;
    twin.assign(in.data(), len);
    in.remove_prefix(len);
    if (!read_varint(in, n))
      return;
    if (n == 0)
      continue;
    auto& ts = twins_[twin];
    std::size_t next = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!read_varint(in, len) || len > in.size())
        return;
      const std::string_view name{in.data(), len};
      in.remove_prefix(len);
      if (in.size() < 9)
        return;
      const auto t = static_cast<std::int64_t>(get_le64(in.data()));
      const char type = in[8];
      in.remove_prefix(9);
      auto& e = open_series(ts, name, next);
      ++since_checkpoint_;
      if (type == 0) {
        if (in.size() < 8)
          return;
        const auto v = std::bit_cast<double>(get_le64(in.data()));
        in.remove_prefix(8);
        ingest_sample(twin, e, t, v, {}, false);
      } else {
        std::uint64_t slen = 0;
        if (!read_varint(in, slen) || slen > in.size())
          return;
        ingest_sample(twin, e, t, 0, in.substr(0, slen), true);
        in.remove_prefix(slen);
      }
    }
  }
}

void history::validate(const twin_write& tw) {
  for (const auto& smp : tw.samples)
    if (smp.series.empty()
        || std::memchr(smp.series.data(), '\0', smp.series.size()) != nullptr)
      throw std::invalid_argument("sample series name is empty or contains NUL");
}

void history::add(const twin_write& tw) {
  if (tw.samples.empty())
    return;
  append_varint(pending_buf_, tw.twin_id.size());
  pending_buf_.append(tw.twin_id);
  append_varint(pending_buf_, tw.samples.size());
  for (const auto& smp : tw.samples) {
    append_varint(pending_buf_, smp.series.size());
    pending_buf_.append(smp.series);
    append_le64(pending_buf_, static_cast<std::uint64_t>(smp.time_ms));
    if (const auto* d = std::get_if<double>(&smp.value)) {
      pending_buf_.push_back('\0');
      append_le64(pending_buf_, std::bit_cast<std::uint64_t>(*d));
    } else {
      const auto& text = std::get<std::string>(smp.value);
      pending_buf_.push_back('\1');
      append_varint(pending_buf_, text.size());
      pending_buf_.append(text);
    }
  }
}

void history::put_pending(rocksdb::WriteBatch& batch) {
  if (pending_buf_.empty())
    return;
  char key[9];
  key[0] = key_pending;
  put_be64(key + 1, next_pending_);
  auto s = batch.Put(cf_, rocksdb::Slice{key, 9}, pending_buf_);
  if (!s.ok())
    throw std::runtime_error(s.ToString());
}

void history::ingest(const std::vector<const twin_write*>& writes) {
  if (pending_buf_.empty())
    return; // no samples in this group commit
  covered_ = next_pending_++;
  pending_buf_.clear();
  std::uint64_t n = 0;
  std::lock_guard lk{mutex_};
  advance_epoch();
  for (const auto* tw : writes) {
    if (tw->samples.empty())
      continue;
    auto& ts = twins_[tw->twin_id]; // no allocation when the twin exists
    // A twin's write touches most of its series, each in its newest minute
    // and hour bucket: ask for those lines now, so that their cache misses
    // overlap instead of coming one per sample.
    for (const auto& e : ts.series) {
      if (!e.state.minutes.empty())
        __builtin_prefetch(&e.state.minutes.back(), 1);
      if (!e.state.hours.empty())
        __builtin_prefetch(&e.state.hours.back(), 1);
    }
    std::size_t next = 0;
    for (const auto& smp : tw->samples) {
      auto& e = open_series(ts, smp.series, next);
      if (const auto* d = std::get_if<double>(&smp.value))
        ingest_sample(tw->twin_id, e, smp.time_ms, *d, {}, false);
      else
        ingest_sample(tw->twin_id, e, smp.time_ms, 0, std::get<std::string>(smp.value),
                      true);
      ++n;
    }
  }
  since_checkpoint_ += n;
  stats_.history_samples.fetch_add(n, std::memory_order_relaxed);
}

void history::advance_epoch() {
  const auto now = std::chrono::steady_clock::now();
  const auto length = options_.history_idle_min;
  const auto elapsed = now - epoch_start_;
  if (elapsed < length)
    return;
  // One epoch on: the current one becomes the previous one. More (or a
  // length of 0): nothing in memory was touched in the last two.
  const bool one = length.count() > 0 && elapsed < 2 * length;
  touched_[1] = one ? touched_[0] : 0;
  touched_[0] = 0;
  epoch_ += one ? 1 : 2;
  epoch_start_ = now;
}

void history::touch(series_state& s) noexcept {
  s.dirty = true;
  if (s.epoch == epoch_)
    return;
  if (s.epoch + 1 == epoch_)
    --touched_[1];
  ++touched_[0];
  s.epoch = epoch_;
}

std::size_t history::find_series(const twin_state& t, std::string_view name,
                                 std::size_t from) noexcept {
  const auto n = t.series.size();
  for (std::size_t i = 0, j = from; i < n; ++i, ++j) {
    if (j == n)
      j = 0;
    if (t.series[j].name == name) // sizes first, then the bytes
      return j;
  }
  return n;
}

history::series_entry& history::open_series(twin_state& t, std::string_view name,
                                            std::size_t& next) {
  const auto i = find_series(t, name, next);
  if (i == t.series.size()) {
    t.series.emplace_back().name = name;
    ++open_series_;
    ++new_series_;
  }
  next = i + 1;
  return t.series[i];
}

const history::series_entry* history::find_entry(const std::string& twin,
                                                 std::string_view series) const {
  auto it = twins_.find(twin);
  if (it == twins_.end())
    return nullptr;
  const auto i = find_series(it->second, series, 0);
  return i == it->second.series.size() ? nullptr : &it->second.series[i];
}

void history::start(builder& b, std::int64_t window, gorilla::chunk_kind kind) {
  b.enc.clear(kind);
  b.window = window;
  b.seq = next_chunk_++;
  b.active = true;
}

void history::seal(series_state& s, builder& b) {
  sealed_chunk c{b.window, b.seq, {}};
  c.bytes.reserve(b.enc.size());
  b.enc.serialize(c.bytes);
  s.sealed.push_back(std::move(c));
  b.active = false;
}

history::builder& history::pick_builder(series_state& s, std::int64_t window,
                                        gorilla::chunk_kind kind) {
  auto& o = s.open;
  if (o.active && o.window == window && o.enc.kind() == kind)
    return o;
  if (!o.active || window >= o.window) {
    // A newer window (or another value kind in the same one): a new chunk.
    if (o.active)
      seal(s, o);
    start(o, window, kind);
    return o;
  }
  // A late sample, older than the open chunk's window: its own chunk, so
  // that the open one stays in order and nothing is lost.
  auto& l = s.late;
  if (l.active && l.window == window && l.enc.kind() == kind)
    return l;
  if (l.active)
    seal(s, l);
  start(l, window, kind);
  return l;
}

history::bucket& history::find_other_bucket(const std::string& twin, series_entry& e,
                                            bool hour, std::int64_t start) {
  auto& v = hour ? e.state.hours : e.state.minutes;
  auto pos = std::lower_bound(v.begin(), v.end(), start,
                              [](const bucket& b, std::int64_t t) { return b.start < t; });
  if (pos != v.end() && pos->start == start)
    return *pos;
  bucket b;
  b.start = start;
  if (start <= max_written_[hour ? 1 : 0]) {
    // The bucket may be stored already (late data, or after a restart):
    // continue from it so that a sample is never counted twice or lost.
    auto k = series_prefix(hour ? key_hour : key_minute, twin, e.name);
    append_time_key(k, start);
    std::string value;
    auto st = db_->Get({}, cf_, k, &value);
    if (st.ok() && value.size() == bucket_value_size) {
      b.min = std::bit_cast<double>(get_le64(value.data()));
      b.max = std::bit_cast<double>(get_le64(value.data() + 8));
      b.sum = std::bit_cast<double>(get_le64(value.data() + 16));
      b.count = get_le64(value.data() + 24);
      b.last = std::bit_cast<double>(get_le64(value.data() + 32));
      b.last_time = static_cast<std::int64_t>(get_le64(value.data() + 40));
    }
  }
  return *v.insert(pos, b);
}

void history::ingest_sample(const std::string& twin, series_entry& e, std::int64_t t,
                            double number, std::string_view text, bool is_text) {
  auto& s = e.state;
  touch(s);
  const auto kind = is_text ? gorilla::chunk_kind::string : gorilla::chunk_kind::numeric;
  auto& b = pick_builder(s, window_of(t, raw_window_ms), kind);
  if (is_text)
    b.enc.append(t, text);
  else
    b.enc.append(t, number);
  if (b.enc.count() >= options_.history_chunk_samples)
    seal(s, b);
  if (is_text || number != number) // strings and NaN: raw tier only
    return;
  for (bool hour : {false, true}) {
    auto& k = find_bucket(twin, e, hour, window_of(t, hour ? hour_ms : minute_ms));
    if (k.count == 0) {
      k.min = k.max = k.sum = k.last = number;
      k.last_time = t;
    } else {
      k.min = std::min(k.min, number);
      k.max = std::max(k.max, number);
      k.sum += number;
      if (t >= k.last_time) {
        k.last = number;
        k.last_time = t;
      }
    }
    ++k.count;
    k.dirty = true;
  }
}

status history::checkpoint(const rocksdb::WriteOptions& wo) {
  rocksdb::WriteBatch batch;
  const auto cutoff = now();
  const auto& r = options_.retention;
  std::string k, v;
  // Collected, then put in key order: the series are visited in hash order,
  // and a memtable insert at a random place of the (large) history memtable
  // costs a full skip-list search, while one next to the previous insert
  // mostly reuses its splice (the checkpoint's inserts were ~6 % of
  // twin-node's CPU under bench/run_e2e_mqtt.sh; ADR 0014).
  std::vector<std::pair<std::string, std::string>> entries;
  // Takes the value: `v` is cleared and refilled for every entry.
  auto put = [&](const std::string& key, std::string&& value) {
    entries.emplace_back(key, std::move(value));
  };
  std::int64_t max_written[2] = {max_written_[0], max_written_[1]};
  try {
    std::lock_guard lk{mutex_};
    for (auto& [twin, ts] : twins_) {
      for (auto& [name, s] : ts.series) {
        if (!s.dirty)
          continue;
        // An open chunk of a fair size is sealed now rather than rewritten
        // at every checkpoint until it is full: with many slow series each
        // checkpoint would otherwise write ~half a chunk per series again.
        for (auto* b : {&s.open, &s.late})
          if (b->active && b->enc.count() > 0
              && b->enc.count() >= options_.history_checkpoint_seal_samples)
            seal(s, *b);
        auto put_chunk = [&](std::int64_t window, std::uint64_t seq, auto&& fill) {
          if (window + raw_window_ms <= sat_sub(cutoff, r.raw_ms))
            return; // expired already: compaction would drop it anyway
          k = series_prefix(key_raw, twin, name);
          append_time_key(k, window);
          append_be64(k, seq);
          v.clear();
          fill(v);
          put(k, std::move(v));
        };
        for (auto& c : s.sealed)
          put_chunk(c.window, c.seq, [&](std::string& out) { out = c.bytes; });
        for (auto* b : {&s.open, &s.late})
          if (b->active && b->enc.count() > 0)
            put_chunk(b->window, b->seq,
                      [&](std::string& out) { b->enc.serialize(out); });
        for (bool hour : {false, true}) {
          for (auto& b : hour ? s.hours : s.minutes) {
            if (!b.dirty)
              continue;
            k = series_prefix(hour ? key_hour : key_minute, twin, name);
            append_time_key(k, b.start);
            v.clear();
            append_le64(v, std::bit_cast<std::uint64_t>(b.min));
            append_le64(v, std::bit_cast<std::uint64_t>(b.max));
            append_le64(v, std::bit_cast<std::uint64_t>(b.sum));
            append_le64(v, b.count);
            append_le64(v, std::bit_cast<std::uint64_t>(b.last));
            append_le64(v, static_cast<std::uint64_t>(b.last_time));
            put(k, std::move(v));
            auto& m = max_written[hour ? 1 : 0];
            m = std::max(m, b.start);
          }
        }
      }
    }
    v.clear();
    append_be64(v, covered_);
    append_be64(v, next_chunk_);
    append_time_key(v, max_written[0]);
    append_time_key(v, max_written[1]);
    put(checkpoint_key, std::move(v));
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, value] : entries)
      if (auto s = batch.Put(cf_, key, value); !s.ok())
        throw std::runtime_error(s.ToString());
    std::string lo{key_pending}, hi{key_pending};
    append_be64(lo, 0);
    append_be64(hi, covered_ + 1);
    auto s = batch.DeleteRange(cf_, lo, hi);
    if (!s.ok())
      throw std::runtime_error(s.ToString());
  } catch (const std::exception& e) {
    return make_error(errc::storage_failure,
                      std::string{"history checkpoint failed: "} + e.what(), "rocksdb");
  }
  // Written without the mutex: queries merge memory over the store by chunk
  // key, so they see every sample whether it is still in memory or not.
  auto ws = db_->Write(wo, &batch);
  if (!ws.ok())
    return make_error(errc::storage_failure,
                      "history checkpoint failed: " + ws.ToString(), "rocksdb");
  max_written_[0] = max_written[0];
  max_written_[1] = max_written[1];
  since_checkpoint_ = 0;
  // Checkpoints land in the memtables like group commits do: count them.
  stats_.bytes_written.fetch_add(batch.GetDataSize(), std::memory_order_relaxed);
  stats_.history_checkpoints.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lk{mutex_};
  new_series_ = 0;
  advance_epoch();
  for (auto it = twins_.begin(); it != twins_.end();) {
    auto& series = it->second.series;
    // Untouched since the last checkpoint, idle for an idle epoch at least,
    // and stored: free it. A later sample starts a new chunk and reloads
    // its bucket. The others keep their order, the one the twin's writes
    // name them in.
    open_series_ -= std::erase_if(series, [this](const series_entry& e) {
      return !e.state.dirty && !recent(e.state);
    });
    if (series.empty()) {
      it = twins_.erase(it);
      continue;
    }
    for (auto& e : series) {
      auto& s = e.state;
      s.dirty = false;
      s.sealed.clear();
      // Keep the newest bucket of each tier (where new samples go); older
      // ones are stored and reloaded if a late sample needs them.
      for (auto* bs : {&s.minutes, &s.hours}) {
        if (bs->size() > 1)
          bs->erase(bs->begin(), bs->end() - 1);
        for (auto& b : *bs)
          b.dirty = false;
      }
    }
    ++it;
  }
  return ok();
}

// -- queries ------------------------------------------------------------------

expected<history_result> history::query(const history_query& q) {
  history_result out;
  out.tier = q.tier;
  if (q.from_ms > q.to_ms || q.limit == 0)
    return out;
  // Clamped so that window arithmetic cannot overflow (±146 million years).
  const auto from_ms = std::max(q.from_ms, INT64_MIN / 2);
  const auto to_ms = std::min(q.to_ms, INT64_MAX / 2);
  const auto cutoff = now();
  const auto& r = options_.retention;

  if (q.tier == history_tier::raw) {
    const auto w_from = window_of(from_ms, raw_window_ms);
    const auto w_to = window_of(to_ms, raw_window_ms);
    const auto oldest = std::max(sat_sub(cutoff, r.raw_ms), INT64_MIN / 2); // windows ending at or before: expired
    // 1. In-memory chunks (copied under the lock), by (window, seq).
    std::map<std::pair<std::int64_t, std::uint64_t>, std::string> mem;
    {
      std::lock_guard lk{mutex_};
      if (const auto* e = find_entry(q.twin, q.series)) {
        auto& s = e->state;
        auto want = [&](std::int64_t w) { return w >= w_from && w <= w_to; };
        for (auto& c : s.sealed)
          if (want(c.window))
            mem[{c.window, c.seq}] = c.bytes;
        for (auto* b : {&s.open, &s.late})
          if (b->active && b->enc.count() > 0 && want(b->window))
            b->enc.serialize(mem[{b->window, b->seq}]);
      }
    }
    std::vector<raw_point> points;
    bool bad = false;
    auto take = [&](std::string_view chunk) {
      bad |= !gorilla::decode(
        chunk,
        [&](std::int64_t t, double v) {
          if (t >= q.from_ms && t <= q.to_ms)
            points.push_back({t, v});
        },
        [&](std::int64_t t, std::string_view v) {
          if (t >= q.from_ms && t <= q.to_ms)
            points.push_back({t, std::string{v}});
        });
    };
    for (auto& [id, bytes] : mem)
      if (id.first + raw_window_ms > oldest)
        take(bytes);
    // 2. Stored chunks, window by window; a chunk still in memory is newer
    //    there. Windows partition time, so once `limit` points lie before
    //    the next window, later windows cannot change the answer.
    auto lower = series_prefix(key_raw, q.twin, q.series);
    auto upper = lower;
    append_time_key(lower, std::max(w_from, window_of(oldest, raw_window_ms)));
    append_time_key(upper, w_to + raw_window_ms);
    rocksdb::Slice lo{lower}, hi{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lo;
    ro.iterate_upper_bound = &hi;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf_)};
    const auto key_size = lower.size() + 8;
    std::int64_t current = INT64_MIN;
    for (it->Seek(lo); it->Valid(); it->Next()) {
      auto k = it->key();
      if (k.size() != key_size)
        continue; // another series whose name extends this one's
      const auto w = get_time_key(k.data() + k.size() - 16);
      if (w != current) {
        current = w;
        if (points.size() >= q.limit
            && static_cast<std::size_t>(std::count_if(
                 points.begin(), points.end(),
                 [w](const raw_point& p) { return p.time_ms < w; }))
                 >= q.limit) {
          out.truncated = true;
          break;
        }
      }
      if (w + raw_window_ms <= oldest)
        continue;
      const auto seq = get_be64(k.data() + k.size() - 8);
      if (mem.count({w, seq}) != 0)
        continue;
      take({it->value().data(), it->value().size()});
    }
    if (!it->status().ok())
      return make_error(errc::storage_failure,
                        "cannot read history: " + it->status().ToString(), "rocksdb");
    if (bad)
      return corrupt("a history chunk of " + q.twin + "/" + q.series
                     + " cannot be decoded");
    std::stable_sort(points.begin(), points.end(),
                     [](const raw_point& a, const raw_point& b) {
                       return a.time_ms < b.time_ms;
                     });
    if (points.size() > q.limit) {
      points.resize(q.limit);
      out.truncated = true;
    }
    out.raw = std::move(points);
    return out;
  }

  // Rollups: stored buckets, overridden by in-memory ones (which started
  // from the stored bucket, so they are a superset).
  const bool hour = q.tier == history_tier::hour;
  const auto len = hour ? hour_ms : minute_ms;
  const auto oldest
    = std::max(sat_sub(cutoff, hour ? r.hour_ms : r.minute_ms), INT64_MIN / 2);
  const auto b_from = std::max(window_of(from_ms, len), window_of(oldest, len));
  const auto b_to = window_of(to_ms, len);
  std::map<std::int64_t, rollup_point> buckets;
  auto visible = [&](std::int64_t start) {
    return start >= b_from && start <= b_to && start + len > oldest;
  };
  {
    auto lower = series_prefix(hour ? key_hour : key_minute, q.twin, q.series);
    auto upper = lower;
    append_time_key(lower, b_from);
    append_time_key(upper, b_to);
    upper.push_back('\0'); // inclusive of b_to
    rocksdb::Slice lo{lower}, hi{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lo;
    ro.iterate_upper_bound = &hi;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf_)};
    const auto key_size = lower.size();
    for (it->Seek(lo); it->Valid() && buckets.size() <= q.limit; it->Next()) {
      auto k = it->key();
      auto v = it->value();
      if (k.size() != key_size)
        continue;
      if (v.size() != bucket_value_size)
        return corrupt("a history bucket of " + q.twin + "/" + q.series
                       + " has a bad size");
      const auto start = get_time_key(k.data() + k.size() - 8);
      if (!visible(start))
        continue;
      rollup_point p{};
      p.start_ms = start;
      p.min = std::bit_cast<double>(get_le64(v.data()));
      p.max = std::bit_cast<double>(get_le64(v.data() + 8));
      const auto sum = std::bit_cast<double>(get_le64(v.data() + 16));
      p.count = get_le64(v.data() + 24);
      p.mean = p.count ? sum / static_cast<double>(p.count) : 0;
      p.last = std::bit_cast<double>(get_le64(v.data() + 32));
      p.last_time_ms = static_cast<std::int64_t>(get_le64(v.data() + 40));
      buckets[start] = p;
    }
    if (!it->status().ok())
      return make_error(errc::storage_failure,
                        "cannot read history: " + it->status().ToString(), "rocksdb");
  }
  {
    std::lock_guard lk{mutex_};
    if (const auto* e = find_entry(q.twin, q.series)) {
      for (auto& b : hour ? e->state.hours : e->state.minutes) {
        if (!visible(b.start) || b.count == 0)
          continue;
        buckets[b.start] = rollup_point{b.start,
                                        b.min,
                                        b.max,
                                        b.sum / static_cast<double>(b.count),
                                        b.count,
                                        b.last,
                                        b.last_time};
      }
    }
  }
  for (auto& [start, p] : buckets) {
    if (out.rollups.size() == q.limit) {
      out.truncated = true;
      break;
    }
    out.rollups.push_back(p);
  }
  return out;
}

expected<std::vector<std::string>> history::series(const std::string& twin) {
  std::set<std::string> names;
  std::string prefix = twin;
  prefix.push_back('\0');
  {
    std::lock_guard lk{mutex_};
    if (auto it = twins_.find(twin); it != twins_.end())
      for (auto& e : it->second.series)
        names.insert(e.name);
  }
  for (char tier : {key_raw, key_minute, key_hour}) {
    std::string lower{tier};
    lower.append(prefix);
    std::string upper{tier};
    upper.append(twin);
    upper.push_back('\x01');
    rocksdb::Slice lo{lower}, hi{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lo;
    ro.iterate_upper_bound = &hi;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf_)};
    it->Seek(lo);
    while (it->Valid()) {
      auto k = it->key();
      std::string_view rest{k.data() + lower.size(), k.size() - lower.size()};
      auto end = rest.find('\0');
      if (end == std::string_view::npos)
        break;
      std::string name{rest.substr(0, end)};
      // Skip the rest of this series: its keys all start name '\0'.
      std::string next = lower + name;
      next.push_back('\x01');
      names.insert(std::move(name));
      it->Seek(next);
    }
    if (!it->status().ok())
      return make_error(errc::storage_failure,
                        "cannot read history: " + it->status().ToString(), "rocksdb");
  }
  return std::vector<std::string>(names.begin(), names.end());
}

} // namespace twin::persistence::detail
