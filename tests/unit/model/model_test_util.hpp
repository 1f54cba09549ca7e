#pragma once
// Helpers for the model tests: build documents, run validate, find rules.

#include <sstream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "twin/model/dtdl.hpp"

namespace model_test {

using json = nlohmann::json;
using namespace twin::model;

inline json v3ctx() { return "dtmi:dtdl:context;3"; }
inline json quant_ctx() {
  return json::array({"dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"});
}

inline json itf(json contents, std::string id = "dtmi:test:A;1", json ctx = v3ctx()) {
  return json{{"@context", ctx}, {"@id", id}, {"@type", "Interface"},
              {"contents", std::move(contents)}};
}

inline json prop(std::string name, json schema = "double", bool writable = false) {
  json p{{"@type", "Property"}, {"name", name}, {"schema", schema}};
  if (writable)
    p["writable"] = true;
  return p;
}

inline validation_result run(const json& doc, const resolver* known = nullptr) {
  return validate({document{"doc", doc}}, known);
}

inline validation_result run_set(const std::vector<json>& docs,
                                 const resolver* known = nullptr) {
  std::vector<document> ds;
  for (std::size_t i = 0; i < docs.size(); ++i)
    ds.push_back(document{"doc" + std::to_string(i), docs[i]});
  return validate(ds, known);
}

inline std::string dump(const validation_result& r) {
  std::ostringstream os;
  for (const auto& d : r.documents)
    for (const auto& e : d.errors)
      os << d.source << ": " << e.rule << " at " << e.path << ": " << e.message << "\n";
  return os.str();
}

inline bool has_rule(const validation_result& r, const std::string& rule,
                     const std::string& path = {}) {
  for (const auto& d : r.documents)
    for (const auto& e : d.errors)
      if (e.rule == rule && (path.empty() || e.path == path)
          && e.code == twin::errc::model_violation)
        return true;
  return false;
}

} // namespace model_test

#define CHECK_VALID(res)                                                      \
  BOOST_TEST((res).valid(), "expected valid, got:\n" << model_test::dump(res))

#define CHECK_REJECTED(res, rule, path)                                       \
  do {                                                                        \
    BOOST_TEST(!(res).valid());                                               \
    BOOST_TEST(model_test::has_rule((res), (rule), (path)),                   \
               "expected rule " << (rule) << " at '" << (path) << "', got:\n" \
                                << model_test::dump(res));                    \
    BOOST_TEST((res).interfaces.empty());                                     \
  } while (0)
