#include "twin/sparkplug/payload.hpp"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <limits>

#include "sparkplug_b.pb.h"

namespace twin::sparkplug {
namespace {

namespace pb = org::eclipse::tahu::protobuf;

constexpr std::uint32_t max_known_type = 34;

constexpr std::string_view type_names[] = {
    "Unknown",     "Int8",        "Int16",           "Int32",       "Int64",
    "UInt8",       "UInt16",      "UInt32",          "UInt64",      "Float",
    "Double",      "Boolean",     "String",          "DateTime",    "Text",
    "UUID",        "DataSet",     "Bytes",           "File",        "Template",
    "PropertySet", "PropertySetList", "Int8Array",   "Int16Array",  "Int32Array",
    "Int64Array",  "UInt8Array",  "UInt16Array",     "UInt32Array", "UInt64Array",
    "FloatArray",  "DoubleArray", "BooleanArray",    "StringArray", "DateTimeArray",
};
static_assert(std::size(type_names) == max_known_type + 1);

twin::error bad(std::string message) {
  return make_error(errc::bad_request, std::move(message), "sparkplug.payload");
}

std::string metric_label(const pb::Payload_Metric& m, int index) {
  std::string s = "metric #" + std::to_string(index);
  if (m.has_name())
    s += " '" + m.name() + "'";
  else if (m.has_alias())
    s += " (alias " + std::to_string(m.alias()) + ")";
  return s;
}

std::string metric_label(const metric& m, std::size_t index) {
  std::string s = "metric #" + std::to_string(index);
  if (m.name)
    s += " '" + *m.name + "'";
  else if (m.alias)
    s += " (alias " + std::to_string(*m.alias) + ")";
  return s;
}

// Signed types: width in bits; 0 if not a signed integer type.
int signed_bits(data_type t) {
  switch (t) {
  case data_type::int8: return 8;
  case data_type::int16: return 16;
  case data_type::int32: return 32;
  case data_type::int64: return 64;
  default: return 0;
  }
}

int unsigned_bits(data_type t) {
  switch (t) {
  case data_type::uint8: return 8;
  case data_type::uint16: return 16;
  case data_type::uint32: return 32;
  case data_type::uint64:
  case data_type::date_time: return 64;
  default: return 0;
  }
}

std::int64_t sign_extend(std::uint64_t raw, int bits) {
  switch (bits) {
  case 8: return static_cast<std::int8_t>(static_cast<std::uint8_t>(raw));
  case 16: return static_cast<std::int16_t>(static_cast<std::uint16_t>(raw));
  case 32: return static_cast<std::int32_t>(static_cast<std::uint32_t>(raw));
  default: return static_cast<std::int64_t>(raw);
  }
}

twin::error mismatch(const metric_value& v, data_type t) {
  return bad("a " + std::string{kind_name(v)} + " value does not fit datatype " + to_string(t));
}

twin::error out_of_range(std::string value, data_type t) {
  return bad("value " + value + " is out of range for datatype " + to_string(t));
}

twin::status check_datatype(data_type t) {
  if (static_cast<std::uint32_t>(t) > max_known_type)
    return bad("unknown datatype " + std::to_string(static_cast<std::uint32_t>(t)));
  if (t != data_type::unknown && !is_supported(t))
    return bad("datatype " + to_string(t) + " is not supported");
  return twin::ok();
}

} // namespace

std::string to_string(data_type t) {
  const auto n = static_cast<std::uint32_t>(t);
  if (n <= max_known_type)
    return std::string{type_names[n]};
  return "DataType(" + std::to_string(n) + ")";
}

bool is_supported(data_type t) noexcept {
  const auto n = static_cast<std::uint32_t>(t);
  return (n >= 1 && n <= 15) || t == data_type::bytes || t == data_type::file;
}

std::string_view kind_name(const metric_value& v) noexcept {
  constexpr std::string_view names[] = {"null",  "int64", "uint64", "double",
                                        "float", "bool",  "string", "bytes"};
  static_assert(std::size(names) == std::variant_size_v<metric_value>);
  return v.valueless_by_exception() ? "valueless" : names[v.index()];
}

twin::expected<metric_value> coerce(const metric_value& value, data_type type) {
  if (auto st = check_datatype(type); !st)
    return st.error();
  if (type == data_type::unknown || std::holds_alternative<null_value>(value))
    return value;

  if (const int bits = signed_bits(type)) {
    if (const auto* u = std::get_if<std::uint64_t>(&value))
      return metric_value{sign_extend(*u, bits)};  // two's complement on the wire
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
      if (bits < 64) {
        const std::int64_t lo = -(std::int64_t{1} << (bits - 1));
        const std::int64_t hi = (std::int64_t{1} << (bits - 1)) - 1;
        if (*i < lo || *i > hi)
          return out_of_range(std::to_string(*i), type);
      }
      return value;
    }
    return mismatch(value, type);
  }
  if (const int bits = unsigned_bits(type)) {
    std::uint64_t u = 0;
    if (const auto* pu = std::get_if<std::uint64_t>(&value)) {
      u = *pu;
    } else if (const auto* pi = std::get_if<std::int64_t>(&value)) {
      if (*pi < 0)
        return out_of_range(std::to_string(*pi), type);
      u = static_cast<std::uint64_t>(*pi);
    } else {
      return mismatch(value, type);
    }
    if (bits < 64 && u > ((std::uint64_t{1} << bits) - 1))
      return out_of_range(std::to_string(u), type);
    return metric_value{u};
  }
  switch (type) {
  case data_type::float_:
    if (std::holds_alternative<float>(value))
      return value;
    break;
  case data_type::double_:
    if (std::holds_alternative<double>(value))
      return value;
    break;
  case data_type::boolean:
    if (std::holds_alternative<bool>(value))
      return value;
    break;
  case data_type::string:
  case data_type::text:
  case data_type::uuid:
    if (std::holds_alternative<std::string>(value))
      return value;
    break;
  case data_type::bytes:
  case data_type::file:
    if (std::holds_alternative<bytes>(value))
      return value;
    break;
  default:
    break;
  }
  return mismatch(value, type);
}

