#pragma once
// `twinctl behaviour attach|detach|list`: behaviour bindings of a twin
// (PUT/DELETE /api/v1/twins/{id}/behaviours/{name}, "$behaviours" of GET).

#include <functional>

#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace twinctl {

void add_behaviour_commands(CLI::App& app,
                            std::function<int(const std::function<session&()>&)>& run);

} // namespace twinctl
