// Memory per hot twin: RSS delta of a node holding N twins with 10
// properties each in memory (twin actors hydrated, not passivated).
//
//   bench_memory [--twins N] [--settle purge|none]
//                                  (defaults 100000, purge)
//
// A child process creates the twins and exits; the parent then starts a
// fresh node on the same data dir (so write buffers replayed at open are in
// the baseline), reads every twin's snapshot and journal through the store
// (so the bounded block cache is warm in the baseline, as on a node that
// has been running), hydrates every twin with a read, and reports the RSS
// delta per twin: overall, and marginal over the second half (fixed costs
// such as the allocator's first arenas are mostly in the first half).
// Linked with the allocator twin-node ships with (jemalloc, if found).
// Each RSS sample (the baseline too) is taken once the allocator has
// returned its free pages: --settle purge asks jemalloc to (default;
// jemalloc does it by itself only after its decay time, and only when it
// is called, so an idle process keeps them), none samples at once. The
// bytes jemalloc counts as allocated are printed too: they do not depend
// on page reuse at all.
// TWIN_MALLOC_STATS=1 prints jemalloc's size-class table at the end, and
// TWIN_MALLOC_PROF=1 dumps a heap profile (run with MALLOC_CONF=prof:true;
// read it with jeprof).

#include <cstring>
#include <future>
#include <sys/wait.h>
#include <dlfcn.h>

#include "bench_common.hpp"
#include "twin/actors/node.hpp"

using namespace twin;
using json = nlohmann::json;

namespace {

const char* model_doc = R"({
  "@context": "dtmi:dtdl:context;3", "@id": "dtmi:bench:Pump;1",
  "@type": "Interface",
  "contents": [
    {"@type": "Property", "name": "p0", "schema": "double", "writable": true},
    {"@type": "Property", "name": "p1", "schema": "double", "writable": true},
    {"@type": "Property", "name": "p2", "schema": "double", "writable": true},
    {"@type": "Property", "name": "p3", "schema": "double", "writable": true},
    {"@type": "Property", "name": "p4", "schema": "double", "writable": true},
    {"@type": "Property", "name": "p5", "schema": "long", "writable": true},
    {"@type": "Property", "name": "p6", "schema": "long", "writable": true},
    {"@type": "Property", "name": "p7", "schema": "boolean", "writable": true},
    {"@type": "Property", "name": "p8", "schema": "string", "writable": true},
    {"@type": "Property", "name": "p9", "schema": "string", "writable": true}
  ]})";

/// RSS once the allocator has returned the pages it holds free: jemalloc
/// does so by itself after its decay time (10 s by default); the purge
/// makes every sample (the baseline too) deterministic. Without jemalloc,
/// plain RSS.
std::string settle = "purge"; // --settle purge|none

long settled_rss() {
  if (settle == "none")
    return bench::rss_bytes();
  using mallctl_fn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
  if (auto f = reinterpret_cast<mallctl_fn>(dlsym(RTLD_DEFAULT, "mallctl")))
    f("arena.4096.purge", nullptr, nullptr, nullptr, 0); // MALLCTL_ARENAS_ALL
  return bench::rss_bytes();
}

/// jemalloc's count of bytes allocated by the application (-1 without it).
long allocated_bytes() {
  using mallctl_fn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
  auto f = reinterpret_cast<mallctl_fn>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (!f)
    return -1;
  std::uint64_t epoch = 1;
  std::size_t len = sizeof(epoch);
  f("epoch", &epoch, &len, &epoch, len);
  std::size_t allocated = 0;
  len = sizeof(allocated);
  if (f("stats.allocated", &allocated, &len, nullptr, 0) != 0)
    return -1;
  return static_cast<long>(allocated);
}

const actors::request_context ctx{
  security::principal{"bench", {security::role::admin}}, "bench"};

std::unique_ptr<actors::node> start(const std::string& dir, long twins) {
  actors::node_options o;
  o.data_dir = dir;
  o.max_active_twins = static_cast<std::size_t>(twins) * 2;
  o.idle_timeout = std::chrono::hours{1};
  o.sync = false; // populating speed only; durability is not measured here
  // The read cache is bounded by entries (not twins) and is measured apart:
  // keep it out of the per-twin figure.
  o.read_cache_entries = 0;
  auto n = actors::node::start(o);
  if (!n) {
    std::fprintf(stderr, "start: %s\n", n.error().describe().c_str());
    std::exit(1);
  }
  return std::move(*n);
}

} // namespace

