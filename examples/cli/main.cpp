// ossrt — command-line front end of the library (a user of the public C++ API).
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "command_table.h"
#include "commands.h"

namespace {

using namespace ossrt_cli;

struct Runner {
  std::string_view command;
  int (*run)(const ParsedFlags&);
};

constexpr Runner kRunners[] = {
    {"chat", run_chat},         {"generate", run_generate},
    {"tokenize", run_tokenize}, {"detokenize", run_detokenize},
    {"info", run_info},         {"make-checkpoint", run_make_checkpoint},
    {"bench", run_bench},       {"estimate", run_estimate},
    {"serve", run_serve},
};

// Every command's synopsis and summary, from the command table.
std::string overview() {
  std::string out = "usage: ossrt COMMAND [options]   (ossrt COMMAND --help describes one)\n\n";
  for (const CommandSpec& spec : command_specs()) out += "  ossrt " + synopsis(spec) + "\n      " + spec.summary + "\n";
  out +=
      "  ossrt --version\n      the library's version\n\n"
      "exit status: 0 success, 1 failure, 2 usage error, 3 generate stopped by a full context\n";
  return out;
}

int run(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(overview().c_str(), stderr);
    return kExitUsage;
  }
  const std::string_view command = argv[1];
  if (command == "--help" || command == "-h") {
    std::fputs(overview().c_str(), stdout);
    return 0;
  }
  if (command == "--version") {
    std::printf("ossrt %s\n", ossrt::version_string());
    return 0;
  }
  const CommandSpec* spec = find_command_spec(command);
  const Runner* runner = nullptr;
  for (const Runner& candidate : kRunners)
    if (candidate.command == command) runner = &candidate;
  if (spec == nullptr || runner == nullptr) {
    std::vector<std::string_view> names;
    for (const CommandSpec& known : command_specs()) names.push_back(known.name);
    const std::string close = closest_match(command, names);
    std::fprintf(stderr, "ossrt: unknown command '%s'%s\n\n%s", argv[1],
                 close.empty() ? "" : ("; did you mean " + close + "?").c_str(), overview().c_str());
    return kExitUsage;
  }
  ParsedFlags flags(*spec);
  if (const std::optional<int> code = parse_or_exit(*spec, argc, argv, 2, flags)) return *code;
  return runner->run(flags);
}

}  // namespace

int main(int argc, char** argv) {
  // The library returns errors as values; what the CLI's own code could
  // throw (std::bad_alloc) still ends with a message and a status.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ossrt: %s\n", e.what());
    return kExitFailure;
  }
}
