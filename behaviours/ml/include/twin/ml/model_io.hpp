#pragma once
// What every trained ML model carries, and the check that keeps a model on
// the twin model it was trained for.
//
// Every trained model serializes to one JSON object:
//
//   { "kind": "twin.ml.anomaly.mcd" | "twin.ml.forecast.holt" | "twin.ml.rul.degradation",
//     "format": 1,                       // layout of this document (format_version)
//     "version": "1.2.0",                // semver of the behaviour that trained it
//     "boundModel": "dtmi:com:example:Bearing;1",  // twin model, version required
//     "features": ["vibrationRms", ...], // inputs, in order
//     ...parameters of the kind... }
//
// The fabric stores this document with the twin; a behaviour loads it with
// the kind's from_json() (or load_model()) and, before every run, calls
// check_binding() with the twin's current model DTMI.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "twin/error.hpp"
#include "twin/model/dtdl.hpp"

namespace twin::ml {

/// Layout version of the model JSON written by this library ("format").
/// from_json accepts exactly this value.
inline constexpr int format_version = 1;

/// The `kind` strings.
inline constexpr std::string_view kind_anomaly_mcd = "twin.ml.anomaly.mcd";
inline constexpr std::string_view kind_forecast_holt = "twin.ml.forecast.holt";
inline constexpr std::string_view kind_rul_degradation = "twin.ml.rul.degradation";

/// A semantic version MAJOR.MINOR.PATCH (pre-release / build suffixes such as
/// "-rc.1" or "+abc" are accepted and kept in `text`, not compared).
struct semver {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::string text;
};

/// Parses "1.2.3" (no leading zeros, optional -pre/+build suffix).
/// Error: bad_request, rule "ml.version".
expected<semver> parse_semver(std::string_view text);

/// Which behaviour version trained a model, for which twin model.
struct model_binding {
  /// Semver of the behaviour that trains/runs the model.
  std::string behaviour_version = "1.0.0";
  /// The twin model the training data came from; must carry a version
  /// (";N"), since the binding is to one version.
  model::dtmi bound_model;
};

/// Checks a binding: semver version, DTMI syntax with a version.
/// Errors: bad_request, rule "ml.version" or "ml.bound-model".
status validate(const model_binding& binding);

/// The part every serialized model shares.
struct model_header {
  std::string kind;
  int format = format_version;
  model_binding binding;
  std::vector<std::string> features;
};

/// Reads and validates the shared part of a serialized model: an object with
/// a string kind, format == format_version, a valid binding, and a non-empty
/// array of distinct, non-empty feature names.
/// Errors: bad_request with rule "ml.model-json" (or the binding's rules) and
/// the JSON pointer of the offending field.
expected<model_header> read_header(const nlohmann::json& model_json);

/// Writes the shared part (kind, format, version, boundModel, features).
nlohmann::json write_header(const model_header& header);

/// The check a behaviour makes before running a stored model on a twin:
/// the model must have been trained for exactly `twin_model` (same DTMI path
/// and version; "dtmi:x:Bearing;1" refuses "dtmi:x:Bearing;2") and, when
/// `behaviour_version` is given, by a behaviour of the same semver major.
/// Errors:
///  - bad_request (rules of read_header) if the document is not a model;
///  - bad_request, rule "ml.bound-model", if `twin_model` is not a DTMI;
///  - model_violation, rule "ml.binding", path "/boundModel", on another
///    model or model version;
///  - model_violation, rule "ml.behaviour-version", path "/version", on
///    another major version of the behaviour.
status check_binding(const nlohmann::json& model_json, const model::dtmi& twin_model,
                     std::string_view behaviour_version = {});

/// Picks the named features, in order, out of a JSON object of properties
/// (e.g. a twin's state or a telemetry message). Errors: bad_request with
/// rule "ml.missing-feature" (path "/<name>") if one is absent or null,
/// "ml.feature-type" if one is not a number, "ml.non-finite" if not finite.
expected<std::vector<double>> extract_features(const nlohmann::json& properties,
                                               std::span<const std::string> features);

} // namespace twin::ml
