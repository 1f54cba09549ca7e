#pragma once
// Internals shared by the model library's translation units. Not installed.

#include <cstddef>
#include <string>
#include <string_view>

#include "twin/model/dtdl.hpp"

namespace twin::model::detail {

/// Limits of one DTDL language version. Sources (Azure/opendigitaltwins-dtdl):
///  - v2: DTDL/v2/DTDL.v2.md (Interface, Property, Relationship tables,
///    "Complex schema").
///  - v3: DTDL/v3/DTDL.v3.md (Interface table: @id max 128 chars, contents
///    max 100,000 elements in hierarchy, extends max 1024 Interfaces in
///    hierarchy and max depth 10; name max 512 chars; nested complex schemas
///    max 5 levels) and DTDL/v3/DTDL.Specification.v3.md (DTMI regex,
///    reserved @id prefixes, @context rules, language tags).
///  - v4: DTDL/v4/DTDL.v4.md (accepted on a best-effort basis: it is where
///    byte, bytes, decimal, short, uuid and the unsigned types live; nested
///    complex schemas max 8 levels, extends depth 12).
struct limits {
  int version = 3;
  std::size_t name_max = 512;          // v2: 64
  std::size_t interface_id_max = 128;  // all versions
  std::size_t id_max = 2048;           // other element @ids
  std::size_t display_name_max = 64;
  std::size_t description_max = 512;
  std::size_t comment_max = 512;
  int schema_depth_max = 5;            // v4: 8
  int extends_depth_max = 10;          // v4: 12
  std::size_t extends_direct_max = 0;  // v2: 2 per set; 0 = no direct limit
  std::size_t extends_total_max = 1024;// v3/v4: Interfaces in hierarchy
  std::size_t contents_max = 0;        // v2: 300 contents incl. inherited
  std::size_t elements_max = 100000;   // v3/v4: elements in hierarchy
  std::size_t enum_values_max = 0;     // v2: 100
  std::size_t fields_max = 0;          // v2: 30
  std::size_t rel_properties_max = 0;  // v2: 300
  std::uint64_t max_multiplicity_max = 0; // v2: 500
  bool version_required = false;       // v2: DTMIs must carry a version
  bool minor_version = true;           // v2: no minor part
  bool property_array_allowed = true;  // v2: Property may not hold Array
  bool component_nesting = false;      // v2: components may nest
  bool v4_primitives = false;
  bool enum_needs_values = false;      // v2: at least one enumValue
  bool object_needs_fields = false;    // v2: at least one field
  bool semantic_native = false;        // v2: semantic types without extension
};

const limits& limits_for(int version);

/// RFC 6901 escaping of one reference token.
std::string pointer_escape(std::string_view token);

/// True if `name` matches ^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$.
bool is_valid_name(std::string_view name) noexcept;

/// Semantic types of the QuantitativeTypes extension (v3) / native (v2).
/// Returns nullptr if `type` is not a semantic type; else the unit type.
const char* semantic_unit_type(std::string_view type) noexcept;
/// True if `unit` is a unit of `unit_type`.
bool unit_in_type(std::string_view unit_type, std::string_view unit) noexcept;

/// Primitive schema by term ("double") or DTMI form; nullopt if unknown.
/// `v4_only` is set when the term only exists in DTDL v4.
bool primitive_kind(std::string_view term, schema::kind& out, bool& v4_only,
                    int version) noexcept;
const char* kind_name(schema::kind k) noexcept;
bool is_numeric(schema::kind k) noexcept;

/// Value syntax checkers shared with validation of enum values etc.
bool is_date(std::string_view s) noexcept;
bool is_time(std::string_view s) noexcept;
bool is_date_time(std::string_view s) noexcept;
bool is_duration(std::string_view s) noexcept;
bool is_uuid(std::string_view s) noexcept;
bool is_base64(std::string_view s) noexcept;

} // namespace twin::model::detail
