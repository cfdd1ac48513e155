// The ossrt subcommands: each runs on flags parsed against its CommandSpec
// (command_table.cpp) and returns the process exit code: 0 success, 1 a
// runtime failure, 2 a usage error, 3 generate's context filled first.
#pragma once

#include "flags.h"

namespace ossrt_cli {

// generate: the context filled before --max-tokens (every token generated is printed).
inline constexpr int kExitContextFull = 3;

int run_info(const ParsedFlags& flags);
int run_generate(const ParsedFlags& flags);
int run_tokenize(const ParsedFlags& flags);
int run_detokenize(const ParsedFlags& flags);
int run_chat(const ParsedFlags& flags);
int run_make_checkpoint(const ParsedFlags& flags);
int run_bench(const ParsedFlags& flags);
int run_estimate(const ParsedFlags& flags);
int run_serve(const ParsedFlags& flags);  // serve_command.cpp, or serve_unavailable.cpp without cpp-httplib

}  // namespace ossrt_cli
