// ossrt — command-line front end of the library (a user of the public C++ API).
#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.h"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  ossrt chat --model DIR [--effort low|medium|high] [--show-reasoning] [--system TEXT] [--prompt TEXT]\n"
    "             [--max-tokens N] [--context N] [--numerics exact|fast] [--temperature T] [--top-k K] [--top-p P]\n"
    "             [--min-p P] [--seed S]\n"
    "      harmony chat: one turn per input line (or one --prompt); streams the final channel, the reasoning\n"
    "      with --show-reasoning; Ctrl-C cancels the turn in progress\n"
    "  ossrt generate --model DIR (--tokens ID,ID,... | --prompt TEXT) [--max-tokens N] [--stop ID,...] [--chunk N]\n"
    "                 [--numerics exact|fast] [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--seed S]\n"
    "      raw generation (greedy unless --temperature > 0); prints the ids (and their text for --prompt)\n"
    "  ossrt tokenize [--special all|none] TEXT|-\n"
    "      o200k_harmony token ids of TEXT (or of standard input for -)\n"
    "  ossrt detokenize ID,ID,...\n"
    "      the text of token ids\n"
    "  ossrt info --model DIR\n"
    "      loads a checkpoint and prints its configuration and resident memory\n"
    "  ossrt make-checkpoint --preset gpt-oss-20b|gpt-oss-120b|tiny-chat|small --out DIR [--layers N] [--seed S]\n"
    "      writes a checkpoint with random weights in the original layout (meaningless output, real shapes)\n"
    "  ossrt bench (--synthetic gpt-oss-20b|gpt-oss-120b [--layers N] | --model DIR) [--prompt-tokens N]\n"
    "              [--decode-tokens N] [--depth N] [--depth-fill synthetic|prefill] [--chunk N] [--threads N]\n"
    "              [--numerics exact|fast] [--weights-in-memory] [--profile] [--scaling] [--json]\n"
    "      prefill and decode speed against the measured memory-bandwidth roofline, peak RSS\n"
    "  ossrt --version\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace ossrt_cli;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("ossrt %s\n", ossrt::version_string());
    return 0;
  }
  const std::string_view command = argv[1];
  if (command == "tokenize") return run_tokenize(argc, argv);
  if (command == "detokenize") return run_detokenize(argc, argv);
  Flags flags;
  if (!parse_flags(argc, argv, 2, flags, {"show-reasoning", "json", "profile", "scaling", "weights-in-memory"}))
    return 2;
  if (command == "chat") return run_chat(flags);
  if (command == "generate") return run_generate(flags);
  if (command == "info") return run_info(flags);
  if (command == "make-checkpoint") return run_make_checkpoint(flags);
  if (command == "bench") return run_bench(flags);
  std::fprintf(stderr, "ossrt: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
