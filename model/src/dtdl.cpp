// DTDL parser and validator: validate() over a set of documents.
//
// Work is linear in the size of the set: one pass parses every Interface
// (top-level and inline) into a raw form and indexes @ids; a second builds
// each Interface's own contents and schemas; a third resolves `extends` and
// components with a memoised depth-first walk (colours for cycle
// detection), so 20,000 files cost 20,000 small walks, not a quadratic
// comparison. Every error names a stable rule and a JSON pointer into the
// document it came from.

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

#include "detail.hpp"

namespace twin::model {

const content* interface::find(std::string_view name) const noexcept {
  for (const auto& c : contents)
    if (c.name == name)
      return &c;
  return nullptr;
}

bool validation_result::valid() const noexcept {
  for (const auto& d : documents)
    if (!d.valid())
      return false;
  return true;
}

namespace {

using json = nlohmann::json;
using detail::limits;
using detail::pointer_escape;

constexpr std::string_view material_types[] = {
  "Property", "Telemetry", "Command", "Component", "Relationship"};

// Terms from the "Reserved strings" table of DTDL.Specification.v3.md that
// may not appear as a co-type of an element of another class.
const std::unordered_set<std::string_view>& reserved_terms() {
  static const std::unordered_set<std::string_view> t = {
    "AdjunctType", "Alias", "aliasFor", "Array", "asynchronous", "boolean",
    "Boolean", "Command", "CommandPayload", "CommandRequest", "CommandResponse",
    "commandType", "CommandType", "comment", "ComplexSchema", "Component",
    "Content", "contents", "date", "Date", "dateTime", "DateTime",
    "description", "displayName", "double", "Double", "DtdlExtension",
    "duration", "Duration", "elementSchema", "Entity", "Enum", "enumValue",
    "EnumValue", "enumValues", "exponent", "extends", "Field", "fields",
    "float", "Float", "integer", "Integer", "Interface",
    "languageMajorVersion", "LatentType", "lineString", "long", "Long", "Map",
    "mapKey", "MapKey", "mapValue", "MapValue", "maxMultiplicity",
    "metamodel", "minMultiplicity", "model", "multiLineString", "multiPoint",
    "multiPolygon", "name", "NamedEntity", "NamedLatentType", "NumericSchema",
    "Object", "point", "polygon", "PrimitiveSchema", "properties", "Property",
    "Relationship", "request", "response", "schema", "Schema", "SchemaField",
    "schemas", "SemanticType", "SemanticUnit", "string", "String", "symbol",
    "synchronous", "target", "Telemetry", "TemporalSchema", "time", "Time",
    "Unit", "UnitAttribute", "valueSchema", "writable"};
  return t;
}

// Extension contexts we know. Adjunct types they define are accepted as
// co-types without further checks (historization, annotation, ...).
bool known_extension(std::string_view ctx, int version, bool& quant) {
  if (version >= 3) {
    if (ctx == (version == 3 ? "dtmi:dtdl:extension:quantitativeTypes;1"
                             : "dtmi:dtdl:extension:quantitativeTypes;2")) {
      quant = true;
      return true;
    }
    static constexpr std::string_view v3ext[] = {
      "dtmi:dtdl:extension:historization;1", "dtmi:dtdl:extension:annotation;1",
      "dtmi:dtdl:extension:streaming;1", "dtmi:dtdl:extension:overriding;1",
      "dtmi:dtdl:extension:mqtt;1", "dtmi:dtdl:extension:historization;2",
      "dtmi:dtdl:extension:annotation;2", "dtmi:dtdl:extension:overriding;2",
      "dtmi:dtdl:extension:mqtt;2", "dtmi:dtdl:extension:mqtt;3",
      "dtmi:dtdl:extension:requirement;1"};
    for (auto e : v3ext)
      if (ctx == e)
        return true;
    return false;
  }
  return ctx == "dtmi:iotcentral:context;2";
}

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80)
      ++n;
  return n;
}

bool is_language_tag(std::string_view s) {
  // ^[a-z]{2,4}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$ (Specification v3,
  // "Localizable string"). Real-world models also use "en-us"; we accept a
  // case-insensitive region for that reason.
  std::size_t i = 0;
  while (i < s.size() && s[i] >= 'a' && s[i] <= 'z')
    ++i;
  if (i < 2 || i > 4)
    return false;
  if (i == s.size())
    return true;
  auto rest = s.substr(i);
  auto is_up = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto is_lo = [](char c) { return c >= 'a' && c <= 'z'; };
  auto is_dg = [](char c) { return c >= '0' && c <= '9'; };
  if (rest.size() >= 5 && rest[0] == '-' && is_up(rest[1]) && is_lo(rest[2])
      && is_lo(rest[3]) && is_lo(rest[4]))
    rest = rest.substr(5);
  if (rest.empty())
    return true;
  if (rest.size() == 3 && rest[0] == '-'
      && ((is_up(rest[1]) || is_lo(rest[1])) && (is_up(rest[2]) || is_lo(rest[2]))))
    return true;
  return rest.size() == 4 && rest[0] == '-' && is_dg(rest[1]) && is_dg(rest[2])
         && is_dg(rest[3]);
}

// Unwraps a representational literal {"@value": x}.
const json& literal(const json& j) {
  if (j.is_object()) {
    auto it = j.find("@value");
    if (it != j.end())
      return *it;
  }
  return j;
}

// Views a member that may be one value or an array of values.
struct items {
  const json* j;
  bool array;
  std::size_t size() const { return array ? j->size() : 1; }
  const json& at(std::size_t i) const { return array ? (*j)[i] : *j; }
  std::string path(const std::string& base, std::size_t i) const {
    return array ? base + "/" + std::to_string(i) : base;
  }
};
items as_items(const json& j) { return items{&j, j.is_array()}; }

struct active_ctx {
  int version = 3;
  const limits* lim = &detail::limits_for(3);
  bool quant = false;
};

struct content_info {
  content c;
  std::string path;
  std::size_t elements = 1;
};

struct raw_itf;

struct schema_def {
  raw_itf* owner;
  const json* j;
  std::string path;
};

struct raw_itf {
  std::string id;
  bool id_ok = false;
  std::size_t doc = 0;
  std::string path;
  const json* j = nullptr;
  active_ctx cx;
  std::vector<std::pair<std::string, std::string>> extends; // id, path
  std::unordered_map<std::size_t, std::string> inline_components;
  std::unordered_map<std::string, schema_def> local_schemas;
  std::unordered_map<std::string, schema_ptr> built;
  std::unordered_set<std::string> building;
  std::vector<content_info> own;
  std::size_t own_elements = 0;
  // resolution
  int state = 0; // 0 new, 1 on the stack, 2 done
  int depth = 0;
  std::unordered_set<std::string> ancestors;
  std::vector<content> flat;
  bool has_component = false; // in its flattened contents
  std::shared_ptr<interface> result;
};

struct element_types {
  std::vector<std::string> all;
  std::string material;      // the DTDL class found among `all`
  std::string semantic;      // a semantic co-type, if any
  bool informal = false;     // an unknown co-type: extra members allowed
};

class validator {
public:
  validator(const std::vector<document>& docs, const resolver* known)
    : docs_(docs), known_(known) {
    res_.documents.resize(docs.size());
    for (std::size_t i = 0; i < docs.size(); ++i)
      res_.documents[i].source = docs[i].source;
  }