twin::expected<payload> decode_payload(std::string_view data, const decode_options& options) {
  return decode_payload(
      std::span<const std::uint8_t>{reinterpret_cast<const std::uint8_t*>(data.data()), data.size()},
      options);
}

twin::expected<payload> decode_payload(std::span<const std::uint8_t> data,
                                       const decode_options& options) {
  const std::size_t limit = std::min<std::size_t>(options.max_bytes, INT_MAX);
  if (data.size() > limit)
    return bad("payload of " + std::to_string(data.size()) + " bytes exceeds the limit of " +
               std::to_string(limit) + " bytes");

  // The parsed message lives in an arena that starts on the stack: a DATA
  // message then costs no allocation and no destructor per metric.
  alignas(std::max_align_t) char first_block[4096];
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = first_block;
  arena_options.initial_block_size = sizeof first_block;
  google::protobuf::Arena arena{arena_options};
  pb::Payload& in = *google::protobuf::Arena::CreateMessage<pb::Payload>(&arena);
  if (!in.ParseFromArray(data.data(), static_cast<int>(data.size())))
    return bad("payload of " + std::to_string(data.size()) +
               " bytes is not a valid Sparkplug B protobuf (malformed or truncated)");
  if (static_cast<std::size_t>(in.metrics_size()) > options.max_metrics)
    return bad("payload has " + std::to_string(in.metrics_size()) +
               " metrics, more than the limit of " + std::to_string(options.max_metrics));

  payload out;
  if (in.has_timestamp())
    out.timestamp = in.timestamp();
  if (in.has_seq())
    out.seq = in.seq();
  if (in.has_uuid())
    out.uuid = in.uuid();
  if (in.has_body())
    out.body = bytes(in.body().begin(), in.body().end());
  out.metrics.reserve(static_cast<std::size_t>(in.metrics_size()));

  for (int i = 0; i < in.metrics_size(); ++i) {
    const auto& pm = in.metrics(i);
    metric m;
    if (pm.has_name())
      m.name = pm.name();
    if (pm.has_alias())
      m.alias = pm.alias();
    if (pm.has_timestamp())
      m.timestamp = pm.timestamp();
    m.datatype = static_cast<data_type>(pm.datatype());
    if (auto st = check_datatype(m.datatype); !st)
      return bad(metric_label(pm, i) + ": " + st.error().message);
    m.is_historical = pm.is_historical();
    m.is_transient = pm.is_transient();

    metric_value raw;
    if (pm.is_null()) {
      raw = null_value{};
    } else {
      switch (pm.value_case()) {
      case pb::Payload_Metric::kIntValue: raw = std::uint64_t{pm.int_value()}; break;
      case pb::Payload_Metric::kLongValue: raw = std::uint64_t{pm.long_value()}; break;
      case pb::Payload_Metric::kFloatValue: raw = pm.float_value(); break;
      case pb::Payload_Metric::kDoubleValue: raw = pm.double_value(); break;
      case pb::Payload_Metric::kBooleanValue: raw = pm.boolean_value(); break;
      case pb::Payload_Metric::kStringValue: raw = pm.string_value(); break;
      case pb::Payload_Metric::kBytesValue:
        raw = bytes(pm.bytes_value().begin(), pm.bytes_value().end());
        break;
      case pb::Payload_Metric::kDatasetValue:
      case pb::Payload_Metric::kTemplateValue:
      case pb::Payload_Metric::kExtensionValue:
        return bad(metric_label(pm, i) + ": DataSet, Template and extension values are not supported");
      case pb::Payload_Metric::VALUE_NOT_SET:
        return bad(metric_label(pm, i) + ": has no value and is not marked is_null");
      }
    }
    if (m.datatype == data_type::unknown) {
      // DATA metrics mostly come without a datatype: the raw value stands as
      // it is (coerce would return a copy of it).
      m.value = std::move(raw);
    } else {
      auto value = coerce(raw, m.datatype);
      if (!value)
        return bad(metric_label(pm, i) + ": " + value.error().message);
      m.value = std::move(*value);
    }
    out.metrics.push_back(std::move(m));
  }
  return out;
}

