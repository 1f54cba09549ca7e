#pragma once
// The twin-fmu-worker wire protocol (private to twin_fmu and the worker).
//
// Over a SOCK_STREAM socketpair, strictly request/response, one outstanding
// request. A frame is a u32 payload length (host byte order: both ends are
// on one machine) followed by the payload.
//   request:  u8 op, then the op's arguments
//   response: u8 ok (1) | error (0), u8 instance_state, then
//             ok: the op's results;  error: u32 errc, string message
// Scalars are raw host-order bytes; a string is a u32 length and its bytes;
// an array is a u32 count and its elements.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace twin::fmu::wire {

enum class op : std::uint8_t {
  open = 1,      // string path, string unpack_parent, string instance_name, u8 logging_on,
                 // u64 max_entries, u64 max_entry_bytes, u64 max_total_bytes
  setup,         // f64 start, u8 has_stop, f64 stop, u8 has_tol, f64 tol
  enter_init,
  exit_init,
  set_float64,   // vrs, f64[]
  get_float64,   // vrs -> f64[]
  set_int32,
  get_int32,
  set_boolean,   // vrs, u8[]
  get_boolean,
  set_string,    // vrs, string[]
  get_string,
  do_step,       // f64 t, f64 h -> f64 time
  terminate,
  free_instance,
  step_float64,  // in vrs, f64[], f64 t, f64 h, out vrs -> f64 time, f64[]
};

/// Largest frame accepted (guards against a corrupt length).
constexpr std::uint32_t max_frame = 64u << 20;

class writer {
public:
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    buf_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put_string(std::string_view s) {
    put(static_cast<std::uint32_t>(s.size()));
    buf_.append(s.data(), s.size());
  }
  std::string& bytes() noexcept { return buf_; }

private:
  std::string buf_;
};

class reader {
public:
  explicit reader(std::string_view b) : buf_(b) {}
  template <class T>
  bool get(T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (buf_.size() < sizeof v)
      return false;
    std::memcpy(&v, buf_.data(), sizeof v);
    buf_.remove_prefix(sizeof v);
    return true;
  }
  bool get_string(std::string& s) {
    std::uint32_t n = 0;
    if (!get(n) || buf_.size() < n)
      return false;
    s.assign(buf_.data(), n);
    buf_.remove_prefix(n);
    return true;
  }
  bool done() const noexcept { return buf_.empty(); }

private:
  std::string_view buf_;
};

// The elements of the typed value arrays (set_* / get_*), both ends: scalars
// raw, booleans as u8, strings with their length.
template <class T>
void put_value(writer& w, const T& x) {
  w.put(x);
}
inline void put_value(writer& w, bool b) { w.put(static_cast<std::uint8_t>(b)); }
inline void put_value(writer& w, const std::string& s) { w.put_string(s); }

template <class T>
bool get_value(reader& r, T& v) {
  return r.get(v);
}
inline bool get_value(reader& r, bool& v) {
  std::uint8_t b = 0;
  if (!r.get(b))
    return false;
  v = b != 0;
  return true;
}
inline bool get_value(reader& r, std::string& v) { return r.get_string(v); }

/// An array: a u32 count, then put_value of each element.
template <class T>
void put_array(writer& w, std::span<const T> xs) {
  w.put(static_cast<std::uint32_t>(xs.size()));
  for (const auto& x : xs)
    put_value(w, x);
}

/// Reads xs.size() elements (an answer's values, whose count is known).
template <class T>
bool get_values(reader& r, std::span<T> xs) {
  for (auto& x : xs)
    if (!get_value(r, x))
      return false;
  return true;
}

enum class io_result { ok, closed, timeout, failed };

/// Writes one frame (MSG_NOSIGNAL: a dead peer is an error, not SIGPIPE).
io_result send_frame(int fd, std::string_view payload);

/// Reads one frame; `timeout` < 0 waits forever.
io_result recv_frame(int fd, std::string& payload, std::chrono::milliseconds timeout);

} // namespace twin::fmu::wire
