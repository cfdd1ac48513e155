// The commands `ossrt chat` takes on its input ("/reset", "/save FILE", ...):
// declared once, for the chat's dispatch, its /help and `ossrt chat --help`.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ossrt_cli {

enum class SlashCommandId { help, reset, effort, system, save, load, tokens, quit };

struct SlashCommandSpec {
  SlashCommandId id;
  const char* name;      // without the slash
  const char* argument;  // shown after the name ("FILE"); null when it takes none
  bool argument_required;
  const char* help;  // one line
};

std::span<const SlashCommandSpec> slash_commands();

// A line typed in the chat, split into command and argument when it starts
// with '/' (the argument is the rest of the line, spaces trimmed).
struct SlashLine {
  std::string name;  // without the slash
  std::string argument;
};
std::optional<SlashLine> split_slash_line(std::string_view line);

// The table as text: one line per command, for /help and `ossrt chat --help`.
std::string slash_command_help();

}  // namespace ossrt_cli
