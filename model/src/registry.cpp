// The model registry. One shared_mutex guards the map; add() holds it
// exclusively for the whole validate-then-insert so two concurrent uploads
// cannot both register the same DTMI or build on a model being removed.

#include <algorithm>
#include <mutex>

#include "twin/model/registry.hpp"

namespace twin::model {

namespace {

// Reads the map without locking: only used while the caller holds mtx_.
class locked_view final : public resolver {
public:
  explicit locked_view(const std::unordered_map<std::string, interface_ptr>& m)
    : models_(m) {}
  interface_ptr find(const dtmi& id) const override {
    auto it = models_.find(id.value());
    return it == models_.end() ? nullptr : it->second;
  }

private:
  const std::unordered_map<std::string, interface_ptr>& models_;
};

} // namespace

expected<std::vector<interface_ptr>>
registry::add(const std::vector<document>& docs,
              std::vector<document_verdict>* verdicts) {
  std::unique_lock lock{mtx_};
  locked_view view{models_};
  auto result = validate(docs, &view);
  // Immutability: a DTMI already registered is refused.
  std::optional<error> first_exists;
  auto check_exists = [&](std::size_t doc, const nlohmann::json& j, const std::string& p) {
    if (!j.is_object())
      return;
    auto id = j.find("@id");
    if (id == j.end() || !id->is_string())
      return;
    if (models_.count(id->get<std::string>())) {
      auto e = make_error(errc::already_exists,
                          "model '" + id->get<std::string>()
                            + "' already exists; models are immutable, publish a new version",
                          "model-immutable", p + "/@id");
      result.documents[doc].errors.push_back(e);
      if (!first_exists)
        first_exists = e;
    }
  };
  for (std::size_t d = 0; d < docs.size(); ++d) {
    const auto& j = docs[d].json;
    if (j.is_array())
      for (std::size_t i = 0; i < j.size(); ++i)
        check_exists(d, j[i], "/" + std::to_string(i));
    else
      check_exists(d, j, "");
  }
  if (verdicts)
    *verdicts = result.documents;
  if (first_exists)
    return *first_exists;
  for (const auto& d : result.documents)
    if (!d.valid())
      return d.errors.front();
  for (const auto& itf : result.interfaces)
    models_.emplace(itf->id.value(), itf);
  return std::move(result.interfaces);
}

void registry::put(interface_ptr itf) {
  if (!itf)
    return;
  std::unique_lock lock{mtx_};
  models_[itf->id.value()] = std::move(itf);
}

interface_ptr registry::find(const dtmi& id) const {
  std::shared_lock lock{mtx_};
  auto it = models_.find(id.value());
  return it == models_.end() ? nullptr : it->second;
}

std::vector<interface_ptr> registry::list() const {
  std::vector<interface_ptr> out;
  {
    std::shared_lock lock{mtx_};
    out.reserve(models_.size());
    for (const auto& [id, itf] : models_)
      out.push_back(itf);
  }
  std::sort(out.begin(), out.end(),
            [](const interface_ptr& a, const interface_ptr& b) { return a->id < b->id; });
  return out;
}

status registry::remove(const dtmi& id,
                        const std::function<bool(const dtmi&)>& in_use) {
  std::unique_lock lock{mtx_};
  auto it = models_.find(id.value());
  if (it == models_.end())
    return make_error(errc::not_found, "model '" + id.value() + "' does not exist");
  if (in_use && in_use(id))
    return make_error(errc::model_in_use,
                      "model '" + id.value() + "' is used by twins", "model-in-use");
  // Dependent references only: extends and components. A Relationship
  // target is a reference by DTMI and does not keep a model alive.
  for (const auto& [other_id, other] : models_) {
    if (other_id == id.value())
      continue;
    bool refers = std::find(other->extends.begin(), other->extends.end(), id)
                  != other->extends.end();
    for (const auto& c : other->contents) {
      if (refers)
        break;
      refers = c.kind == content_kind::component && c.component_interface
               && *c.component_interface == id;
    }
    if (refers)
      return make_error(errc::model_in_use,
                        "model '" + id.value() + "' is referenced by '" + other_id + "'",
                        "model-referenced");
  }
  models_.erase(it);
  return ok();
}

} // namespace twin::model
