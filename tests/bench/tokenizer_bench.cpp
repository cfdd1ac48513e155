// ossrt-bench-tokenizer: encode throughput of the o200k_harmony tokenizer,
// single-threaded, on a mixed corpus (English, code, JSON, CJK, emoji) and on
// adversarial inputs, side by side with npm's tiktoken (WASM build of the Rust
// core) on the same bytes, with a check that both produce the same ids.
//
//   ossrt-bench-tokenizer [--tiktoken] [--json] [--scratch DIR]
// --tiktoken installs tiktoken@1.0.22 with npm into DIR (default
// /tmp/ossrt-bench-tiktoken) and runs tests/bench/tiktoken_encode.mjs there.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ossrt/tokenizer.hpp"

namespace {

namespace fs = std::filesystem;

struct Input {
  std::string name;
  std::string bytes;
};

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::string mixed_corpus(size_t target, std::mt19937& rng) {
  static const char* const kWords[] = {
      "the",    "model",   "runs",   "locally", "and",     "tokens",    "are",     "streamed", "to",
      "each",   "channel", "while",  "users",   "type",    "quickly",   "however", "memory",   "bandwidth",
      "limits", "decode",  "speed",  "it's",    "we'll",   "don't",     "Alice",   "Bob",      "library",
      "engine", "context", "window", "expert",  "routing", "attention", "sinks",   "of",       "in"};
  static const char* const kCode[] = {
      "for (size_t i = 0; i < n; ++i) {\n  sum += x[i] * w[i];\n}\n",
      "def encode(self, text: str) -> list[int]:\n    return self._core.encode(text)\n\n",
      "if (status != OSSRT_STATUS_OK) { fprintf(stderr, \"%s\\n\", msg); return 1; }\n",
      "const result = await fetch(`/api/v1/items/${id}`);\nconsole.log(result.status);\n",
      "    let v: Vec<u32> = (0..1024).map(|i| i * 2).collect();\n"};
  std::string out;
  std::uniform_int_distribution<int> kind(0, 9), word(0, std::size(kWords) - 1), code(0, std::size(kCode) - 1);
  std::uniform_int_distribution<int> number(0, 1000000), len(5, 40);
  std::uniform_int_distribution<char32_t> cjk(0x4e00, 0x9fa5), kana(0x3041, 0x3093), emoji(0x1f300, 0x1f64f);
  while (out.size() < target) {
    const int k = kind(rng);
    if (k < 4) {  // English prose
      for (int i = 0, n = len(rng); i < n; ++i) {
        std::string w = kWords[word(rng)];
        if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
        out += w;
        out += (i + 1 == n) ? ".\n" : (i % 7 == 6 ? ", " : " ");
      }
    } else if (k < 6) {
      out += kCode[code(rng)];
    } else if (k < 7) {  // JSON
      out += "{\"id\": " + std::to_string(number(rng)) + ", \"name\": \"" + kWords[word(rng)] +
             "\", \"score\": " + std::to_string(number(rng) / 1000.0) + ", \"tags\": [\"" + kWords[word(rng)] +
             "\", \"" + kWords[word(rng)] + "\"], \"ok\": true}\n";
    } else if (k < 9) {  // CJK with kana and punctuation
      for (int i = 0, n = len(rng); i < n; ++i) append_utf8(out, i % 5 == 4 ? kana(rng) : cjk(rng));
      append_utf8(out, 0x3002);
      out += "\n";
    } else {  // emoji, with a ZWJ sequence and a skin tone
      for (int i = 0, n = len(rng) / 4; i < n; ++i) {
        append_utf8(out, emoji(rng));
        if (i % 3 == 0) append_utf8(out, 0x1f3fd);
        if (i % 4 == 0) {
          append_utf8(out, 0x200d);
          append_utf8(out, 0x1f4bb);
        }
        out += ' ';
      }
      out += "\n";
    }
  }
  return out;
}

std::vector<Input> make_inputs() {
  std::mt19937 rng(20261123);
  std::vector<Input> inputs;
  inputs.push_back({"mixed_4mb", mixed_corpus(4 << 20, rng)});
  std::string no_space;
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789.,;:-_()[]";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  while (no_space.size() < (1 << 20)) no_space += alphabet[pick(rng)];
  inputs.push_back({"no_space_1mb", no_space});
  inputs.push_back({"one_char_1mb", std::string(1 << 20, 'a')});
  std::string spaces;
  std::uniform_int_distribution<int> run(1, 200), ws(0, 3);
  while (spaces.size() < (1 << 20)) {
    for (int i = 0, n = run(rng); i < n; ++i) spaces += " \t\n "[ws(rng)];
    if (ws(rng) == 0) spaces += "\r\n";
    spaces += "word";
  }
  inputs.push_back({"whitespace_runs_1mb", spaces});
  std::string random_bytes(1 << 20, '\0');
  std::uniform_int_distribution<int> byte(0, 255);
  for (char& c : random_bytes) c = static_cast<char>(byte(rng));
  inputs.push_back({"random_bytes_1mb", random_bytes});
  return inputs;
}

uint64_t fnv_ids(const std::vector<ossrt::TokenId>& ids) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (ossrt::TokenId id : ids) h = (h ^ static_cast<uint64_t>(id)) * 0x100000001b3ull;
  return h;
}

struct Measurement {
  double seconds = 0;
  size_t tokens = 0;
  std::string hash;
  std::string error;  // tiktoken failed on this input
};

