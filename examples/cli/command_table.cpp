#include "command_table.h"

#include "slash_commands.h"

namespace ossrt_cli {
namespace {

using K = ValueKind;

// `flags` followed by `more`.
std::vector<FlagSpec> operator+(std::vector<FlagSpec> flags, const std::vector<FlagSpec>& more) {
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

std::vector<FlagSpec> sampling_flags(const char* default_temperature) {
  return {
      {"temperature", K::real, "T", "sampling temperature; 0 = greedy (arg-max)", default_temperature},
      {"top-k", K::count, "K", "keep the K most likely tokens; 0 = off", "0"},
      {"top-p", K::real, "P", "keep the smallest set with probability P, in (0, 1]; 1 = off", "1"},
      {"min-p", K::real, "P", "drop tokens below P x the top probability, in [0, 1]; 0 = off", "0"},
      {"seed", K::count, "S", "seed of the random draws (the same seed gives the same tokens)", "0"},
  };
}

const FlagSpec kBackend{"backend", K::text, "NAME",
                        "cpu, cpu-avx2, cpu-avx512, cpu-reference, cuda or cuda:N (ossrt info lists devices)", "cpu"};

const FlagSpec kCpuExpertLayers{"cpu-expert-layers", K::count, "N",
                                "run the first N layers' experts on the CPU from host memory (GPU offload)", "0"};

const FlagSpec kNumerics{"numerics", K::choice, "exact|fast",
                         "exact: fp32 activations and KV cache; fast: bf16 cache, integer experts", "exact"};

// The shapes of a synthetic checkpoint (make-checkpoint, bench --synthetic).
std::vector<FlagSpec> synthetic_shape_flags() {
  return {
      {"layers", K::positive, "N", "transformer layers (default: the preset's)"},
      {"seed", K::count, "S", "seed of the random weights", "1"},
  };
}

std::vector<CommandSpec> make_specs() {
  std::vector<CommandSpec> specs;
  specs.push_back({
      "chat",
      "harmony chat: one turn per input line (or one --prompt), the final channel streamed to stdout",
      "Reuses the cached history each turn (only new messages are prefilled); Ctrl-C cancels the turn in\n"
      "progress (between turns it exits). When the context fills, the oldest turns are dropped.\n"
      "Exits 1 when a turn or a command failed. Lines starting with / are commands (// sends one\n"
      "starting with / as a message):\n" +
          slash_command_help(),
      std::vector<FlagSpec>{
          {"model", K::text, "PATH", "checkpoint: a directory (original or Hugging Face layout) or a GGUF file",
           nullptr, "model"},
          {"prompt", K::text, "TEXT", "run one turn with TEXT and exit, instead of reading turns from stdin"},
          {"system", K::text, "TEXT", "instructions for the model (harmony's developer message)"},
          {"json-schema", K::text, "FILE",
           "answer in JSON that follows the JSON schema in FILE (told in the developer message, enforced on the "
           "final answer only)"},
          {"effort", K::choice, "low|medium|high", "reasoning effort", "medium"},
          {"max-tokens", K::count, "N", "tokens per reply at most", "4096"},
          {"context", K::count, "N", "context length in tokens; 0 = the model's maximum", "0"},
          {"show-reasoning", K::none, nullptr, "print the reasoning (analysis channel) before the answer"},
          {"color", K::choice, "auto|always|never", "dim the reasoning; auto: when stdout is a terminal", "auto"},
          {"stats", K::none, nullptr, "after each turn, a line on stderr: finish, tokens, reused, tok/s"},
          kBackend,
          kCpuExpertLayers,
          kNumerics,
      } + sampling_flags("1"),
      std::nullopt,
  });
  specs.push_back({
      "generate",
      "raw generation from token ids or text; prints the generated ids (and their text for --prompt)",
      "When the context fills first, every token generated so far is printed, stderr says so and the\n"
      "exit status is 3.\n",
      std::vector<FlagSpec>{
          {"model", K::text, "PATH", "checkpoint directory or GGUF file", nullptr, "model"},
          {"tokens", K::ids, "ID,...", "the prompt as token ids", nullptr, "prompt"},
          {"prompt", K::text, "TEXT", "the prompt as text (harmony special tokens allowed)", nullptr, "prompt"},
          {"max-tokens", K::count, "N", "tokens to generate at most", "16"},
          {"stop", K::ids, "ID,...", "stop after generating one of these ids (it is printed)"},
          {"context", K::count, "N", "context length in tokens; 0 = the model's maximum", "0"},
          {"chunk", K::positive, "N", "prompt tokens per forward pass during prefill", "512"},
          kBackend,
          kCpuExpertLayers,
          kNumerics,
      } + sampling_flags("0"),
      std::nullopt,
  });
  specs.push_back(
      {"tokenize",
       "the o200k_harmony token ids of a text",
       "",
       {{"special", K::choice, "all|none", "all: special-token text such as <|start|> becomes its id", "none"}},
       FlagSpec{"text", K::text, "TEXT|-", "the text, or - for standard input"}});
  specs.push_back(
      {"detokenize", "the text of token ids", "", {}, FlagSpec{"ids", K::ids, "ID,...", "comma-separated token ids"}});
  specs.push_back({"info",
                   "the backends and GPUs of this build and machine; with --model, a checkpoint's configuration and "
                   "resident memory",
                   "",
                   {{"model", K::text, "PATH", "checkpoint directory or GGUF file"}, kBackend, kCpuExpertLayers},
                   std::nullopt});
  specs.push_back({
      "estimate",
      "memory a model and one session will take, from the checkpoint's headers alone (nothing loaded)",
      "Weights (on the device for a GPU backend, on the host for offloaded experts), the KV cache at the\n"
      "context length and per token, and one chunk's scratch.\n",
      std::vector<FlagSpec>{
          {"model", K::text, "PATH", "checkpoint directory or GGUF file", nullptr, "model"},
          {"context", K::count, "N", "context length in tokens; 0 = the model's maximum", "0"},
          {"chunk", K::positive, "N", "prompt tokens per forward pass", "512"},
          kBackend,
          kCpuExpertLayers,
          kNumerics,
          {"json", K::none, nullptr, "print one JSON object instead of the table"},
      },
      std::nullopt,
  });
  specs.push_back({
      "make-checkpoint",
      "writes a checkpoint with random weights in the original layout (meaningless output, real shapes)",
      "",
      std::vector<FlagSpec>{
          {"preset", K::text, "NAME", "gpt-oss-20b, gpt-oss-120b, tiny-chat or small", nullptr, "preset"},
          {"out", K::text, "DIR", "directory to write (created)", nullptr, "out"},
      } + synthetic_shape_flags(),
      std::nullopt,
  });
  specs.push_back({
      "bench",
      "prefill and decode speed against the measured memory-bandwidth roofline, peak RSS",
      "--synthetic writes the preset's random weights once under --cache and reuses them.\n",
      std::vector<FlagSpec>{
          {"synthetic", K::text, "PRESET", "a synthetic checkpoint: gpt-oss-20b or gpt-oss-120b", nullptr, "source"},
          {"model", K::text, "PATH", "a checkpoint directory or GGUF file", nullptr, "source"},
      } + synthetic_shape_flags() +
          std::vector<FlagSpec>{
              {"cache", K::text, "DIR", "where synthetic checkpoints are kept (default: TMPDIR/ossrt-synthetic)"},
              {"prompt-tokens", K::positive, "N", "prefill length", "512"},
              {"decode-tokens", K::positive, "N", "tokens decoded per measurement", "128"},
              {"depth", K::count, "N", "context depth of the second decode measurement", "8192"},
              {"depth-fill", K::choice, "synthetic|prefill", "how that depth is filled", "synthetic"},
              {"chunk", K::positive, "N", "prompt tokens per forward pass", "512"},
              {"threads", K::count, "N", "threads; 0 = OpenMP's default", "0"},
              kBackend,
              kCpuExpertLayers,
              {"bandwidth-mib", K::positive, "N", "buffer of the bandwidth measurement, MiB", "1024"},
              kNumerics,
              {"weights-in-memory", K::none, nullptr, "read the weights into private memory instead of mapping"},
              {"profile", K::none, nullptr, "also time each kernel, per phase"},
              {"scaling", K::none, nullptr, "also decode at depth 0 on one thread"},
              {"sessions", K::positive, "N",
               "also decode N sessions together, one forward pass a token, alternating with one session alone", "1"},
              {"compare-numerics", K::none, nullptr,
               "also decode in fast and in exact numerics, alternating (depth 0, one token of context)"},
              {"json", K::none, nullptr, "print one JSON object instead of the table"},
          },
      std::nullopt,
  });
  specs.push_back({
      "serve",
      "an OpenAI-compatible HTTP server: /v1/chat/completions, /v1/responses, /v1/models, /health",
      "Requests share the model and are decoded together (one forward pass a token for all of them);\n"
      "each conversation's cached prefix is reused by its next request. --port 0 picks a free port\n"
      "(the line on stderr says which). SIGINT or SIGTERM stops it. See docs/server.md.\n",
      std::vector<FlagSpec>{
          {"model", K::text, "PATH", "checkpoint directory or GGUF file", nullptr, "model"},
          {"model-id", K::text, "NAME", "the model name responses carry (default: the checkpoint's file name)"},
          {"host", K::text, "ADDR", "address to listen on", "127.0.0.1"},
          {"port", K::count, "N", "TCP port; 0 = any free one", "8080"},
          {"max-sessions", K::positive, "N", "conversations decoded together (each keeps its KV cache)", "8"},
          {"max-step-tokens", K::count, "N",
           "tokens per forward pass, decodes first, then prompt chunks; 0 = the larger of 64 and --max-sessions "
           "(smaller: streams keep flowing while a long prompt prefills; larger: prompts prefill faster)",
           "0"},
          {"context", K::count, "N", "context length of each session; 0 = the model's maximum", "0"},
          {"threads", K::count, "N", "threads of the forward pass; 0 = OpenMP's default", "0"},
          kBackend,
          kCpuExpertLayers,
          kNumerics,
      },
      std::nullopt,
  });
  return specs;
}

}  // namespace

std::span<const CommandSpec> command_specs() {
  static const std::vector<CommandSpec> specs = make_specs();
  return specs;
}

const CommandSpec* find_command_spec(std::string_view name) {
  for (const CommandSpec& spec : command_specs())
    if (name == spec.name) return &spec;
  return nullptr;
}

}  // namespace ossrt_cli
