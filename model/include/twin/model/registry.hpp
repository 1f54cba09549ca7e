#pragma once
// The model registry: immutable models keyed by DTMI. Thread-safe (a
// shared_mutex; reads are concurrent). Storage is the caller's job: the
// registry is loaded from and written through the store by the node.

#include <functional>
#include <shared_mutex>
#include <unordered_map>

#include "twin/model/dtdl.hpp"

namespace twin::model {

class registry final : public resolver {
public:
  /// Validates `docs` as one set against the registered models and, if all
  /// are valid, registers them. A DTMI that is already registered is
  /// refused (already_exists, rule "model-immutable"): models are immutable,
  /// a new version is a new DTMI. Nothing is registered on any error.
  /// Returns the registered interfaces, or the first error; `verdicts`
  /// (if non-null) receives every document's verdict.
  expected<std::vector<interface_ptr>>
  add(const std::vector<document>& docs,
      std::vector<document_verdict>* verdicts = nullptr);

  /// Registers an already-validated interface (used when loading the store).
  void put(interface_ptr itf);

  interface_ptr find(const dtmi& id) const override;
  std::vector<interface_ptr> list() const;

  /// Removes a model unless `in_use(id)` says twins use it (model_in_use)
  /// or another model references it (model_in_use). not_found if absent.
  status remove(const dtmi& id, const std::function<bool(const dtmi&)>& in_use);

private:
  mutable std::shared_mutex mtx_;
  std::unordered_map<std::string, interface_ptr> models_;
};

} // namespace twin::model
