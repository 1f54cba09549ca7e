#pragma once
// Sparkplug B payloads as our own value types. The protobuf schema
// (sparkplug_b.proto) and its generated code stay inside the library.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "twin/error.hpp"

namespace twin::sparkplug {

/// Sparkplug B DataType (spec 3.0, 6.4.16); the numbers are wire values.
enum class data_type : std::uint32_t {
  unknown = 0,
  int8 = 1, int16 = 2, int32 = 3, int64 = 4,
  uint8 = 5, uint16 = 6, uint32 = 7, uint64 = 8,
  float_ = 9, double_ = 10, boolean = 11, string = 12, date_time = 13, text = 14,
  uuid = 15, data_set = 16, bytes = 17, file = 18, template_ = 19,
  property_set = 20, property_set_list = 21,
  int8_array = 22, int16_array = 23, int32_array = 24, int64_array = 25,
  uint8_array = 26, uint16_array = 27, uint32_array = 28, uint64_array = 29,
  float_array = 30, double_array = 31, boolean_array = 32, string_array = 33,
  date_time_array = 34,
};

/// The specification's name: "Int8", "DateTime", "DataSet", ...; "DataType(99)"
/// for a number the specification does not define.
std::string to_string(data_type t);

/// True for the types this library carries as a metric_value: Int8..UInt64,
/// Float, Double, Boolean, String, DateTime, Text, UUID, Bytes, File.
/// DataSet, Template, property sets and arrays are not supported yet.
bool is_supported(data_type t) noexcept;

struct null_value {
  friend bool operator==(null_value, null_value) = default;
};
using bytes = std::vector<std::uint8_t>;

/// A metric's value. Mapping from data types:
///   Int8/16/32/64        -> int64_t       UInt8/16/32/64, DateTime -> uint64_t
///   Float -> float        Double -> double  Boolean -> bool
///   String/Text/UUID     -> std::string   Bytes/File -> bytes
///   is_null              -> null_value (any type)
/// A metric decoded without a datatype (DATA messages usually omit it)
/// holds the raw wire value: uint64_t for int_value/long_value, otherwise as
/// above. coerce() interprets it against the datatype from the BIRTH.
using metric_value =
    std::variant<null_value, std::int64_t, std::uint64_t, double, float, bool, std::string, bytes>;

struct metric {
  std::optional<std::string> name;
  std::optional<std::uint64_t> alias;
  std::optional<std::uint64_t> timestamp;  ///< ms since the Unix epoch
  data_type datatype = data_type::unknown; ///< unknown = absent on the wire
  bool is_historical = false;
  bool is_transient = false;
  metric_value value;

  friend bool operator==(const metric&, const metric&) = default;
};

struct payload {
  std::optional<std::uint64_t> timestamp;  ///< ms since the Unix epoch
  std::optional<std::uint64_t> seq;
  std::optional<std::string> uuid;
  std::optional<bytes> body;
  std::vector<metric> metrics;

  friend bool operator==(const payload&, const payload&) = default;
};

struct decode_options {
  /// Payloads larger than this are rejected before parsing.
  std::size_t max_bytes = 1024 * 1024;
  /// Payloads with more metrics than this are rejected.
  std::size_t max_metrics = 100'000;
};

/// Decodes Sparkplug B protobuf bytes. Malformed or truncated bytes, a payload
/// over the limits, an unknown or unsupported datatype (named in the message),
/// a value field that does not fit the datatype, or a metric with neither a
/// value nor is_null -> errc::bad_request. Never throws for bad input.
twin::expected<payload> decode_payload(std::span<const std::uint8_t> bytes,
                                       const decode_options& options = {});
twin::expected<payload> decode_payload(std::string_view bytes,
                                       const decode_options& options = {});

/// Encodes a payload. With a datatype, the value must be of the type it maps
/// to (and in range, e.g. Int8 in -128..127); without one (datatype unknown)
/// the datatype field is omitted and the value is written as its raw kind
/// (integers as long_value). Mismatches -> errc::bad_request.
twin::expected<bytes> encode_payload(const payload& p);

/// Interprets `value` as datatype `type` (sign-extends Int8..Int64 carried as
/// uint64_t, range-checks unsigned ones, widens nothing else). Errors name
/// the datatype and the value kind.
twin::expected<metric_value> coerce(const metric_value& value, data_type type);

/// "null", "int64", "uint64", "double", "float", "bool", "string", "bytes".
std::string_view kind_name(const metric_value& v) noexcept;

} // namespace twin::sparkplug