int main(int argc, char** argv) {
  long twins = 100000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--twins") == 0)
      twins = std::atol(argv[i + 1]);
    else if (std::strcmp(argv[i], "--settle") == 0)
      settle = argv[i + 1];
  bench::print_machine();
  bench::temp_dir dir{"bench-memory"};
  pid_t child = fork();
  if (child == 0) {
    auto n = start(dir.path.string(), twins);
    std::promise<void> p;
    n->add_models(ctx, json::parse(model_doc), [&](expected<json> r) {
      if (!r) {
        std::fprintf(stderr, "model: %s\n", r.error().describe().c_str());
        std::exit(1);
      }
      p.set_value();
    });
    p.get_future().get();
    bench::run_window(twins, 2048, [&](long i, actors::reply_fn f) {
      json props{{"p0", 1.5 * i}, {"p1", 2.5},   {"p2", 3.5},  {"p3", 4.5},
                 {"p4", 5.5},     {"p5", i},     {"p6", 42},   {"p7", true},
                 {"p8", "pump"},  {"p9", "hall-" + std::to_string(i % 10)}};
      n->create_twin(ctx, "pump-" + std::to_string(i),
                     json{{"$model", "dtmi:bench:Pump;1"}, {"properties", props}},
                     f);
    });
    n->stop();
    std::_Exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "populating child failed\n");
    return 1;
  }
  auto n = start(dir.path.string(), twins);
  // Warm the store's block cache (bounded, 64 MiB, shared by all twins)
  // with the reads hydration does, through the store and without actors,
  // so that the baseline holds it as a node that has run for a while
  // does, and the delta is what the hot twins themselves cost.
  for (long i = 0; i < twins; ++i) {
    auto id = "pump-" + std::to_string(i);
    auto snap = n->store().load_snapshot(id);
    auto tail = n->store().read_journal(id, 1);
    if (!snap || !tail) {
      std::fprintf(stderr, "warm-up read of %s failed\n", id.c_str());
      return 1;
    }
  }
  long rss0 = settled_rss();
  long alloc0 = allocated_bytes();
  long half = twins / 2;
  bench::run_window(half, 1024, [&](long i, actors::reply_fn f) {
    n->get_twin(ctx, "pump-" + std::to_string(i), f);
  });
  long rss_half = settled_rss();
  long alloc_half = allocated_bytes();
  bench::run_window(twins - half, 1024, [&](long i, actors::reply_fn f) {
    n->get_twin(ctx, "pump-" + std::to_string(half + i), f);
  });
  long rss_full = settled_rss();
  long alloc_full = allocated_bytes();
  auto active = n->health()["twinsActive"].get<std::size_t>();
  std::printf("twins hot in memory: %zu (10 properties each)\n", active);
  std::printf("RSS: baseline %.1f MiB, at %ld twins %.1f MiB, at %ld twins %.1f MiB\n",
              rss0 / 1048576.0, half, rss_half / 1048576.0, twins,
              rss_full / 1048576.0);
  std::printf("bytes per hot twin: overall %.0f B, marginal (second half) %.0f B "
              "(target <= 2048 B)\n",
              double(rss_full - rss0) / double(active),
              double(rss_full - rss_half) / double(twins - half));
  if (alloc0 >= 0)
    std::printf("bytes allocated (jemalloc stats.allocated) per hot twin: overall %.0f B, "
                "marginal %.0f B\n",
                double(alloc_full - alloc0) / double(active),
                double(alloc_full - alloc_half) / double(twins - half));
  if (std::getenv("TWIN_MALLOC_STATS"))
    if (auto f = reinterpret_cast<void (*)(void*, void*, const char*)>(
          dlsym(RTLD_DEFAULT, "malloc_stats_print")))
      f(nullptr, nullptr, "axdl");
  if (std::getenv("TWIN_MALLOC_PROF"))
    if (auto f = reinterpret_cast<int (*)(const char*, void*, std::size_t*, void*, std::size_t)>(
          dlsym(RTLD_DEFAULT, "mallctl")))
      f("prof.dump", nullptr, nullptr, nullptr, 0);
  n->stop();
  return 0;
}
