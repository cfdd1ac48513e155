// Every ossrt subcommand's flags, summary and details: the one place the
// command-line interface is declared (parsing and --help both read it).
#pragma once

#include <span>
#include <string_view>

#include "command_line.h"

namespace ossrt_cli {

// In the order `ossrt --help` lists them.
std::span<const CommandSpec> command_specs();
// The command named `name`, or null.
const CommandSpec* find_command_spec(std::string_view name);

}  // namespace ossrt_cli
