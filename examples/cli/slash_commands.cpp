#include "slash_commands.h"

#include <algorithm>
#include <vector>

#include "command_line.h"

namespace ossrt_cli {

std::span<const SlashCommandSpec> slash_commands() {
  static constexpr SlashCommandSpec kCommands[] = {
      {SlashCommandId::help, "help", nullptr, false, "list these commands"},
      {SlashCommandId::reset, "reset", nullptr, false,
       "forget the conversation (the system message and /system instructions stay)"},
      {SlashCommandId::effort, "effort", "low|medium|high", true, "set the reasoning effort from the next turn on"},
      {SlashCommandId::system, "system", "TEXT", false,
       "set the instructions (harmony's developer message); without TEXT, remove them"},
      {SlashCommandId::save, "save", "FILE", true,
       "write the conversation to FILE (harmony JSON messages) and the session's cached state to FILE.state"},
      {SlashCommandId::load, "load", "FILE", true,
       "resume a conversation /save wrote (without a usable FILE.state its history is prefilled again)"},
      {SlashCommandId::tokens, "tokens", nullptr, false, "context in use / context length, in tokens"},
      {SlashCommandId::quit, "quit", nullptr, false, "end the chat (as end of input does)"},
  };
  return kCommands;
}

std::optional<SlashLine> split_slash_line(std::string_view line) {
  if (!line.starts_with('/')) return std::nullopt;
  line.remove_prefix(1);
  const size_t space = std::min(line.find(' '), line.size());
  std::string_view argument = line.substr(space);
  const size_t first = argument.find_first_not_of(' ');
  argument = first == std::string_view::npos ? std::string_view() : argument.substr(first);
  argument = argument.substr(0, argument.find_last_not_of(' ') + 1);
  return SlashLine{std::string(line.substr(0, space)), std::string(argument)};
}

std::string slash_command_help() {
  std::vector<std::string> labels;
  size_t width = 0;
  for (const SlashCommandSpec& command : slash_commands()) {
    std::string label = concat("/", command.name);
    if (command.argument != nullptr)
      label += command.argument_required ? concat(" ", command.argument) : concat(" [", command.argument, "]");
    width = std::max(width, label.size());
    labels.push_back(std::move(label));
  }
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i)
    out += concat("  ", labels[i], std::string(width + 2 - labels[i].size(), ' '), slash_commands()[i].help, "\n");
  return out;
}

}  // namespace ossrt_cli