twin::expected<bytes> encode_payload(const payload& p) {
  pb::Payload out;
  if (p.timestamp)
    out.set_timestamp(*p.timestamp);
  if (p.seq)
    out.set_seq(*p.seq);
  if (p.uuid)
    out.set_uuid(*p.uuid);
  if (p.body)
    out.set_body(p.body->data(), p.body->size());

  for (std::size_t i = 0; i < p.metrics.size(); ++i) {
    const metric& m = p.metrics[i];
    auto* pm = out.add_metrics();
    if (m.name)
      pm->set_name(*m.name);
    if (m.alias)
      pm->set_alias(*m.alias);
    if (m.timestamp)
      pm->set_timestamp(*m.timestamp);
    if (m.is_historical)
      pm->set_is_historical(true);
    if (m.is_transient)
      pm->set_is_transient(true);

    auto value = coerce(m.value, m.datatype);
    if (!value)
      return bad(metric_label(m, i) + ": " + value.error().message);
    const data_type t = m.datatype;
    if (t != data_type::unknown)
      pm->set_datatype(static_cast<std::uint32_t>(t));

    const metric_value& v = *value;
    if (std::holds_alternative<null_value>(v)) {
      pm->set_is_null(true);
    } else if (const auto* i64 = std::get_if<std::int64_t>(&v)) {
      if (signed_bits(t) > 0 && signed_bits(t) < 64)  // sign-extended into 32 bits
        pm->set_int_value(static_cast<std::uint32_t>(static_cast<std::int32_t>(*i64)));
      else
        pm->set_long_value(static_cast<std::uint64_t>(*i64));
    } else if (const auto* u64 = std::get_if<std::uint64_t>(&v)) {
      if (unsigned_bits(t) > 0 && unsigned_bits(t) < 64)
        pm->set_int_value(static_cast<std::uint32_t>(*u64));
      else
        pm->set_long_value(*u64);
    } else if (const auto* d = std::get_if<double>(&v)) {
      pm->set_double_value(*d);
    } else if (const auto* f = std::get_if<float>(&v)) {
      pm->set_float_value(*f);
    } else if (const auto* b = std::get_if<bool>(&v)) {
      pm->set_boolean_value(*b);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      pm->set_string_value(*s);
    } else if (const auto* by = std::get_if<bytes>(&v)) {
      pm->set_bytes_value(by->data(), by->size());
    }
  }

  bytes result(out.ByteSizeLong());
  if (!result.empty() &&
      !out.SerializeToArray(result.data(), static_cast<int>(result.size())))
    return make_error(errc::internal, "Sparkplug B payload failed to serialize",
                      "sparkplug.payload");
  return result;
}

} // namespace twin::sparkplug
