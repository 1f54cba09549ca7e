// group_consumer: one subscriber of one topic; all librdkafka callbacks
// (rebalance, offset commit, error) are served by rd_kafka_consumer_poll on
// our poll thread.
#include "common.hpp"

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace twin::kafka {

using namespace detail;

struct group_consumer::impl {
  std::string topic;
  callbacks cb;
  handle_ptr rk;
  std::thread poller;
  std::atomic<std::thread::id> poller_id{};
  std::atomic<bool> closing{false};
  std::mutex close_mutex; // serializes close()
  bool closed = false;

  mutable std::mutex mutex; // guards pending_commits and assigned
  std::map<std::int32_t, std::int64_t> pending_commits;
  std::set<std::int32_t> assigned;

  void report(const error& e) {
    if (cb.on_error) {
      try {
        cb.on_error(e);
        return;
      } catch (...) {
      }
    }
    log_stderr(e.message.rfind("kafka: ", 0) == 0 ? e.message.substr(7) : e.message);
  }

  list_ptr make_list(const std::vector<std::int32_t>& partitions) const {
    list_ptr l{rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()))};
    for (auto p : partitions)
      rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), p);
    return l;
  }

  // Sends the queued commits; sync inside a revocation and before close.
  void drain_commits(bool async) {
    std::map<std::int32_t, std::int64_t> todo;
    {
      std::lock_guard lock(mutex);
      todo.swap(pending_commits);
    }
    if (todo.empty())
      return;
    list_ptr l{rd_kafka_topic_partition_list_new(static_cast<int>(todo.size()))};
    for (auto [p, off] : todo)
      rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), p)->offset = off;
    rd_kafka_resp_err_t err = rd_kafka_commit(rk.get(), l.get(), async ? 1 : 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      report(make_kafka_error(err, "group consumer: commit on " + topic + " failed"));
    else if (!async)
      check_partition_errors(l.get(), "commit");
  }

  void check_partition_errors(const rd_kafka_topic_partition_list_t* l, const char* what) {
    for (int i = 0; i < l->cnt; ++i)
      if (l->elems[i].err)
        report(make_kafka_error(l->elems[i].err, std::string("group consumer: ") + what +
                                                     " of " + l->elems[i].topic + "[" +
                                                     std::to_string(l->elems[i].partition) +
                                                     "]"));
  }

  static std::vector<std::int32_t> partitions_of(const rd_kafka_topic_partition_list_t* l) {
    std::vector<std::int32_t> v;
    v.reserve(static_cast<std::size_t>(l->cnt));
    for (int i = 0; i < l->cnt; ++i)
      v.push_back(l->elems[i].partition);
    return v;
  }

  template <class F, class... Args>
  void call_user(const char* what, F& f, Args&&... args) {
    if (!f)
      return;
    try {
      f(std::forward<Args>(args)...);
    } catch (const std::exception& e) {
      report(make_error(errc::internal,
                        std::string("kafka: group consumer: ") + what + " threw: " + e.what()));
    } catch (...) {
      report(make_error(errc::internal, std::string("kafka: group consumer: ") + what + " threw"));
    }
  }

  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk.get()), "COOPERATIVE") == 0;
    auto list = partitions_of(parts);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
        if (error_ptr e{rd_kafka_incremental_assign(rk.get(), parts)})
          report(make_error(errc::unavailable, std::string("kafka: group consumer: assign failed: ") +
                                                   rd_kafka_error_string(e.get())));
      } else if (auto e = rd_kafka_assign(rk.get(), parts); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        report(make_kafka_error(e, "group consumer: assign failed"));
      }
      // A partition may come back paused from an earlier assignment: start unpaused.
      (void)rd_kafka_resume_partitions(rk.get(), parts);
      {
        std::lock_guard lock(mutex);
        assigned.insert(list.begin(), list.end());
      }
      call_user("on_assigned", cb.on_assigned, list);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      call_user("on_revoked", cb.on_revoked, list);
      drain_commits(/*async=*/false);
      {
        std::lock_guard lock(mutex);
        for (auto p : list)
          assigned.erase(p);
        // Commits queued for partitions we no longer own would fail anyway.
        for (auto p : list)
          pending_commits.erase(p);
      }
      if (cooperative) {
        if (error_ptr e{rd_kafka_incremental_unassign(rk.get(), parts)})
          report(make_error(errc::unavailable,
                            std::string("kafka: group consumer: unassign failed: ") +
                                rd_kafka_error_string(e.get())));
      } else if (auto e = rd_kafka_assign(rk.get(), nullptr); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        report(make_kafka_error(e, "group consumer: unassign failed"));
      }
    } else {
      report(make_kafka_error(err, "group consumer: rebalance error"));
      rd_kafka_assign(rk.get(), nullptr);
      std::lock_guard lock(mutex);
      assigned.clear();
    }
  }

  void handle(rd_kafka_message_t* m) {
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
      std::string where = m->rkt ? std::string(rd_kafka_topic_name(m->rkt)) + "[" +
                                       std::to_string(m->partition) + "]"
                                 : std::string("group ") ;
      std::string text = rd_kafka_message_errstr(m);
      report(make_error(to_errc(m->err), "kafka: group consumer: " + where + ": " + text + " (" +
                                             rd_kafka_err2name(m->err) + ")"));
      return;
    }
    if (cb.on_record)
      call_user("on_record", cb.on_record, to_record(m));
  }

  void run() {
    poller_id.store(std::this_thread::get_id());
    while (!closing.load(std::memory_order_acquire)) {
      drain_commits(/*async=*/true);
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100)) {
        message_ptr owned{m};
        handle(m);
      }
    }
    drain_commits(/*async=*/false);
    // Leaves the group: the revocation callback runs here, on this thread.
    if (auto err = rd_kafka_consumer_close(rk.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
      report(make_kafka_error(err, "group consumer: close failed"));
  }
};

