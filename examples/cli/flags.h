// Readers of the flags several subcommands share (sampling, numerics,
// synthetic shapes, the model), and how a subcommand reports a failure.
#pragma once

#include <memory>
#include <string>

#include "command_line.h"
#include "ossrt/ossrt.hpp"

namespace ossrt_cli {

// The sampler of --temperature --top-k --top-p --min-p --seed. Failure:
// invalid_argument naming the option whose value is out of its range (a
// usage error: the values themselves were checked by the parser).
ossrt::Result<ossrt::Sampler> sampler_from_flags(const ParsedFlags& flags);

// --numerics exact|fast.
ossrt::Numerics numerics_from_flags(const ParsedFlags& flags);

// The configuration of synthetic preset `preset` with --layers applied, and
// --seed in `seed`. Failure: invalid_argument (an unknown preset; the message
// lists them).
ossrt::Result<ossrt::ModelConfig> synthetic_config_from_flags(const ParsedFlags& flags, const std::string& preset,
                                                              size_t& seed);

// The exit code of a runtime failure.
inline constexpr int kExitFailure = 1;

// Prints "ossrt: <status>" to stderr and returns kExitFailure.
int fail(const ossrt::Status& status);

// Loads --model DIR with `options` on --backend NAME where the command has
// that flag. Failure: Model::load's.
ossrt::Result<std::shared_ptr<const ossrt::Model>> load_model(const ParsedFlags& flags,
                                                              const ossrt::ModelOptions& options = {});

}  // namespace ossrt_cli
