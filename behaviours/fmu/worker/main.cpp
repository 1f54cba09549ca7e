// twin-fmu-worker: runs one FMU instance for a worker_fmu client in the
// parent process, speaking the wire protocol (src/protocol.hpp) on fd 3.
// It exits when the socket closes, and is killed with its parent
// (PR_SET_PDEATHSIG), so a crash or hang here never takes the host down.

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <sys/prctl.h>
#include <type_traits>
#include <vector>

#include "../src/protocol.hpp"
#include "twin/fmu/instance.hpp"

using namespace twin;
using namespace twin::fmu;
namespace wire = twin::fmu::wire;

namespace {

struct worker {
  std::shared_ptr<fmu_file> file;
  std::unique_ptr<fmu_instance> inst;

  instance_state state() const {
    return inst ? inst->state() : instance_state::freed;
  }
};

template <class T>
bool get_array(wire::reader& rd, std::vector<T>& xs) {
  std::uint32_t n = 0;
  if (!rd.get(n) || n > wire::max_frame / sizeof(T))
    return false;
  xs.resize(n);
  for (auto& x : xs)
    if (!rd.get(x))
      return false;
  return true;
}

/// A typed value array off the wire (a plain array: std::vector<bool> has
/// no span). The count is bounded by what a frame could hold.
template <class T>
bool get_value_array(wire::reader& rd, std::unique_ptr<T[]>& xs, std::size_t& n) {
  constexpr std::size_t least_bytes = std::is_same_v<T, std::string> ? 1 : sizeof(T);
  std::uint32_t count = 0;
  if (!rd.get(count) || count > wire::max_frame / least_bytes)
    return false;
  n = count;
  xs.reset(new T[n]());
  return wire::get_values(rd, std::span<T>{xs.get(), n});
}

status malformed() { return make_error(errc::bad_request, "malformed request to the FMU worker"); }

status not_open() {
  return make_error(errc::illegal_transition, "the FMU worker has no instance");
}

// set_*: value references and values in, nothing out.
template <class T, class Set>
status set_values(wire::reader& rd, std::vector<value_reference>& vrs, Set set) {
  std::unique_ptr<T[]> xs;
  std::size_t n = 0;
  if (!get_array(rd, vrs) || !get_value_array(rd, xs, n))
    return malformed();
  return set(std::span<const value_reference>{vrs}, std::span<const T>{xs.get(), n});
}

// get_*: value references in, their values out.
template <class T, class Get>
status get_values(wire::reader& rd, std::vector<value_reference>& vrs, wire::writer& out,
                  Get get) {
  if (!get_array(rd, vrs))
    return malformed();
  std::unique_ptr<T[]> xs{new T[vrs.size()]()};
  const std::span<T> values{xs.get(), vrs.size()};
  auto s = get(std::span<const value_reference>{vrs}, values);
  if (s)
    for (const auto& x : values)
      wire::put_value(out, x);
  return s;
}

// Executes one request; appends results to `out` on success.
status handle(worker& w, std::string_view payload, wire::writer& out) {
  wire::reader rd{payload};
  wire::op op{};
  if (!rd.get(op))
    return malformed();
  if (op == wire::op::open) {
    std::string path, parent, name;
    std::uint8_t logging = 0;
    open_options oo;
    if (!rd.get_string(path) || !rd.get_string(parent) || !rd.get_string(name)
        || !rd.get(logging) || !rd.get(oo.limits.max_entries)
        || !rd.get(oo.limits.max_entry_bytes) || !rd.get(oo.limits.max_total_bytes))
      return malformed();
    oo.unpack_parent = parent;
    auto f = fmu_file::open(path, oo);
    if (!f)
      return std::move(f).error();
    w.file = *f;
    instance_options o;
    o.instance_name = name;
    o.logging_on = logging != 0;
    auto i = fmu_instance::create(w.file, o);
    if (!i)
      return std::move(i).error();
    w.inst = std::move(*i);
    return ok();
  }
  if (!w.inst)
    return not_open();
  auto& in = *w.inst;
  std::vector<value_reference> vrs;
  switch (op) {
    case wire::op::setup: {
      double start = 0, stop = 0, tol = 0;
      std::uint8_t has_stop = 0, has_tol = 0;
      if (!rd.get(start) || !rd.get(has_stop) || !rd.get(stop) || !rd.get(has_tol)
          || !rd.get(tol))
        return malformed();
      experiment e;
      e.start_time = start;
      if (has_stop)
        e.stop_time = stop;
      if (has_tol)
        e.tolerance = tol;
      return in.setup(e);
    }
    case wire::op::enter_init: return in.enter_initialization();
    case wire::op::exit_init: return in.exit_initialization();
    case wire::op::set_float64:
      return set_values<double>(rd, vrs, [&](auto v, auto x) { return in.set_float64(v, x); });
    case wire::op::get_float64:
      return get_values<double>(rd, vrs, out,
                                [&](auto v, auto x) { return in.get_float64(v, x); });
    case wire::op::set_int32:
      return set_values<std::int32_t>(rd, vrs,
                                      [&](auto v, auto x) { return in.set_int32(v, x); });
    case wire::op::get_int32:
      return get_values<std::int32_t>(rd, vrs, out,
                                      [&](auto v, auto x) { return in.get_int32(v, x); });
    case wire::op::set_boolean:
      return set_values<bool>(rd, vrs, [&](auto v, auto x) { return in.set_boolean(v, x); });
    case wire::op::get_boolean:
      return get_values<bool>(rd, vrs, out, [&](auto v, auto x) { return in.get_boolean(v, x); });
    case wire::op::set_string:
      return set_values<std::string>(rd, vrs,
                                     [&](auto v, auto x) { return in.set_string(v, x); });
    case wire::op::get_string:
      return get_values<std::string>(rd, vrs, out,
                                     [&](auto v, auto x) { return in.get_string(v, x); });
    case wire::op::do_step: {
      double t = 0, h = 0;
      if (!rd.get(t) || !rd.get(h))
        return malformed();
      auto s = in.do_step(t, h);
      if (s)
        out.put(in.time());
      return s;
    }
    case wire::op::step_float64: {
      std::vector<double> xs;
      std::vector<value_reference> out_vrs;
      double t = 0, h = 0;
      if (!get_array(rd, vrs) || !get_array(rd, xs) || !rd.get(t) || !rd.get(h)
          || !get_array(rd, out_vrs))
        return malformed();
      std::vector<double> ys(out_vrs.size());
      auto s = in.step_float64(vrs, xs, t, h, out_vrs, ys);
      if (s) {
        out.put(in.time());
        for (double y : ys)
          out.put(y);
      }
      return s;
    }
    case wire::op::terminate: return in.terminate();
    case wire::op::free_instance:
      w.inst.reset();
      return ok();
    case wire::op::open: break;
  }
  return malformed();
}

} // namespace

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::signal(SIGPIPE, SIG_IGN);
  const int fd = 3;
  worker w;
  std::string payload;
  for (;;) {
    auto r = wire::recv_frame(fd, payload, std::chrono::milliseconds{-1});
    if (r != wire::io_result::ok)
      return r == wire::io_result::closed ? 0 : 1;
    wire::writer results;
    auto s = handle(w, payload, results);
    wire::writer reply;
    reply.put(static_cast<std::uint8_t>(s ? 1 : 0));
    reply.put(static_cast<std::uint8_t>(w.state()));
    if (s) {
      reply.bytes() += results.bytes();
    } else {
      reply.put(static_cast<std::uint32_t>(s.error().code));
      reply.put_string(s.error().message);
    }
    if (wire::send_frame(fd, reply.bytes()) != wire::io_result::ok)
      return 1;
  }
}
