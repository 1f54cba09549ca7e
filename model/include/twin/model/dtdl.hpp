#pragma once
// DTDL (v3, and v2 documents) parsing, validation and value checking.
// Pure functions and immutable values: no I/O here except validate_paths.
//
// CONTRACT: actors/ and cli/ use exactly the declarations below. They may be
// extended, not changed.

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"
#include "twin/ids.hpp"

namespace twin::model {

/// A Digital Twin Model Identifier, e.g. "dtmi:com:example:Bearing;1".
using dtmi = named_type<std::string, struct dtmi_tag>;

/// Parses and checks DTMI syntax (and the version rules of DTDL v3:
/// version 1..999999999, optional minor in v3). Error rule: "dtmi-syntax".
expected<dtmi> parse_dtmi(std::string_view text);

/// As parse_dtmi, with the rules of one DTDL version (2: version required,
/// no minor part; 3 and 4: version optional unless `require_version`).
/// Error rules: "dtmi-syntax", "dtmi-version".
expected<dtmi> parse_dtmi(std::string_view text, int dtdl_version,
                          bool require_version);

struct interface;

struct schema;
using schema_ptr = std::shared_ptr<const schema>;

/// A resolved DTDL schema.
struct schema {
  enum class kind {
    boolean, date, date_time, duration, time, double_, float_, integer, long_,
    string, byte_, bytes, decimal, short_, unsigned_byte, unsigned_integer,
    unsigned_long, unsigned_short, uuid, scaled_decimal,
    point, multi_point, line_string, multi_line_string, polygon, multi_polygon,
    object, enumeration, map, array,
  };
  kind k = kind::string;
  /// object: fields (name -> schema), in declaration order.
  std::vector<std::pair<std::string, schema_ptr>> fields;
  /// enumeration: value schema (integer or string) and allowed values.
  kind enum_value_kind = kind::string;
  std::vector<std::pair<std::string, nlohmann::json>> enum_values;
  /// map: key schema is always string; value schema here.
  /// array: element schema here.
  schema_ptr element;
};

enum class content_kind { property, telemetry, command, component, relationship };

/// One resolved content element of an interface (own or inherited).
struct content {
  content_kind kind = content_kind::property;
  std::string name;
  /// Property: writable. Others: false.
  bool writable = false;
  /// Property / telemetry schema; command request schema (may be null).
  schema_ptr value_schema;
  /// Command response schema (may be null).
  schema_ptr response_schema;
  /// Component: the DTMI of the component's interface.
  std::optional<dtmi> component_interface;
  /// Relationship: target interface (optional), max multiplicity (optional).
  std::optional<dtmi> target;
  std::optional<std::uint64_t> max_multiplicity;
  /// Semantic type (e.g. "Temperature") and unit (e.g. "degreeCelsius"),
  /// empty if none.
  std::string semantic_type;
  std::string unit;
  /// Component: the component's interface, resolved at validation time
  /// (null for interfaces loaded without it; then use a resolver).
  std::shared_ptr<const interface> resolved_component;
  /// The interface that declared this content (own or an ancestor).
  std::string declared_in;
};

/// A resolved, validated interface: its own contents and all inherited ones
/// (extends flattened).
struct interface {
  dtmi id;
  /// 2 or 3 (or 4): the DTDL context version the document declared.
  int dtdl_version = 3;
  /// The document exactly as uploaded.
  nlohmann::json source;
  std::vector<content> contents;
  std::vector<dtmi> extends;

  /// The content named `name`, or nullptr.
  const content* find(std::string_view name) const noexcept;
};
using interface_ptr = std::shared_ptr<const interface>;

/// Something that already knows interfaces (e.g. the registry), used to
/// resolve references from a document set to models stored earlier.
class resolver {
public:
  virtual ~resolver() = default;
  virtual interface_ptr find(const dtmi& id) const = 0;
};

/// A document to validate: where it came from (file path or "request[3]")
/// and its parsed JSON (a single interface or an array of them).
struct document {
  std::string source;
  nlohmann::json json;
};

/// The verdict for one document.
struct document_verdict {
  std::string source;
  /// Empty when the document is valid.
  std::vector<error> errors;
  bool valid() const noexcept { return errors.empty(); }
};

struct validation_result {
  std::vector<document_verdict> documents;
  /// Interfaces of valid documents, resolved. Empty if any document failed
  /// (a set is accepted or rejected as a whole).
  std::vector<interface_ptr> interfaces;
  bool valid() const noexcept;
};

/// Validates a set of documents together: references between them
/// (extends, component schemas, relationship targets, schema ids) resolve
/// within the set, then against `known` if given. Errors name a rule
/// (a stable identifier such as "name-pattern", "extends-cycle",
/// "contents-limit") and a JSON path.
validation_result validate(const std::vector<document>& docs,
                           const resolver* known = nullptr);

/// Checks a JSON value against a schema. `path` is the JSON pointer of the
/// value, used in the error. Error code model_violation, rule "value-type",
/// "enum-value", "object-field", etc.
status check_value(const schema& s, const nlohmann::json& value,
                   const std::string& path);

/// Who is writing: a human/service through the API, or a device/pipeline.
enum class writer { human, device };

/// Checks a write of property `name`. Unknown name ("unknown-name"), not a
/// property ("not-a-property"), a non-writable property written by a human
/// ("not-writable"), wrong type or out-of-enum value. A component name takes
/// an object of the component's properties.
status check_property_write(const interface& itf, const resolver* known,
                            std::string_view name, const nlohmann::json& value,
                            writer who);

/// Checks a telemetry value (or a device-reported property) by name. If
/// `declared` is given it receives the content the name resolves to
/// (nullptr when undeclared), so the caller need not look it up again.
status check_telemetry(const interface& itf, const resolver* known,
                       std::string_view name, const nlohmann::json& value,
                       const content** declared = nullptr);

/// `twinctl model validate`: loads every path (file, or directory searched
/// recursively for *.json), validates all documents as one set, prints one
/// line per file ("VALID path" / "INVALID path: rule at pointer: message")
/// to `out`, and returns 0 if all are valid, 1 if any is invalid, 2 on I/O
/// or JSON syntax problems that prevented validation.
int validate_paths(const std::vector<std::string>& paths, std::ostream& out);

} // namespace twin::model
