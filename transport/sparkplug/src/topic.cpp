#include "twin/sparkplug/topic.hpp"

#include <array>

namespace twin::sparkplug {
namespace {

constexpr std::array<std::pair<message_type, std::string_view>, 9> type_names{{
    {message_type::nbirth, "NBIRTH"},
    {message_type::ndeath, "NDEATH"},
    {message_type::ndata, "NDATA"},
    {message_type::ncmd, "NCMD"},
    {message_type::dbirth, "DBIRTH"},
    {message_type::ddeath, "DDEATH"},
    {message_type::ddata, "DDATA"},
    {message_type::dcmd, "DCMD"},
    {message_type::state, "STATE"},
}};

twin::error bad_topic(std::string_view topic, std::string why) {
  return make_error(errc::bad_request,
                    "not a Sparkplug B topic: '" + std::string{topic} + "': " + why,
                    "sparkplug.topic");
}

/// The first levels of a topic (as many as a valid one has) and how many
/// levels there are in all: parsing must not allocate, it runs per message.
struct levels {
  std::array<std::string_view, 5> part;
  std::size_t count = 0;
};

levels split(std::string_view s) {
  levels l;
  std::size_t start = 0;
  while (true) {
    const auto slash = s.find('/', start);
    const auto end = slash == std::string_view::npos ? s.size() : slash;
    if (l.count < l.part.size())
      l.part[l.count] = s.substr(start, end - start);
    ++l.count;
    if (slash == std::string_view::npos)
      return l;
    start = slash + 1;
  }
}

// Returns an empty string when `id` is a valid Sparkplug id, else why not.
std::string check_id(std::string_view what, std::string_view id) {
  if (id.empty())
    return std::string{what} + " is empty";
  // Two memchr scans: find_first_of calls one per character of `id`, and
  // every message's topic is checked.
  if (id.find('+') != std::string_view::npos || id.find('#') != std::string_view::npos)
    return std::string{what} + " contains an MQTT wildcard";
  return {};
}

} // namespace

std::string_view to_string(message_type t) noexcept {
  for (const auto& [type, name] : type_names)
    if (type == t)
      return name;
  return "?";
}

std::optional<message_type> parse_message_type(std::string_view s) noexcept {
  for (const auto& [type, name] : type_names)
    if (name == s)
      return type;
  return std::nullopt;
}

bool is_device_message(message_type t) noexcept {
  return t == message_type::dbirth || t == message_type::ddeath || t == message_type::ddata ||
         t == message_type::dcmd;
}

twin::expected<topic_view> parse_topic_view(std::string_view mqtt_topic) {
  const auto l = split(mqtt_topic);
  const auto& parts = l.part;
  if (parts[0] != namespace_b)
    return bad_topic(mqtt_topic, "namespace is not " + std::string{namespace_b});
  if (l.count < 3)
    return bad_topic(mqtt_topic, "too few levels");

  topic_view t;
  if (parts[1] == "STATE") {  // spBv1.0/STATE/<host_id>
    if (l.count != 3)
      return bad_topic(mqtt_topic, "STATE takes exactly one host id");
    if (auto why = check_id("host id", parts[2]); !why.empty())
      return bad_topic(mqtt_topic, why);
    t.type = message_type::state;
    t.host_id = parts[2];
    return t;
  }

  const auto type = parse_message_type(parts[2]);
  if (!type || *type == message_type::state)
    return bad_topic(mqtt_topic, "unknown message type '" + std::string{parts[2]} + "'");
  const std::size_t want = is_device_message(*type) ? 5 : 4;
  if (l.count != want)
    return bad_topic(mqtt_topic, std::string{to_string(*type)} + " takes " +
                                     std::to_string(want) + " levels, got " +
                                     std::to_string(l.count));
  if (auto why = check_id("group id", parts[1]); !why.empty())
    return bad_topic(mqtt_topic, why);
  if (auto why = check_id("edge node id", parts[3]); !why.empty())
    return bad_topic(mqtt_topic, why);
  if (want == 5)
    if (auto why = check_id("device id", parts[4]); !why.empty())
      return bad_topic(mqtt_topic, why);

  t.type = *type;
  t.group = parts[1];
  t.edge_node = parts[3];
  if (want == 5)
    t.device = parts[4];
  return t;
}

twin::expected<topic> parse_topic(std::string_view mqtt_topic) {
  auto v = parse_topic_view(mqtt_topic);
  if (!v)
    return std::move(v).error();
  topic t;
  t.type = v->type;
  t.group = v->group;
  t.edge_node = v->edge_node;
  t.device = v->device;
  t.host_id = v->host_id;
  return t;
}

std::string to_mqtt_topic(const topic& t) {
  std::string out{namespace_b};
  if (t.type == message_type::state)
    return out + "/STATE/" + t.host_id;
  out += '/' + t.group + '/' + std::string{to_string(t.type)} + '/' + t.edge_node;
  if (is_device_message(t.type))
    out += '/' + t.device;
  return out;
}

} // namespace twin::sparkplug
