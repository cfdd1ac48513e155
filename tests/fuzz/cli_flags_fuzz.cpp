// libFuzzer target for the CLI's command lines: the first byte picks a
// subcommand of the command table, the rest, split at NUL bytes, is its argv.
// Parsing returns a verdict, never crashes or hangs, and what it accepts the
// typed readers read back (a value the parser let through that a reader
// refuses traps); the shared readers (sampling, numerics, synthetic shapes)
// and the chat's command-line splitting run on what is accepted.
#include <cstdint>
#include <string>
#include <vector>

#include "command_table.h"
#include "flags.h"
#include "slash_commands.h"

namespace {

using namespace ossrt_cli;

// Every flag the parser accepted reads back as its kind.
void check_readers(const CommandSpec& spec, const ParsedFlags& flags) {
  std::vector<FlagSpec> all = spec.flags;
  if (spec.operand) all.push_back(*spec.operand);
  for (const FlagSpec& flag : all) {
    if (!flags.has(flag.name)) continue;
    bool readable = flags.text(flag.name).has_value();
    switch (flag.kind) {
      case ValueKind::count:
        readable = flags.count(flag.name).has_value();
        break;
      case ValueKind::positive:
        readable = flags.count(flag.name).value_or(0) >= 1;
        break;
      case ValueKind::real:
        readable = flags.real(flag.name).has_value();
        break;
      case ValueKind::ids:
        readable = flags.ids(flag.name).has_value();
        break;
      case ValueKind::none:
      case ValueKind::text:
      case ValueKind::choice:
        break;
    }
    if (!readable) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto specs = command_specs();
  const CommandSpec& spec = specs[data[0] % specs.size()];
  std::vector<std::string> words{"ossrt", spec.name};
  words.emplace_back();
  for (size_t i = 1; i < size && words.size() < 64; ++i) {
    if (data[i] == 0)
      words.emplace_back();
    else
      words.back() += static_cast<char>(data[i]);
  }
  std::vector<const char*> argv;
  for (const std::string& w : words) argv.push_back(w.c_str());
  (void)split_slash_line(words.back());
  ParsedFlags flags(spec);
  std::string error;
  const ParseOutcome outcome = parse_command_line(spec, static_cast<int>(argv.size()), argv.data(), 2, flags, error);
  if (outcome == ParseOutcome::usage_error && error.empty()) __builtin_trap();  // a refusal always says why
  if (outcome != ParseOutcome::ok) return 0;
  check_readers(spec, flags);
  (void)sampler_from_flags(flags);
  (void)numerics_from_flags(flags);
  for (const char* source : {"preset", "synthetic"}) {
    if (auto preset = flags.text(source)) {
      size_t seed = 0;
      (void)synthetic_config_from_flags(flags, *preset, seed);
    }
  }
  return 0;
}