  validation_result run() {
    for (std::size_t d = 0; d < docs_.size(); ++d) {
      const json& root = docs_[d].json;
      if (root.is_object()) {
        parse_interface(root, "", d, nullptr);
      } else if (root.is_array()) {
        for (std::size_t i = 0; i < root.size(); ++i) {
          if (!root[i].is_object())
            add(d, "root-type", "/" + std::to_string(i),
                "a top-level element must be an object");
          else
            parse_interface(root[i], "/" + std::to_string(i), d, nullptr);
        }
      } else {
        add(d, "root-type", "", "a document must be an Interface object or an array of them");
      }
    }
    // Index every valid @id first, so build and resolve see the whole set.
    for (std::size_t i = 0; i < itfs_.size(); ++i)
      build_contents(*itfs_[i]);
    for (auto& r : itfs_)
      if (r->id_ok)
        resolve(*r);
    bool all_ok = res_.valid();
    if (all_ok)
      for (auto& r : itfs_)
        if (r->result)
          res_.interfaces.push_back(r->result);
    return std::move(res_);
  }

private:
  // ---- errors ---------------------------------------------------------
  void add(std::size_t doc, std::string rule, std::string path, std::string msg) {
    res_.documents[doc].errors.push_back(
      make_error(errc::model_violation, std::move(msg), std::move(rule),
                 path.empty() ? std::string{} : std::move(path)));
  }

