#pragma once
// `twinctl fmu inspect|run`: offline FMU commands (no node needed), over
// the FMI host in behaviours/fmu.

#include <functional>

#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace twinctl {

/// Adds the `fmu` subcommand tree to `app`; a parsed command stores itself
/// in `run`. `g` supplies --output (table|json) at run time.
void add_fmu_commands(CLI::App& app, const globals& g,
                      std::function<int(const std::function<session&()>&)>& run);

} // namespace twinctl
