// The ossrt subcommands; each returns the process exit code.
#pragma once

#include "flags.h"

namespace ossrt_cli {

int run_info(const Flags& flags);
int run_generate(const Flags& flags);
int run_tokenize(int argc, char** argv);
int run_detokenize(int argc, char** argv);
int run_chat(const Flags& flags);
int run_make_checkpoint(const Flags& flags);
int run_bench(const Flags& flags);

}  // namespace ossrt_cli