Measurement measure_ours(const ossrt::Tokenizer& tok, const Input& input) {
  Measurement m;
  m.seconds = 1e30;
  for (int run = 0; run < 3; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    auto ids = tok.encode_bytes(input.bytes);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!ids.ok()) {
      std::fprintf(stderr, "encode failed: %s\n", ids.status().to_string().c_str());
      std::exit(1);
    }
    m.seconds = std::min(m.seconds, s);
    m.tokens = ids.value().size();
    char hex[17];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(fnv_ids(ids.value())));
    m.hash = hex;
  }
  return m;
}

// Runs tiktoken on the inputs; empty map (with a reason on stderr) if it cannot.
std::map<std::string, Measurement> measure_tiktoken(const std::vector<Input>& inputs, const fs::path& scratch) {
  std::map<std::string, Measurement> out;
  fs::create_directories(scratch);
  if (!fs::exists(scratch / "node_modules" / "tiktoken")) {
    const std::string install =
        "cd '" + scratch.string() + "' && npm install --silent --no-audit --no-fund tiktoken@1.0.22 >/dev/null 2>&1";
    if (std::system(install.c_str()) != 0) {
      std::fprintf(stderr, "tiktoken: npm install failed; not measured\n");
      return out;
    }
  }
  std::string command = "node '" OSSRT_TIKTOKEN_SCRIPT "' '" + (scratch / "node_modules").string() + "'";
  for (const Input& input : inputs) {
    const fs::path file = scratch / input.name;
    std::ofstream(file, std::ios::binary).write(input.bytes.data(), static_cast<std::streamsize>(input.bytes.size()));
    command += " '" + file.string() + "'";
  }
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char line[512];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    char name[128], hash[64];
    double seconds = 0;
    size_t tokens = 0;
    char error_text[256];
    if (std::sscanf(line, "{\"name\":\"%127[^\"]\",\"seconds\":%lf,\"tokens\":%zu,\"hash\":\"%63[^\"]\"}", name,
                    &seconds, &tokens, hash) == 4) {
      out[name] = Measurement{seconds, tokens, hash, ""};
    } else if (std::sscanf(line, "{\"name\":\"%127[^\"]\",\"error\":\"%255[^\"]\"}", name, error_text) == 2) {
      out[name] = Measurement{0, 0, "", error_text};
    }
  }
  if (pclose(pipe) != 0) std::fprintf(stderr, "tiktoken: node exited with an error\n");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false, tiktoken = false;
  fs::path scratch = "/tmp/ossrt-bench-tiktoken";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json")
      json = true;
    else if (arg == "--tiktoken")
      tiktoken = true;
    else if (arg == "--scratch" && i + 1 < argc)
      scratch = argv[++i];
    else {
      std::fprintf(stderr, "usage: ossrt-bench-tokenizer [--tiktoken] [--json] [--scratch DIR]\n");
      return 2;
    }
  }
  auto tokenizer = ossrt::Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "%s\n", tokenizer.status().to_string().c_str());
    return 1;
  }
  (void)tokenizer.value()->encode("warm up the tables");
  const std::vector<Input> inputs = make_inputs();
  std::map<std::string, Measurement> ours, theirs;
  for (const Input& input : inputs) ours[input.name] = measure_ours(*tokenizer.value(), input);
  if (tiktoken) theirs = measure_tiktoken(inputs, scratch);

  bool all_match = true;
  if (!json) {
    std::printf("%-22s %10s %12s %12s %12s %8s %s\n", "input", "MB", "ossrt MB/s", "ossrt tok/s", "tiktoken MB/s",
                "ratio", "ids");
  }
  std::string json_out = "{\"threads\":1,\"inputs\":{";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& input = inputs[i];
    const Measurement& m = ours[input.name];
    const double mb = static_cast<double>(input.bytes.size()) / 1e6;
    const double ours_mbs = mb / m.seconds;
    auto t = theirs.find(input.name);
    const bool tiktoken_failed = t != theirs.end() && !t->second.error.empty();
    if (tiktoken_failed)
      std::fprintf(stderr, "tiktoken failed on %s: %s\n", input.name.c_str(), t->second.error.c_str());
    const bool have_theirs = t != theirs.end() && !tiktoken_failed;
    const double their_mbs = have_theirs ? mb / t->second.seconds : 0;
    const bool same = have_theirs && t->second.hash == m.hash && t->second.tokens == m.tokens;
    all_match &= !have_theirs || same;
    if (!json) {
      std::printf("%-22s %10.2f %12.1f %12.0f %12s %8s %s\n", input.name.c_str(), mb, ours_mbs,
                  static_cast<double>(m.tokens) / m.seconds,
                  have_theirs ? std::to_string(their_mbs).substr(0, 6).c_str() : (tiktoken_failed ? "crashed" : "-"),
                  have_theirs ? (std::to_string(ours_mbs / their_mbs).substr(0, 5) + "x").c_str() : "-",
                  have_theirs ? (same ? "identical" : "DIFFERENT") : "-");
    }
    char entry[512];
    std::snprintf(
        entry, sizeof entry,
        "%s\"%s\":{\"bytes\":%zu,\"tokens\":%zu,\"ossrt_mb_s\":%.3f,\"ossrt_tok_s\":%.0f,\"tiktoken_mb_s\":%.3f,"
        "\"ratio\":%.3f,\"ids_identical\":%s}",
        i ? "," : "", input.name.c_str(), input.bytes.size(), m.tokens, ours_mbs,
        static_cast<double>(m.tokens) / m.seconds, their_mbs, have_theirs ? ours_mbs / their_mbs : 0.0,
        have_theirs ? (same ? "true" : "false") : "null");
    json_out += entry;
  }
  json_out += "}}";
  if (json) std::printf("%s\n", json_out.c_str());
  return all_match ? 0 : 1;
}
