// Command-line parsing shared by the ossrt subcommands.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ossrt/ossrt.hpp"

namespace ossrt_cli {

// --name VALUE pairs; switches (names in `switches`) take no value and map to "1".
using Flags = std::map<std::string, std::string>;
bool parse_flags(int argc, char** argv, int first, Flags& flags, const std::set<std::string>& switches = {});

bool parse_size(const std::string& text, size_t& out);
bool parse_ids(const std::string& text, std::vector<ossrt::TokenId>& out);
std::string join_ids(const std::vector<ossrt::TokenId>& ids);

// Reads the sampling flags (--temperature --top-k --top-p --min-p --seed)
// over `options`; false (after printing why) on a malformed value.
bool parse_sampling(const Flags& flags, const char* command, ossrt::SamplerOptions& options);

// The configuration of synthetic preset `preset` with --layers N applied, and
// --seed S (default 1). Returns 0, or the exit code after printing why.
int parse_synthetic(const Flags& flags, const std::string& preset, const char* command, ossrt::ModelConfig& config,
                    size_t& seed);

// Reads --numerics exact|fast (default exact) into `options`; false (after
// printing why) on another value.
bool parse_numerics(const Flags& flags, const char* command, ossrt::SessionOptions& options);

// Prints "ossrt: <status>" to stderr and returns 1.
int fail(const ossrt::Status& status);

// Loads --model DIR with `options`.
ossrt::Result<std::shared_ptr<const ossrt::Model>> load_model(const Flags& flags,
                                                              const ossrt::ModelOptions& options = {});

}  // namespace ossrt_cli
