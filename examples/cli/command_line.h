// A subcommand's command line, declared once as a table of flags: the parser
// checks arguments against it and the usage text is printed from it, so the
// two cannot disagree.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ossrt/tokenizer.hpp"

namespace ossrt_cli {

// What a flag's value must be; the parser refuses anything else.
enum class ValueKind {
  none,      // a switch: present or absent, takes no value
  text,      // any string
  count,     // a non-negative integer (fits size_t)
  positive,  // an integer >= 1
  real,      // a finite decimal number
  ids,       // comma-separated token ids (each in [0, 2^31))
  choice,    // one of the '|'-separated words in value_name
};

struct FlagSpec {
  const char* name;  // without the leading "--"
  ValueKind kind;
  const char* value_name;  // after the flag in usage ("DIR", "N"); the choices for ValueKind::choice; null for switches
  const char* help;        // one line
  const char* default_value = nullptr;  // used when the flag is absent; shown in usage
  // Flags sharing a group name: exactly one of them must be given (a group of
  // one flag makes it required).
  const char* group = nullptr;
};

struct CommandSpec {
  const char* name;     // "generate"
  const char* summary;  // one line, for `ossrt --help`
  std::string details;  // more, for the command's own --help (lines ending in '\n'; may be empty)
  std::vector<FlagSpec> flags;
  // The one positional argument, if the command takes one (its value is read
  // under its name, like a flag's).
  std::optional<FlagSpec> operand;
};

enum class ParseOutcome {
  ok,           // `flags` holds the arguments
  help,         // --help or -h was given: print the usage, exit 0
  usage_error,  // `error` says what is wrong: print it and the usage, exit 2
};

// The values a command line gave, checked against its CommandSpec. The typed
// readers return the value given, else the flag's default, else nullopt; a
// value was validated when parsed, so they never fail otherwise.
class ParsedFlags {
 public:
  explicit ParsedFlags(const CommandSpec& spec) : spec_(&spec) {}
  const CommandSpec& spec() const { return *spec_; }
  bool has(std::string_view name) const { return given_.find(name) != given_.end(); }
  std::optional<std::string> text(std::string_view name) const;
  std::optional<size_t> count(std::string_view name) const;
  std::optional<double> real(std::string_view name) const;
  std::optional<std::vector<ossrt::TokenId>> ids(std::string_view name) const;

 private:
  friend ParseOutcome parse_command_line(const CommandSpec& spec, int argc, const char* const* argv, int first,
                                         ParsedFlags& flags, std::string& error);
  const FlagSpec* find(std::string_view name) const;
  const CommandSpec* spec_;
  std::map<std::string, std::string, std::less<>> given_;
};

// Parses argv[first..argc) as "--name VALUE", "--name=VALUE" (for a value
// that starts with "--"), switches "--name", the operand, and "--" (all that
// follows is the operand). Refuses unknown flags (suggesting the closest
// known one), a missing or malformed value, a flag given twice, a missing
// required flag or operand, and two flags of one group. Never throws.
ParseOutcome parse_command_line(const CommandSpec& spec, int argc, const char* const* argv, int first,
                                ParsedFlags& flags, std::string& error);

// The command's full usage (synopsis, details, one line per flag).
std::string usage(const CommandSpec& spec);
// "generate --model DIR (--tokens ID,... | --prompt TEXT) [options]"
std::string synopsis(const CommandSpec& spec);

// The candidate closest to `word` by edit distance (or the only one it is a
// prefix of), if close enough to be a likely typo; else empty.
std::string closest_match(std::string_view word, std::span<const std::string_view> candidates);

// The exit code of a usage error.
inline constexpr int kExitUsage = 2;

// Prints "ossrt COMMAND: message" and the command's usage to stderr; returns kExitUsage.
int usage_error(const CommandSpec& spec, const std::string& message);

// Parses and handles --help and usage errors: returns the exit code to end
// with (0 after printing the usage to stdout, 2 after a usage error), or
// nullopt when `flags` is ready for the command.
std::optional<int> parse_or_exit(const CommandSpec& spec, int argc, const char* const* argv, int first,
                                 ParsedFlags& flags);

// The parts appended in order. (GCC 12's -Wrestrict misfires on
// "literal" + std::string temporaries; appending avoids them.)
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  (out += ... += parts);
  return out;
}

// Value checks shared with the parser: whole-string parses, false on a sign,
// junk or overflow.
bool parse_size(std::string_view text, size_t& out);
bool parse_ids(std::string_view text, std::vector<ossrt::TokenId>& out);
std::string join_ids(std::span<const ossrt::TokenId> ids);

}  // namespace ossrt_cli