namespace {
extern "C" void gc_rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* parts, void* opaque) {
  static_cast<group_consumer::impl*>(opaque)->rebalance(err, parts);
}
extern "C" void gc_commit_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* self = static_cast<group_consumer::impl*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
    return; // nothing to commit
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    self->report(make_kafka_error(err, "group consumer: commit on " + self->topic + " failed"));
  else if (offsets)
    self->check_partition_errors(offsets, "commit");
}
extern "C" void gc_error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<group_consumer::impl*>(opaque);
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  std::string text = std::string("kafka: group consumer ") +
                     (code == RD_KAFKA_RESP_ERR__FATAL ? "FATAL " : "") + "error: " + reason +
                     " (" + rd_kafka_err2name(code) + ")";
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    auto orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
    text += std::string(" - ") + buf + " (" + rd_kafka_err2name(orig) + ")";
  }
  self->report(make_error(to_errc(code), std::move(text)));
}
} // namespace

group_consumer::group_consumer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

expected<std::unique_ptr<group_consumer>> group_consumer::create(const std::string& bootstrap,
                                                                 const std::string& group_id,
                                                                 const std::string& topic,
                                                                 const settings& extra,
                                                                 callbacks cb) {
  settings defaults{
      {"bootstrap.servers", bootstrap},
      {"group.id", group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "range"},
  };
  auto conf = make_conf(defaults, extra);
  if (!conf)
    return std::move(conf).error();
  auto p = std::make_unique<impl>();
  p->topic = topic;
  p->cb = std::move(cb);
  rd_kafka_conf_set_opaque(conf->get(), p.get());
  rd_kafka_conf_set_rebalance_cb(conf->get(), gc_rebalance_cb);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), gc_commit_cb);
  rd_kafka_conf_set_error_cb(conf->get(), gc_error_cb);
  auto rk = make_handle(RD_KAFKA_CONSUMER, *conf, "group consumer");
  if (!rk)
    return std::move(rk).error();
  p->rk = std::move(*rk);
  if (auto err = rd_kafka_poll_set_consumer(p->rk.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_kafka_error(err, "group consumer: poll_set_consumer failed");
  list_ptr sub{rd_kafka_topic_partition_list_new(1)};
  rd_kafka_topic_partition_list_add(sub.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(p->rk.get(), sub.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_consumer_close(p->rk.get());
    return make_kafka_error(err, "group consumer: subscribe to " + topic + " failed");
  }
  impl* raw = p.get();
  p->poller = std::thread([raw] { raw->run(); });
  return std::unique_ptr<group_consumer>(new group_consumer(std::move(p)));
}

group_consumer::~group_consumer() {
  if (impl_) {
    close();
    if (impl_->poller.joinable()) // close() was only requested from a callback
      impl_->poller.join();
  }
}

void group_consumer::close() {
  impl_->closing.store(true, std::memory_order_release);
  if (std::this_thread::get_id() == impl_->poller_id.load())
    return; // from a callback: the poll loop closes when it returns
  std::lock_guard lock(impl_->close_mutex);
  if (impl_->closed)
    return;
  if (impl_->poller.joinable())
    impl_->poller.join();
  impl_->closed = true;
}

void group_consumer::commit(std::int32_t partition, std::int64_t next_offset) {
  std::lock_guard lock(impl_->mutex);
  auto& slot = impl_->pending_commits[partition];
  if (next_offset > slot)
    slot = next_offset;
}

void group_consumer::pause(const std::vector<std::int32_t>& partitions) {
  auto l = impl_->make_list(partitions);
  if (auto err = rd_kafka_pause_partitions(impl_->rk.get(), l.get()); err)
    impl_->report(make_kafka_error(err, "group consumer: pause failed"));
  else
    impl_->check_partition_errors(l.get(), "pause");
}

void group_consumer::resume(const std::vector<std::int32_t>& partitions) {
  auto l = impl_->make_list(partitions);
  if (auto err = rd_kafka_resume_partitions(impl_->rk.get(), l.get()); err)
    impl_->report(make_kafka_error(err, "group consumer: resume failed"));
  else
    impl_->check_partition_errors(l.get(), "resume");
}

std::vector<std::int32_t> group_consumer::assignment() const {
  std::lock_guard lock(impl_->mutex);
  return {impl_->assigned.begin(), impl_->assigned.end()};
}

expected<std::vector<group_consumer::lag_info>> group_consumer::lag(
    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto parts = assignment();
  std::vector<lag_info> out;
  if (parts.empty())
    return out;
  auto l = impl_->make_list(parts);
  if (auto err = rd_kafka_committed(impl_->rk.get(), l.get(), static_cast<int>(timeout.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_kafka_error(err, "group consumer: fetching committed offsets of " + impl_->topic +
                                     " failed");
  for (int i = 0; i < l->cnt; ++i) {
    const auto& e = l->elems[i];
    if (e.err)
      return make_kafka_error(e.err, "group consumer: committed offset of " + impl_->topic + "[" +
                                         std::to_string(e.partition) + "]");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 1)
      left = std::chrono::milliseconds(1);
    std::int64_t low = 0, high = 0;
    if (auto err = rd_kafka_query_watermark_offsets(impl_->rk.get(), impl_->topic.c_str(),
                                                    e.partition, &low, &high,
                                                    static_cast<int>(left.count()));
        err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return make_kafka_error(err, "group consumer: watermarks of " + impl_->topic + "[" +
                                       std::to_string(e.partition) + "]");
    out.push_back({e.partition, e.offset < 0 ? -1 : e.offset, high});
  }
  return out;
}

} // namespace twin::kafka