  // ---- small checks ---------------------------------------------------
  void check_text(std::size_t doc, const json& obj, const char* key,
                  std::size_t max, const std::string& base) {
    auto it = obj.find(key);
    if (it == obj.end())
      return;
    std::string p = base + "/" + key;
    auto check_one = [&](const json& v, const std::string& path) {
      if (!v.is_string()) {
        add(doc, "member-type", path, std::string{key} + " must be a string");
        return;
      }
      if (utf8_length(v.get_ref<const std::string&>()) > max)
        add(doc, "text-length", path,
            std::string{key} + " longer than " + std::to_string(max) + " characters");
    };
    const json& v = *it;
    if (std::string_view{key} == "comment") {
      check_one(v, p);
      return;
    }
    if (v.is_string()) {
      check_one(v, p);
    } else if (v.is_object()) {
      for (auto m = v.begin(); m != v.end(); ++m) {
        std::string mp = p + "/" + pointer_escape(m.key());
        if (!is_language_tag(m.key()))
          add(doc, "language-tag", mp, "'" + m.key() + "' is not a language tag");
        check_one(m.value(), mp);
      }
    } else if (v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        std::string ep = p + "/" + std::to_string(i);
        const json& e = v[i];
        if (e.is_string()) {
          check_one(e, ep);
        } else if (e.is_object() && e.contains("@value")) {
          check_one(e["@value"], ep + "/@value");
          if (auto l = e.find("@language"); l != e.end()
              && (!l->is_string() || !is_language_tag(l->get_ref<const std::string&>())))
            add(doc, "language-tag", ep + "/@language", "not a language tag");
        } else {
          add(doc, "member-type", ep,
              std::string{key} + " items must be strings or {\"@value\", \"@language\"}");
        }
      }
    } else {
      add(doc, "member-type", p,
          std::string{key} + " must be a string or a language map");
    }
  }

  void check_texts(std::size_t doc, const json& obj, const std::string& base,
                   const limits& lim) {
    check_text(doc, obj, "displayName", lim.display_name_max, base);
    check_text(doc, obj, "description", lim.description_max, base);
    check_text(doc, obj, "comment", lim.comment_max, base);
  }

  // Name pattern and length; returns the name or empty.
  std::string check_name(std::size_t doc, const json& obj, const std::string& base,
                         const limits& lim, bool required = true) {
    auto it = obj.find("name");
    if (it == obj.end()) {
      if (required)
        add(doc, "missing-property", base + "/name", "'name' is required");
      return {};
    }
    const json& v = literal(*it);
    if (!v.is_string()) {
      add(doc, "member-type", base + "/name", "'name' must be a string");
      return {};
    }
    const auto& s = v.get_ref<const std::string&>();
    bool ok = true;
    if (s.size() > lim.name_max) {
      add(doc, "name-length", base + "/name",
          "name longer than " + std::to_string(lim.name_max) + " characters (DTDL v"
            + std::to_string(lim.version) + ")");
      ok = false;
    }
    if (!detail::is_valid_name(s)) {
      add(doc, "name-pattern", base + "/name",
          "name '" + s.substr(0, 80)
            + "' must start with a letter, hold only letters, digits and "
              "underscores, and not end with an underscore");
      ok = false;
    }
    return ok ? s : std::string{};
  }

  // Optional @id of a non-Interface element.
  void check_element_id(std::size_t doc, const json& obj, const std::string& base,
                        const limits& lim) {
    auto it = obj.find("@id");
    if (it == obj.end())
      return;
    check_dtmi_value(doc, *it, base + "/@id", lim, lim.id_max, true, false);
  }

  // Checks a DTMI value; returns it or empty on error.
  std::string check_dtmi_value(std::size_t doc, const json& v, const std::string& path,
                               const limits& lim, std::size_t max_len,
                               bool is_id, bool require_version) {
    if (!v.is_string()) {
      add(doc, "member-type", path, "a DTMI string is required");
      return {};
    }
    const auto& s = v.get_ref<const std::string&>();
    auto r = parse_dtmi(s, lim.version, require_version || lim.version_required);
    if (!r) {
      add(doc, r.error().rule, path, r.error().message);
      return {};
    }
    if (s.size() > max_len) {
      add(doc, "dtmi-length", path,
          "DTMI longer than " + std::to_string(max_len) + " characters");
      return {};
    }
    if (is_id && (s.rfind("dtmi:dtdl:", 0) == 0 || s.rfind("dtmi:standard:", 0) == 0)) {
      add(doc, "reserved-word", path,
          "'" + s + "' uses a reserved prefix (dtmi:dtdl: or dtmi:standard:)");
      return {};
    }
    return s;
  }

  void check_members(std::size_t doc, const json& obj, const std::string& base,
                     std::initializer_list<std::string_view> allowed, bool informal) {
    for (auto m = obj.begin(); m != obj.end(); ++m) {
      const auto& k = m.key();
      bool ok = false;
      for (auto a : allowed)
        if (k == a) {
          ok = true;
          break;
        }
      if (ok || k == "@context")
        continue;
      if (informal && (k.empty() || k[0] != '@'))
        continue;
      add(doc, "unknown-member", base + "/" + pointer_escape(k),
          "'" + k + "' is not a member of this element");
    }
  }

  // Reads @type; `wanted` lists acceptable material classes. Reports
  // missing-property / unknown-type / reserved-word / extension-missing.
  element_types read_types(std::size_t doc, const json& obj, const std::string& base,
                           std::initializer_list<std::string_view> wanted,
                           const active_ctx& cx, bool required) {
    element_types t;
    auto it = obj.find("@type");
    if (it == obj.end()) {
      if (required)
        add(doc, "missing-property", base + "/@type", "'@type' is required");
      return t;
    }
    const json& v = *it;
    std::string p = base + "/@type";
    if (v.is_string()) {
      t.all.push_back(v.get<std::string>());
    } else if (v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string()) {
          add(doc, "member-type", p + "/" + std::to_string(i), "'@type' values must be strings");
          continue;
        }
        t.all.push_back(v[i].get<std::string>());
      }
    } else {
      add(doc, "member-type", p, "'@type' must be a string or an array of strings");
      return t;
    }
    std::vector<std::pair<std::string, std::string>> reserved;
    for (std::size_t i = 0; i < t.all.size(); ++i) {
      const auto& ty = t.all[i];
      std::string ip = v.is_array() ? p + "/" + std::to_string(i) : p;
      bool is_wanted = std::find(wanted.begin(), wanted.end(), ty) != wanted.end();
      if (is_wanted) {
        if (!t.material.empty())
          add(doc, "reserved-word", ip,
              "'" + ty + "' cannot co-type a " + t.material);
        else
          t.material = ty;
        continue;
      }
      if (detail::semantic_unit_type(ty)) {
        if (!cx.lim->semantic_native && !cx.quant)
          add(doc, "extension-missing", ip,
              "semantic type '" + ty
                + "' needs the QuantitativeTypes extension in @context "
                  "(dtmi:dtdl:extension:quantitativeTypes;1)");
        if (!t.semantic.empty())
          add(doc, "reserved-word", ip, "only one semantic type is allowed");
        t.semantic = ty;
        continue;
      }
      if (reserved_terms().count(ty)) {
        reserved.emplace_back(ty, ip);
        continue;
      }
      if (ty.rfind("dtmi:", 0) == 0) {
        auto r = parse_dtmi(ty, cx.version, false);
        if (!r)
          add(doc, "dtmi-syntax", ip, "co-type '" + ty + "' is not a valid DTMI");
      }
      t.informal = true; // an undefined or extension-defined adjunct type
    }
    if (!t.material.empty() || !required)
      for (const auto& [ty, ip] : reserved)
        add(doc, "reserved-word", ip, "'" + ty + "' is a DTDL term that cannot co-type this element");
    if (t.material.empty() && required) {
      std::string list;
      for (auto w : wanted)
        list += (list.empty() ? "" : ", ") + std::string{w};
      add(doc, "unknown-type", p, "@type must include one of: " + list);
    }
    return t;
  }

  // Semantic type + unit on a Property, Telemetry, Field, MapValue,
  // CommandRequest/Response.
  void check_semantic(std::size_t doc, const json& obj, const std::string& base,
                      const element_types& t, const schema_ptr& s,
                      std::string* unit_out) {
    if (t.semantic.empty())
      return;
    const char* unit_type = detail::semantic_unit_type(t.semantic);
    auto it = obj.find("unit");
    if (it == obj.end()) {
      add(doc, "missing-property", base + "/unit",
          "semantic type '" + t.semantic + "' needs a 'unit'");
    } else if (!it->is_string()) {
      add(doc, "member-type", base + "/unit", "'unit' must be a string");
    } else {
      const auto& u = it->get_ref<const std::string&>();
      if (!detail::unit_in_type(unit_type, u))
        add(doc, "unit-mismatch", base + "/unit",
            "unit '" + u + "' is not a " + unit_type + " (required by semantic type '"
              + t.semantic + "')");
      else if (unit_out)
        *unit_out = u;
    }
    if (s && !detail::is_numeric(s->k))
      add(doc, "semantic-schema", base + "/schema",
          "semantic type '" + t.semantic + "' needs a numeric schema, not "
            + detail::kind_name(s->k));
  }

  // ---- phase 1: interfaces ---------------------------------------------
  bool parse_context(std::size_t doc, const json& c, const std::string& path,
                     const active_ctx* parent, active_ctx& out) {
    std::vector<std::pair<std::string, std::string>> vals; // value, path
    if (c.is_string()) {
      vals.emplace_back(c.get<std::string>(), path);
    } else if (c.is_array()) {
      for (std::size_t i = 0; i < c.size(); ++i) {
        if (!c[i].is_string()) {
          add(doc, "context-invalid", path + "/" + std::to_string(i),
              "@context values must be strings");
          continue;
        }
        vals.emplace_back(c[i].get<std::string>(), path + "/" + std::to_string(i));
      }
    } else {
      add(doc, "context-invalid", path, "@context must be a string or an array of strings");
      return false;
    }
    int version = 0;
    bool seen_extension = false;
    for (const auto& [v, vp] : vals) {
      if (v.rfind("dtmi:dtdl:context;", 0) == 0) {
        auto n = v.substr(18);
        if (n == "2" || n == "3" || n == "4") {
          version = n[0] - '0';
          if (seen_extension)
            add(doc, "context-order", vp,
                "the DTDL context must precede extension contexts");
        } else {
          add(doc, "context-invalid", vp, "unsupported DTDL context '" + v + "'");
        }
        continue;
      }
      seen_extension = true;
    }
    if (version == 0) {
      if (!parent) {
        add(doc, "context-missing", path,
            "@context must include dtmi:dtdl:context;3 (or ;2)");
        return false;
      }
      version = parent->version;
    }
    out.version = version;
    out.lim = &detail::limits_for(version);
    out.quant = parent && parent->version == version ? parent->quant : false;
    for (const auto& [v, vp] : vals) {
      if (v.rfind("dtmi:dtdl:context;", 0) == 0)
        continue;
      auto r = parse_dtmi(v, 3, true);
      if (!r) {
        add(doc, "context-invalid", vp, "'" + v + "' is not a versioned DTMI");
        continue;
      }
      if (!known_extension(v, version, out.quant))
        add(doc, "unknown-extension", vp,
            "unknown language extension '" + v + "' for DTDL v" + std::to_string(version));
    }
    return true;
  }

  raw_itf* parse_interface(const json& j, const std::string& path, std::size_t doc,
                           const active_ctx* parent) {
    auto r = std::make_unique<raw_itf>();
    r->doc = doc;
    r->path = path;
    r->j = &j;
    if (auto c = j.find("@context"); c != j.end()) {
      if (!parse_context(doc, *c, path + "/@context", parent, r->cx) && parent)
        r->cx = *parent;
    } else if (parent) {
      r->cx = *parent;
    } else {
      add(doc, "context-missing", path + "/@context",
          "a top-level Interface needs @context with dtmi:dtdl:context;3 (or ;2)");
    }
    const limits& lim = *r->cx.lim;
    auto t = read_types(doc, j, path, {"Interface"}, r->cx, true);
    if (auto it = j.find("@id"); it == j.end()) {
      add(doc, "missing-property", path + "/@id", "an Interface needs an '@id'");
    } else {
      r->id = check_dtmi_value(doc, *it, path + "/@id", lim, lim.interface_id_max,
                               true, true);
      if (!r->id.empty()) {
        auto [pos, fresh] = by_id_.emplace(r->id, r.get());
        if (!fresh)
          add(doc, "duplicate-id", path + "/@id",
              "'" + r->id + "' is defined more than once in the set");
        else
          r->id_ok = true;
      }
    }
    check_members(doc, j, path,
                  {"@id", "@type", "comment", "contents", "description",
                   "displayName", "extends", "schemas"},
                  t.informal);
    check_texts(doc, j, path, lim);
    raw_itf* self = r.get();
    itfs_.push_back(std::move(r));

    if (auto it = j.find("extends"); it != j.end()) {
      std::string ep = path + "/extends";
      if (!it->is_string() && !it->is_object() && !it->is_array()) {
        add(doc, "member-type", ep, "'extends' must be a DTMI, an Interface or an array");
      } else {
        auto xs = as_items(*it);
        if (lim.extends_direct_max && xs.size() > lim.extends_direct_max)
          add(doc, "extends-limit", ep,
              "at most " + std::to_string(lim.extends_direct_max)
                + " Interfaces in 'extends' (DTDL v2)");
        for (std::size_t i = 0; i < xs.size(); ++i) {
          const json& x = xs.at(i);
          std::string xp = xs.path(ep, i);
          if (x.is_string()) {
            auto id = check_dtmi_value(doc, x, xp, lim, lim.interface_id_max, false, true);
            if (!id.empty())
              self->extends.emplace_back(id, xp);
          } else if (x.is_object()) {
            auto* in = parse_interface(x, xp, doc, &self->cx);
            if (in && in->id_ok)
              self->extends.emplace_back(in->id, xp);
          } else {
            add(doc, "member-type", xp, "'extends' items must be DTMIs or Interfaces");
          }
        }
      }
    }
    if (auto it = j.find("schemas"); it != j.end()) {
      std::string sp = path + "/schemas";
      if (!it->is_object() && !it->is_array()) {
        add(doc, "member-type", sp, "'schemas' must be an array of complex schemas");
      } else {
        auto xs = as_items(*it);
        for (std::size_t i = 0; i < xs.size(); ++i) {
          const json& x = xs.at(i);
          std::string xp = xs.path(sp, i);
          if (!x.is_object()) {
            add(doc, "member-type", xp, "a reusable schema must be an object");
            continue;
          }
          auto idit = x.find("@id");
          if (idit == x.end()) {
            add(doc, "missing-property", xp + "/@id", "a reusable schema needs an '@id'");
            continue;
          }
          auto id = check_dtmi_value(doc, *idit, xp + "/@id", lim, lim.id_max, true, false);
          if (id.empty())
            continue;
          if (by_id_.count(id) || global_schemas_.count(id)) {
            add(doc, "duplicate-id", xp + "/@id", "'" + id + "' is defined more than once");
            continue;
          }
          schema_def def{self, &x, xp};
          self->local_schemas.emplace(id, def);
          global_schemas_.emplace(id, def);
        }
      }
    }
    // Inline component interfaces are Interfaces of the set too.
    if (auto it = j.find("contents"); it != j.end() && (it->is_array() || it->is_object())) {
      auto xs = as_items(*it);
      for (std::size_t i = 0; i < xs.size(); ++i) {
        const json& x = xs.at(i);
        if (!x.is_object())
          continue;
        auto s = x.find("schema");
        if (s == x.end() || !s->is_object())
          continue;
        auto ty = x.find("@type");
        bool component = ty != x.end()
                         && ((ty->is_string() && *ty == "Component")
                             || (ty->is_array()
                                 && std::find(ty->begin(), ty->end(), json("Component"))
                                      != ty->end()));
        if (!component)
          continue;
        auto* in = parse_interface(*s, xs.path(path + "/contents", i) + "/schema", doc,
                                   &self->cx);
        if (in && in->id_ok)
          self->inline_components.emplace(i, in->id);
      }
    }
    return self;
  }

  // ---- phase 2: schemas and contents -------------------------------------
  static schema_ptr primitive(schema::kind k) {
    static std::array<schema_ptr, 32> cache = [] {
      std::array<schema_ptr, 32> c;
      for (std::size_t i = 0; i < c.size(); ++i) {
        auto s = std::make_shared<schema>();
        s->k = static_cast<schema::kind>(i);
        c[i] = s;
      }
      return c;
    }();
    return cache[static_cast<std::size_t>(k)];
  }

  static int schema_depth(const schema& s, int guard = 0) {
    if (guard > 64)
      return guard;
    switch (s.k) {
      case schema::kind::object: {
        int d = 0;
        for (const auto& f : s.fields)
          if (f.second)
            d = std::max(d, schema_depth(*f.second, guard + 1));
        return 1 + d;
      }
      case schema::kind::map:
      case schema::kind::array:
        return 1 + (s.element ? schema_depth(*s.element, guard + 1) : 0);
      case schema::kind::enumeration:
        return 1;
      default:
        return 0;
    }
  }

  static bool contains_array(const schema& s, int guard = 0) {
    if (guard > 64)
      return false;
    switch (s.k) {
      case schema::kind::array:
        return true;
      case schema::kind::object:
        for (const auto& f : s.fields)
          if (f.second && contains_array(*f.second, guard + 1))
            return true;
        return false;
      case schema::kind::map:
        return s.element && contains_array(*s.element, guard + 1);
      default:
        return false;
    }
  }

  schema_ptr resolve_schema_ref(const std::string& id, const std::string& path,
                                raw_itf& itf) {
    auto it = itf.local_schemas.find(id);
    raw_itf* owner = &itf;
    const schema_def* def = nullptr;
    if (it != itf.local_schemas.end()) {
      def = &it->second;
    } else if (auto g = global_schemas_.find(id); g != global_schemas_.end()) {
      def = &g->second;
      owner = g->second.owner;
    }
    if (!def) {
      if (by_id_.count(id) || (known_ && known_->find(dtmi{id})))
        add(itf.doc, "schema-not-allowed", path,
            "'" + id + "' is an Interface, not a schema");
      else
        add(itf.doc, "unresolved-reference", path,
            "schema '" + id + "' is not defined in the set");
      return nullptr;
    }
    if (auto b = owner->built.find(id); b != owner->built.end())
      return b->second;
    if (owner->building.count(id)) {
      add(itf.doc, "schema-cycle", path, "schema '" + id + "' refers to itself");
      return nullptr;
    }
    owner->building.insert(id);
    std::size_t ignored = 0;
    auto s = build_schema(*def->j, def->path, *owner, ignored, false);
    owner->building.erase(id);
    owner->built[id] = s;
    return s;
  }

  schema_ptr build_schema(const json& j, const std::string& path, raw_itf& itf,
                          std::size_t& elements, bool in_property) {
    std::size_t doc = itf.doc;
    const limits& lim = *itf.cx.lim;
    if (j.is_string()) {
      const auto& s = j.get_ref<const std::string&>();
      schema::kind k;
      bool v4_only = false;
      if (detail::primitive_kind(s, k, v4_only, itf.cx.version)) {
        if (v4_only && !lim.v4_primitives) {
          add(doc, "unknown-schema", path,
              "schema '" + s + "' is DTDL v4 only; not in DTDL v"
                + std::to_string(lim.version));
          return nullptr;
        }
        if (in_property && !lim.property_array_allowed && k >= schema::kind::point
            && k <= schema::kind::multi_polygon) {
          add(doc, "schema-not-allowed", path,
              "a DTDL v2 Property cannot use geospatial schemas");
          return nullptr;
        }
        return primitive(k);
      }
      if (s.rfind("dtmi:", 0) == 0) {
        auto r = parse_dtmi(s, itf.cx.version, false);
        if (!r) {
          add(doc, r.error().rule, path, r.error().message);
          return nullptr;
        }
        auto sp = resolve_schema_ref(s, path, itf);
        if (sp && in_property && !lim.property_array_allowed && contains_array(*sp)) {
          add(doc, "schema-not-allowed", path, "a DTDL v2 Property cannot hold an Array");
          return nullptr;
        }
        return sp;
      }
      add(doc, "unknown-schema", path, "unknown schema '" + s + "'");
      return nullptr;
    }
    if (!j.is_object()) {
      add(doc, "member-type", path, "a schema must be a string or an object");
      return nullptr;
    }
    ++elements;
    auto t = read_types(doc, j, path, {"Array", "Enum", "Map", "Object"}, itf.cx, true);
    check_element_id(doc, j, path, lim);
    check_texts(doc, j, path, lim);
    auto out = std::make_shared<schema>();
    if (t.material == "Array") {
      check_members(doc, j, path, {"@id", "@type", "comment", "description", "displayName", "elementSchema"}, t.informal);
      if (in_property && !lim.property_array_allowed) {
        add(doc, "schema-not-allowed", path, "a DTDL v2 Property cannot hold an Array");
        return nullptr;
      }
      out->k = schema::kind::array;
      auto e = j.find("elementSchema");
      if (e == j.end()) {
        add(doc, "missing-property", path + "/elementSchema", "an Array needs 'elementSchema'");
        return nullptr;
      }
      out->element = build_schema(*e, path + "/elementSchema", itf, elements, in_property);
      return out->element ? out : nullptr;
    }
    if (t.material == "Enum") {
      check_members(doc, j, path, {"@id", "@type", "comment", "description", "displayName", "enumValues", "valueSchema"}, t.informal);
      out->k = schema::kind::enumeration;
      auto vs = j.find("valueSchema");
      schema::kind vk = schema::kind::string;
      bool vk_ok = false;
      if (vs == j.end()) {
        add(doc, "missing-property", path + "/valueSchema", "an Enum needs 'valueSchema'");
      } else {
        bool v4 = false;
        if (vs->is_string() && detail::primitive_kind(vs->get_ref<const std::string&>(), vk, v4, itf.cx.version)
            && (vk == schema::kind::integer || vk == schema::kind::string))
          vk_ok = true;
        else
          add(doc, "enum-value-schema", path + "/valueSchema",
              "an Enum's valueSchema must be integer or string");
      }
      out->enum_value_kind = vk;
      auto ev = j.find("enumValues");
      bool bad = !vk_ok;
      if (ev == j.end()) {
        if (lim.enum_needs_values) {
          add(doc, "missing-property", path + "/enumValues", "a DTDL v2 Enum needs enumValues");
          bad = true;
        }
      } else if (!ev->is_array() && !ev->is_object()) {
        add(doc, "member-type", path + "/enumValues", "'enumValues' must be an array");
        bad = true;
      } else {
        auto xs = as_items(*ev);
        if (lim.enum_values_max && xs.size() > lim.enum_values_max)
          add(doc, "contents-limit", path + "/enumValues",
              "more than " + std::to_string(lim.enum_values_max) + " enumValues (DTDL v2)");
        if (lim.enum_needs_values && xs.size() == 0) {
          add(doc, "missing-property", path + "/enumValues", "a DTDL v2 Enum needs enumValues");
          bad = true;
        }
        std::unordered_set<std::string> names, values;
        for (std::size_t i = 0; i < xs.size(); ++i) {
          const json& x = xs.at(i);
          std::string xp = xs.path(path + "/enumValues", i);
          ++elements;
          if (!x.is_object()) {
            add(doc, "member-type", xp, "an EnumValue must be an object");
            bad = true;
            continue;
          }
          auto et = read_types(doc, x, xp, {"EnumValue"}, itf.cx, false);
          check_members(doc, x, xp, {"@id", "@type", "comment", "description", "displayName", "enumValue", "name"}, et.informal);
          check_element_id(doc, x, xp, lim);
          check_texts(doc, x, xp, lim);
          auto name = check_name(doc, x, xp, lim);
          if (!name.empty() && !names.insert(name).second) {
            add(doc, "enum-duplicate", xp + "/name", "enum name '" + name + "' is used twice");
            bad = true;
          }
          auto v = x.find("enumValue");
          if (v == x.end()) {
            add(doc, "missing-property", xp + "/enumValue", "an EnumValue needs 'enumValue'");
            bad = true;
            continue;
          }
          const json& lv = literal(*v);
          bool type_ok = vk == schema::kind::integer
                           ? (lv.is_number_integer() && lv.get<std::int64_t>() >= INT32_MIN
                              && lv.get<std::int64_t>() <= INT32_MAX)
                           : lv.is_string();
          if (vk_ok && !type_ok) {
            add(doc, "enum-value-type", xp + "/enumValue",
                std::string{"enumValue must be "} + (vk == schema::kind::integer ? "an integer" : "a string"));
            bad = true;
            continue;
          }
          if (!values.insert(lv.dump()).second) {
            add(doc, "enum-duplicate", xp + "/enumValue", "enumValue " + lv.dump() + " is used twice");
            bad = true;
          }
          out->enum_values.emplace_back(name, lv);
        }
      }
      return bad ? nullptr : out;
    }
    if (t.material == "Map") {
      check_members(doc, j, path, {"@id", "@type", "comment", "description", "displayName", "mapKey", "mapValue"}, t.informal);
      out->k = schema::kind::map;
      bool bad = false;
      auto mk = j.find("mapKey");
      if (mk == j.end() || !mk->is_object()) {
        add(doc, mk == j.end() ? "missing-property" : "member-type", path + "/mapKey",
            "a Map needs a 'mapKey' object");
        bad = true;
      } else {
        std::string kp = path + "/mapKey";
        ++elements;
        auto kt = read_types(doc, *mk, kp, {"MapKey"}, itf.cx, false);
        check_members(doc, *mk, kp, {"@id", "@type", "comment", "description", "displayName", "name", "schema"}, kt.informal);
        check_element_id(doc, *mk, kp, lim);
        check_texts(doc, *mk, kp, lim);
        check_name(doc, *mk, kp, lim);
        auto ks = mk->find("schema");
        schema::kind kk;
        bool v4 = false;
        if (ks == mk->end()) {
          add(doc, "missing-property", kp + "/schema", "a MapKey needs 'schema'");
          bad = true;
        } else if (!ks->is_string() || !detail::primitive_kind(ks->get_ref<const std::string&>(), kk, v4, itf.cx.version)
                   || kk != schema::kind::string) {
          add(doc, "map-key-schema", kp + "/schema", "a MapKey's schema must be string");
          bad = true;
        }
      }
      auto mv = j.find("mapValue");
      if (mv == j.end() || !mv->is_object()) {
        add(doc, mv == j.end() ? "missing-property" : "member-type", path + "/mapValue",
            "a Map needs a 'mapValue' object");
        return nullptr;
      }
      std::string vp = path + "/mapValue";
      ++elements;
      auto vt = read_types(doc, *mv, vp, {"MapValue"}, itf.cx, false);
      check_members(doc, *mv, vp, {"@id", "@type", "comment", "description", "displayName", "name", "schema", "unit"}, vt.informal || !vt.semantic.empty());
      check_element_id(doc, *mv, vp, lim);
      check_texts(doc, *mv, vp, lim);
      check_name(doc, *mv, vp, lim);
      auto vs = mv->find("schema");
      if (vs == mv->end()) {
        add(doc, "missing-property", vp + "/schema", "a MapValue needs 'schema'");
        return nullptr;
      }
      out->element = build_schema(*vs, vp + "/schema", itf, elements, in_property);
      check_semantic(doc, *mv, vp, vt, out->element, nullptr);
      return bad || !out->element ? nullptr : out;
    }
    if (t.material == "Object") {
      check_members(doc, j, path, {"@id", "@type", "comment", "description", "displayName", "fields"}, t.informal);
      out->k = schema::kind::object;
      bool bad = false;
      auto fs = j.find("fields");
      if (fs == j.end()) {
        if (lim.object_needs_fields) {
          add(doc, "missing-property", path + "/fields", "a DTDL v2 Object needs fields");
          bad = true;
        }
      } else if (!fs->is_array() && !fs->is_object()) {
        add(doc, "member-type", path + "/fields", "'fields' must be an array");
        bad = true;
      } else {
        auto xs = as_items(*fs);
        if (lim.fields_max && xs.size() > lim.fields_max)
          add(doc, "contents-limit", path + "/fields",
              "more than " + std::to_string(lim.fields_max) + " fields (DTDL v2)");
        if (lim.object_needs_fields && xs.size() == 0) {
          add(doc, "missing-property", path + "/fields", "a DTDL v2 Object needs fields");
          bad = true;
        }
        std::unordered_set<std::string> names;
        for (std::size_t i = 0; i < xs.size(); ++i) {
          const json& x = xs.at(i);
          std::string xp = xs.path(path + "/fields", i);
          ++elements;
          if (!x.is_object()) {
            add(doc, "member-type", xp, "a Field must be an object");
            bad = true;
            continue;
          }
          auto ft = read_types(doc, x, xp, {"Field"}, itf.cx, false);
          check_members(doc, x, xp, {"@id", "@type", "comment", "description", "displayName", "name", "schema", "unit"}, ft.informal || !ft.semantic.empty());
          check_element_id(doc, x, xp, lim);
          check_texts(doc, x, xp, lim);
          auto name = check_name(doc, x, xp, lim);
          if (!name.empty() && !names.insert(name).second) {
            add(doc, "duplicate-name", xp + "/name", "field '" + name + "' is declared twice");
            bad = true;
          }
          auto s = x.find("schema");
          if (s == x.end()) {
            add(doc, "missing-property", xp + "/schema", "a Field needs 'schema'");
            bad = true;
            continue;
          }
          auto fsch = build_schema(*s, xp + "/schema", itf, elements, in_property);
          check_semantic(doc, x, xp, ft, fsch, nullptr);
          if (!fsch) {
            bad = true;
            continue;
          }
          out->fields.emplace_back(name, fsch);
        }
      }
      return bad ? nullptr : out;
    }
    return nullptr; // unknown-type already reported
  }

  void build_contents(raw_itf& r) {
    std::size_t doc = r.doc;
    const limits& lim = *r.cx.lim;
    const json& j = *r.j;
    // Reusable schemas are checked whether used or not.
    for (auto& [id, def] : r.local_schemas) {
      if (def.owner != &r)
        continue;
      auto s = resolve_schema_ref(id, def.path, r);
      if (s && schema_depth(*s) > lim.schema_depth_max)
        add(doc, "schema-depth", def.path,
            "complex schemas nest deeper than " + std::to_string(lim.schema_depth_max)
              + " levels");
    }
    auto it = j.find("contents");
    if (it == j.end())
      return;
    std::string cp = r.path + "/contents";
    if (!it->is_array() && !it->is_object()) {
      add(doc, "member-type", cp, "'contents' must be an array");
      return;
    }
    auto xs = as_items(*it);
    std::unordered_map<std::string, std::string> names; // name -> path
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const json& x = xs.at(i);
      std::string p = xs.path(cp, i);
      if (!x.is_object()) {
        add(doc, "member-type", p, "a content element must be an object");
        continue;
      }
      auto t = read_types(doc, x, p,
                          {"Property", "Telemetry", "Command", "Component", "Relationship"},
                          r.cx, true);
      if (t.material.empty())
        continue;
      content_info ci;
      ci.path = p;
      ci.c.declared_in = r.id;
      ci.c.semantic_type = t.semantic;
      ci.c.name = check_name(doc, x, p, lim);
      check_element_id(doc, x, p, lim);
      check_texts(doc, x, p, lim);
      if (!ci.c.name.empty()) {
        auto [pos, fresh] = names.emplace(ci.c.name, p);
        if (!fresh)
          add(doc, "duplicate-name", p + "/name",
              "'" + ci.c.name + "' is already declared at " + pos->second);
      }
      bool ok = build_content(r, x, p, t, ci, i);
      r.own_elements += ci.elements;
      if (ok && !ci.c.name.empty())
        r.own.push_back(std::move(ci));
    }
  }

  bool check_writable(std::size_t doc, const json& x, const std::string& p, bool& out) {
    auto w = x.find("writable");
    if (w == x.end())
      return true;
    const json& v = literal(*w);
    if (!v.is_boolean()) {
      add(doc, "member-type", p + "/writable", "'writable' must be a boolean");
      return false;
    }
    out = v.get<bool>();
    return true;
  }

  // A value schema of a Property/Telemetry/CommandRequest/Field...; checks
  // nesting depth at the element.
  schema_ptr value_schema(raw_itf& r, const json& x, const std::string& p,
                          std::size_t& elements, bool in_property, bool required = true) {
    auto s = x.find("schema");
    if (s == x.end()) {
      if (required)
        add(r.doc, "missing-property", p + "/schema", "'schema' is required");
      return nullptr;
    }
    auto sp = build_schema(*s, p + "/schema", r, elements, in_property);
    if (sp && schema_depth(*sp) > r.cx.lim->schema_depth_max) {
      add(r.doc, "schema-depth", p + "/schema",
          "complex schemas nest deeper than " + std::to_string(r.cx.lim->schema_depth_max)
            + " levels (DTDL v" + std::to_string(r.cx.version) + ")");
      return nullptr;
    }
    return sp;
  }

  bool build_property(raw_itf& r, const json& x, const std::string& p,
                      const element_types& t, content_info& ci) {
    check_members(r.doc, x, p, {"@id", "@type", "comment", "description", "displayName", "name", "schema", "writable", "unit"},
                  t.informal || !t.semantic.empty());
    ci.c.kind = content_kind::property;
    bool ok = check_writable(r.doc, x, p, ci.c.writable);
    ci.c.value_schema = value_schema(r, x, p, ci.elements, true);
    check_semantic(r.doc, x, p, t, ci.c.value_schema, &ci.c.unit);
    return ok && ci.c.value_schema;
  }

  bool build_content(raw_itf& r, const json& x, const std::string& p,
                     const element_types& t, content_info& ci, std::size_t index) {
    std::size_t doc = r.doc;
    const limits& lim = *r.cx.lim;
    if (t.material == "Property")
      return build_property(r, x, p, t, ci);
    if (t.material == "Telemetry") {
      check_members(doc, x, p, {"@id", "@type", "comment", "description", "displayName", "name", "schema", "unit"},
                    t.informal || !t.semantic.empty());
      ci.c.kind = content_kind::telemetry;
      ci.c.value_schema = value_schema(r, x, p, ci.elements, false);
      check_semantic(doc, x, p, t, ci.c.value_schema, &ci.c.unit);
      return static_cast<bool>(ci.c.value_schema);
    }
    if (!t.semantic.empty())
      add(doc, "reserved-word", p + "/@type",
          "a " + t.material + " cannot have a semantic type");
    if (t.material == "Command") {
      if (lim.version == 2)
        check_members(doc, x, p, {"@id", "@type", "comment", "description", "displayName", "name", "request", "response", "commandType"}, t.informal);
      else
        check_members(doc, x, p, {"@id", "@type", "comment", "description", "displayName", "name", "request", "response"}, t.informal);
      ci.c.kind = content_kind::command;
      if (auto ct = x.find("commandType"); ct != x.end() && lim.version == 2
          && !(*ct == "synchronous" || *ct == "asynchronous"))
        add(doc, "member-type", p + "/commandType", "commandType must be synchronous or asynchronous");
      bool ok = true;
      for (const char* member : {"request", "response"}) {
        auto m = x.find(member);
        if (m == x.end())
          continue;
        std::string mp = p + "/" + member;
        if (!m->is_object()) {
          add(doc, "member-type", mp, std::string{"'"} + member + "' must be an object");
          ok = false;
          continue;
        }
        bool is_req = std::string_view{member} == "request";
        std::string cls = lim.version == 2 ? "CommandPayload" : is_req ? "CommandRequest" : "CommandResponse";
        auto mt = read_types(doc, *m, mp, {cls}, r.cx, false);
        if (lim.version >= 3 && !is_req)
          check_members(doc, *m, mp, {"@id", "@type", "comment", "description", "displayName", "name", "schema", "unit", "nullable"}, mt.informal || !mt.semantic.empty());
        else
          check_members(doc, *m, mp, {"@id", "@type", "comment", "description", "displayName", "name", "schema", "unit"}, mt.informal || !mt.semantic.empty());
        check_element_id(doc, *m, mp, lim);
        check_texts(doc, *m, mp, lim);
        check_name(doc, *m, mp, lim);
        ++ci.elements;
        auto s = value_schema(r, *m, mp, ci.elements, false);
        check_semantic(doc, *m, mp, mt, s, nullptr);
        if (!s) {
          ok = false;
          continue;
        }
        (is_req ? ci.c.value_schema : ci.c.response_schema) = s;
      }
      return ok;
    }
    if (t.material == "Component") {
      check_members(doc, x, p, {"@id", "@type", "comment", "description", "displayName", "name", "schema"}, t.informal);
      ci.c.kind = content_kind::component;
      auto s = x.find("schema");
      if (s == x.end()) {
        add(doc, "missing-property", p + "/schema", "a Component needs 'schema'");
        return false;
      }
      if (s->is_object()) {
        auto in = r.inline_components.find(index);
        if (in == r.inline_components.end())
          return false; // errors reported when parsing the inline Interface
        ci.c.component_interface = dtmi{in->second};
        return true;
      }
      auto id = check_dtmi_value(doc, *s, p + "/schema", lim, lim.interface_id_max, false, true);
      if (id.empty())
        return false;
      ci.c.component_interface = dtmi{id};
      return true;
    }
    // Relationship
    check_members(doc, x, p, {"@id", "@type", "comment", "description", "displayName", "name", "maxMultiplicity", "minMultiplicity", "properties", "target", "writable"}, t.informal);
    ci.c.kind = content_kind::relationship;
    bool ok = true;
    if (auto m = x.find("minMultiplicity"); m != x.end()) {
      const json& v = literal(*m);
      if (!v.is_number_integer() || v.get<std::int64_t>() != 0) {
        add(doc, "multiplicity", p + "/minMultiplicity",
            "minMultiplicity must be 0 (DTDL v" + std::to_string(lim.version) + ")");
        ok = false;
      }
    }
    if (auto m = x.find("maxMultiplicity"); m != x.end()) {
      const json& v = literal(*m);
      if (!v.is_number_integer() || v.get<std::int64_t>() < 1
          || v.get<std::int64_t>() > INT32_MAX
          || (lim.max_multiplicity_max && v.get<std::uint64_t>() > lim.max_multiplicity_max)) {
        add(doc, "multiplicity", p + "/maxMultiplicity",
            lim.max_multiplicity_max ? "maxMultiplicity must be 1..500 (DTDL v2)"
                                     : "maxMultiplicity must be an integer >= 1");
        ok = false;
      } else {
        ci.c.max_multiplicity = v.get<std::uint64_t>();
      }
    }
    bool ignored = false;
    ok = check_writable(doc, x, p, ignored) && ok;
    if (auto tg = x.find("target"); tg != x.end()) {
      auto id = check_dtmi_value(doc, *tg, p + "/target", lim, lim.id_max, false, false);
      if (id.empty())
        ok = false;
      else
        ci.c.target = dtmi{id};
    }
    if (auto ps = x.find("properties"); ps != x.end()) {
      std::string pp = p + "/properties";
      if (!ps->is_array() && !ps->is_object()) {
        add(doc, "member-type", pp, "'properties' must be an array of Properties");
        return false;
      }
      auto xs = as_items(*ps);
      if (lim.rel_properties_max && xs.size() > lim.rel_properties_max)
        add(doc, "contents-limit", pp, "more than 300 Relationship properties (DTDL v2)");
      std::unordered_set<std::string> names;
      for (std::size_t i = 0; i < xs.size(); ++i) {
        const json& y = xs.at(i);
        std::string yp = xs.path(pp, i);
        ++ci.elements;
        if (!y.is_object()) {
          add(doc, "member-type", yp, "a Relationship property must be an object");
          ok = false;
          continue;
        }
        auto yt = read_types(doc, y, yp, {"Property"}, r.cx, true);
        if (yt.material.empty()) {
          ok = false;
          continue;
        }
        content_info pi;
        pi.c.name = check_name(doc, y, yp, lim);
        check_element_id(doc, y, yp, lim);
        check_texts(doc, y, yp, lim);
        if (!pi.c.name.empty() && !names.insert(pi.c.name).second) {
          add(doc, "duplicate-name", yp + "/name", "property '" + pi.c.name + "' is declared twice");
          ok = false;
        }
        ok = build_property(r, y, yp, yt, pi) && ok;
        ci.elements += pi.elements - 1;
      }
    }
    return ok;
  }

  // ---- phase 3: extends and components ------------------------------------
  int known_depth(const interface& itf, std::unordered_set<std::string>& ancestors,
                  int guard = 0) {
    if (guard > 64)
      return guard;
    int d = 0;
    for (const auto& e : itf.extends) {
      ancestors.insert(e.value());
      if (auto k = known_ ? known_->find(e) : nullptr)
        d = std::max(d, 1 + known_depth(*k, ancestors, guard + 1));
      else
        d = std::max(d, 1);
    }
    return d;
  }

  std::size_t known_elements(const interface& itf, const std::string& origin) {
    std::size_t n = 0;
    for (const auto& c : itf.contents)
      if (c.declared_in == origin || (c.declared_in.empty() && origin == itf.id.value()))
        n += 1 + (c.value_schema ? count_schema(*c.value_schema) : 0)
             + (c.response_schema ? count_schema(*c.response_schema) : 0);
    return n;
  }

  static std::size_t count_schema(const schema& s, int guard = 0) {
    if (guard > 64)
      return 0;
    switch (s.k) {
      case schema::kind::object: {
        std::size_t n = 1;
        for (const auto& f : s.fields)
          n += 1 + (f.second ? count_schema(*f.second, guard + 1) : 0);
        return n;
      }
      case schema::kind::enumeration:
        return 1 + s.enum_values.size();
      case schema::kind::map:
        return 3 + (s.element ? count_schema(*s.element, guard + 1) : 0);
      case schema::kind::array:
        return 1 + (s.element ? count_schema(*s.element, guard + 1) : 0);
      default:
        return 0;
    }
  }

  void resolve(raw_itf& r) {
    if (r.state != 0)
      return;
    r.state = 1;
    std::size_t doc = r.doc;
    const limits& lim = *r.cx.lim;
    std::vector<content> inherited;
    std::unordered_map<std::string, std::string> origin_of; // name -> declared_in
    bool failed = false;
    auto inherit = [&](const content& c, const std::string& at) {
      auto [pos, fresh] = origin_of.emplace(c.name, c.declared_in);
      if (fresh) {
        inherited.push_back(c);
      } else if (pos->second != c.declared_in) {
        add(doc, "duplicate-name", at,
            "'" + c.name + "' is inherited from both " + pos->second + " and "
              + c.declared_in);
        failed = true;
      }
    };
    for (const auto& [pid, ppath] : r.extends) {
      auto it = by_id_.find(pid);
      if (it != by_id_.end()) {
        raw_itf& p = *it->second;
        if (p.state == 1) {
          add(doc, "extends-cycle", ppath,
              "'" + r.id + "' extends '" + pid + "', which leads back to it");
          failed = true;
          continue;
        }
        resolve(p);
        if (r.cx.version == 2 && p.cx.version > 2)
          add(doc, "version-mismatch", ppath,
              "a DTDL v2 Interface cannot extend a DTDL v" + std::to_string(p.cx.version)
                + " Interface");
        r.depth = std::max(r.depth, p.depth + 1);
        r.ancestors.insert(pid);
        r.ancestors.insert(p.ancestors.begin(), p.ancestors.end());
        for (const auto& c : p.flat)
          inherit(c, ppath);
        r.has_component = r.has_component || p.has_component;
      } else if (auto k = known_ ? known_->find(dtmi{pid}) : nullptr) {
        if (r.cx.version == 2 && k->dtdl_version > 2)
          add(doc, "version-mismatch", ppath,
              "a DTDL v2 Interface cannot extend a DTDL v"
                + std::to_string(k->dtdl_version) + " Interface");
        r.ancestors.insert(pid);
        r.depth = std::max(r.depth, 1 + known_depth(*k, r.ancestors));
        for (const auto& c : k->contents) {
          content cc = c;
          if (cc.declared_in.empty())
            cc.declared_in = pid;
          if (cc.kind == content_kind::component)
            r.has_component = true;
          inherit(cc, ppath);
        }
      } else {
        add(doc, "unresolved-reference", ppath,
            "extended Interface '" + pid + "' is not in the set or the registry");
        failed = true;
      }
    }
    if (r.depth > lim.extends_depth_max)
      add(doc, "extends-depth", r.path + "/extends",
          "inheritance is " + std::to_string(r.depth) + " levels deep; at most "
            + std::to_string(lim.extends_depth_max) + " (DTDL v"
            + std::to_string(lim.version) + ")");
    if (lim.extends_total_max && r.ancestors.size() > lim.extends_total_max)
      add(doc, "extends-limit", r.path + "/extends",
          std::to_string(r.ancestors.size()) + " Interfaces in the extends hierarchy; at most "
            + std::to_string(lim.extends_total_max));
    // Own contents: name clashes with inherited ones, components.
    for (auto& ci : r.own) {
      if (auto o = origin_of.find(ci.c.name); o != origin_of.end()) {
        add(doc, "duplicate-name", ci.path + "/name",
            "'" + ci.c.name + "' is also declared by the inherited " + o->second);
        failed = true;
        continue;
      }
      if (ci.c.kind == content_kind::component)
        resolve_component(r, ci);
    }
    r.flat = std::move(inherited);
    for (auto& ci : r.own) {
      if (origin_of.count(ci.c.name))
        continue;
      if (ci.c.kind == content_kind::component)
        r.has_component = true;
      r.flat.push_back(ci.c);
    }
    // Contents limits.
    if (lim.contents_max && r.flat.size() > lim.contents_max)
      add(doc, "contents-limit", r.path + "/contents",
          std::to_string(r.flat.size()) + " contents including inherited; at most "
            + std::to_string(lim.contents_max) + " (DTDL v2)");
    if (lim.elements_max) {
      std::size_t total = r.own_elements;
      for (const auto& a : r.ancestors) {
        if (auto it = by_id_.find(a); it != by_id_.end())
          total += it->second->own_elements;
        else if (auto k = known_ ? known_->find(dtmi{a}) : nullptr)
          total += known_elements(*k, a);
      }
      if (total > lim.elements_max)
        add(doc, "contents-limit", r.path + "/contents",
            std::to_string(total) + " elements in the contents hierarchy; at most "
              + std::to_string(lim.elements_max));
    }
    r.state = 2;
    (void) failed;
    if (!res_.documents[doc].errors.empty())
      return; // the set is rejected: no resolved Interface is needed
    auto out = std::make_shared<interface>();
    out->id = dtmi{r.id};
    out->dtdl_version = r.cx.version;
    out->source = *r.j;
    out->contents = r.flat;
    for (const auto& e : r.extends)
      out->extends.emplace_back(e.first);
    r.result = std::move(out);
  }

  void resolve_component(raw_itf& r, content_info& ci) {
    const auto& cid = ci.c.component_interface->value();
    std::string sp = ci.path + "/schema";
    const limits& lim = *r.cx.lim;
    if (auto it = by_id_.find(cid); it != by_id_.end()) {
      raw_itf& c = *it->second;
      if (c.state == 1) {
        add(r.doc, "component-cycle", sp,
            "component '" + ci.c.name + "' leads back to '" + r.id + "'");
        return;
      }
      resolve(c);
      if (r.cx.version == 2 && c.cx.version > 2)
        add(r.doc, "version-mismatch", sp,
            "a DTDL v2 Interface cannot hold a DTDL v" + std::to_string(c.cx.version)
              + " Interface as a component");
      if (!lim.component_nesting && c.has_component)
        add(r.doc, "component-nesting", sp,
            "'" + cid + "' has components itself; DTDL v3 does not nest components");
      ci.c.resolved_component = c.result;
      return;
    }
    if (auto k = known_ ? known_->find(dtmi{cid}) : nullptr) {
      if (r.cx.version == 2 && k->dtdl_version > 2)
        add(r.doc, "version-mismatch", sp,
            "a DTDL v2 Interface cannot hold a DTDL v" + std::to_string(k->dtdl_version)
              + " Interface as a component");
      if (!lim.component_nesting)
        for (const auto& c : k->contents)
          if (c.kind == content_kind::component) {
            add(r.doc, "component-nesting", sp,
                "'" + cid + "' has components itself; DTDL v3 does not nest components");
            break;
          }
      ci.c.resolved_component = k;
      return;
    }
    if (global_schemas_.count(cid))
      add(r.doc, "schema-not-allowed", sp, "'" + cid + "' is a schema, not an Interface");
    else
      add(r.doc, "unresolved-reference", sp,
          "component Interface '" + cid + "' is not in the set or the registry");
  }

  const std::vector<document>& docs_;
  const resolver* known_;
  validation_result res_;
  std::vector<std::unique_ptr<raw_itf>> itfs_;
  std::unordered_map<std::string, raw_itf*> by_id_;
  std::unordered_map<std::string, schema_def> global_schemas_;
};

} // namespace

validation_result validate(const std::vector<document>& docs, const resolver* known) {
  return validator{docs, known}.run();
}

} // namespace twin::model
