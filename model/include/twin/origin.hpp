#pragma once
// The protocol provenance ("origin") of an event's lineage, in two parts: a
// feed's members that many events share (a Sparkplug device's group, edge
// node, device, message type), built once and referenced, and each event's
// own (seq, bdSeq). What the lineage shows is the two merged, the event's
// own winning on a clash. Keeping the shared part apart spares a feed
// building the same JSON members for every message.

#include <memory>

#include <nlohmann/json.hpp>

namespace twin {

/// Immutable once shared; null when there is none.
using shared_origin = std::shared_ptr<const nlohmann::json>;

/// Whether `base` is merged into `own` (else `own` alone is the origin):
/// there is a base, it is an object, and `own` is an object or null.
inline bool merges(const nlohmann::json& own, const shared_origin& base) noexcept {
  return base && base->is_object() && (own.is_object() || own.is_null());
}

/// `base`'s members with `own`'s over them, or `own` alone (see merges).
inline nlohmann::json merged_origin(const nlohmann::json& own, const shared_origin& base) {
  if (!merges(own, base))
    return own;
  nlohmann::json out = *base;
  if (own.is_object())
    for (const auto& [key, value] : own.items())
      out[key] = value;
  return out;
}

} // namespace twin
