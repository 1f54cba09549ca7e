// Memory per hot twin: RSS delta of a node holding N twins with 10
// properties each in memory (twin actors hydrated, not passivated).
//
//   bench_memory [--twins N]      (default 100000)
//
// A child process creates the twins and exits; the parent then starts a
// fresh node on the same data dir (so write buffers replayed at open are in
// the baseline), hydrates every twin with a read, and reports the RSS delta
// per twin: overall, and marginal over the second half (fixed costs such as
// the block cache filling are mostly in the first half).

#include <cstring>
#include <future>
#include <sys/wait.h>

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
  long rss0 = bench::rss_bytes();
  long half = twins / 2;
  bench::run_window(half, 1024, [&](long i, actors::reply_fn f) {
    n->get_twin(ctx, "pump-" + std::to_string(i), f);
  });
  long rss_half = bench::rss_bytes();
  bench::run_window(twins - half, 1024, [&](long i, actors::reply_fn f) {
    n->get_twin(ctx, "pump-" + std::to_string(half + i), f);
  });
  long rss_full = bench::rss_bytes();
  auto active = n->health()["twinsActive"].get<std::size_t>();
  std::printf("twins hot in memory: %zu (10 properties each)\n", active);
  std::printf("RSS: baseline %.1f MiB, at %ld twins %.1f MiB, at %ld twins %.1f MiB\n",
              rss0 / 1048576.0, half, rss_half / 1048576.0, twins,
              rss_full / 1048576.0);
  std::printf("bytes per hot twin: overall %.0f B, marginal (second half) %.0f B "
              "(target <= 2048 B)\n",
              double(rss_full - rss0) / double(active),
              double(rss_full - rss_half) / double(twins - half));
  n->stop();
  return 0;
}
