// ossrt bench: prefill and decode speed of a checkpoint (real, or synthetic
// with the real shapes) next to the machine's measured memory bandwidth, so
// decode reads as a fraction of its roofline. Prints a table, or one JSON
// object with --json.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "commands.h"
#include "machine_limits.h"
#include "progress_bar.h"
#include "resident_memory.h"

namespace ossrt_cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The flags' values (their defaults are in the command table).
struct BenchSettings {
  size_t prompt_tokens = 0, decode_tokens = 0, depth = 0, chunk = 0, threads = 0, bandwidth_mib = 0;
  size_t sessions = 1;  // > 1: also decode that many sessions together (BatchDecoder)
  bool fill_by_prefill = false, json = false, profile = false;
  bool scaling = false;           // also decode at depth 0 on one thread
  bool compare_numerics = false;  // also decode in exact and fast numerics, alternating
};

// Bytes per weight of the dense matrices (attention, router, unembedding):
// bf16, or a GGUF's Q8_0 (34 bytes per 32); a mix counts as bf16.
double dense_bytes_per_weight(const ossrt::ModelInfo& info) {
  return info.dense_format == "Q8_0" ? 34.0 / 32 : 2.0;
}

// Bytes of one expert's weights (MXFP4 rows of both matrices and biases).
double expert_bytes(const ossrt::ModelConfig& c) {
  const double H = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size);
  return 3 * I * H * 17.0 / 32 + 2 * (2 * I + H);
}

// Bytes of weights one step reads when its rows route to `experts` distinct
// experts per layer: every dense weight of every layer, those experts' MXFP4
// rows, the final norm, the unembedding and one embedding row a row.
double step_weight_bytes(const ossrt::ModelConfig& c, double dense, double experts) {
  const double H = static_cast<double>(c.hidden_size);
  const double qkv = static_cast<double>(c.head_dim * (c.num_attention_heads + 2 * c.num_key_value_heads));
  const double attn_out = static_cast<double>(c.head_dim * c.num_attention_heads);
  const double E = static_cast<double>(c.num_experts);
  const double layer = dense * (qkv * H + H * attn_out + E * H) +
                       2 * (2 * H + qkv + static_cast<double>(c.num_attention_heads) + H + E) +
                       experts * expert_bytes(c);
  return static_cast<double>(c.num_hidden_layers) * layer + 2 * H + dense * static_cast<double>(c.vocab_size) * H +
         dense * H;
}

// Bytes of weights one decoded token reads: k experts a layer.
double weight_bytes_per_token(const ossrt::ModelConfig& c, double dense) {
  return step_weight_bytes(c, dense, static_cast<double>(c.experts_per_token));
}

// Expected distinct experts per layer when n rows each pick k of E at random.
double distinct_experts(const ossrt::ModelConfig& c, size_t n) {
  const double E = static_cast<double>(c.num_experts), K = static_cast<double>(c.experts_per_token);
  return E * (1 - std::pow(1 - K / E, static_cast<double>(n)));
}

// Bytes of keys and values one decoded token reads at `depth` (4-byte
// elements in exact numerics, 2 in fast).
double kv_bytes_per_token(const ossrt::ModelConfig& c, size_t depth, ossrt::Numerics numerics) {
  const double element = numerics == ossrt::Numerics::fast ? 2.0 : 4.0;
  const double row = 2.0 * static_cast<double>(c.num_key_value_heads * c.head_dim) * element;
  const double dense_layers = static_cast<double>(c.num_hidden_layers / 2);
  const double banded_layers = static_cast<double>(c.num_hidden_layers) - dense_layers;
  const double window = static_cast<double>(std::min<size_t>(depth + 1, static_cast<size_t>(c.sliding_window)));
  return row * (dense_layers * static_cast<double>(depth + 1) + banded_layers * window);
}

// Floating-point operations of a prompt of n tokens (matmuls and attention;
// the unembedding runs for the last position only).
double prefill_flops(const ossrt::ModelConfig& c, size_t n) {
  const double H = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size);
  const double qkv = static_cast<double>(c.head_dim * (c.num_attention_heads + 2 * c.num_key_value_heads));
  const double attn_width = static_cast<double>(c.head_dim * c.num_attention_heads);
  const double per_token = 2 * (qkv * H + attn_width * H + static_cast<double>(c.num_experts) * H +
                                static_cast<double>(c.experts_per_token) * 3 * I * H);
  double attention = 0;  // q.k and p.v over each position's visible keys, per layer
  for (size_t layer = 0; layer < static_cast<size_t>(c.num_hidden_layers); ++layer) {
    for (size_t p = 0; p < n; ++p) {
      const size_t seen = layer % 2 == 0 ? std::min<size_t>(p + 1, static_cast<size_t>(c.sliding_window)) : p + 1;
      attention += 4 * attn_width * static_cast<double>(seen);
    }
  }
  return per_token * static_cast<double>(n * static_cast<size_t>(c.num_hidden_layers)) + attention +
         2 * static_cast<double>(c.vocab_size) * H;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

BenchSettings settings_from_flags(const ParsedFlags& flags) {
  BenchSettings settings;
  settings.prompt_tokens = flags.count("prompt-tokens").value_or(0);
  settings.decode_tokens = flags.count("decode-tokens").value_or(0);
  settings.depth = flags.count("depth").value_or(0);
  settings.chunk = flags.count("chunk").value_or(0);
  settings.threads = flags.count("threads").value_or(0);
  settings.bandwidth_mib = flags.count("bandwidth-mib").value_or(0);
  settings.fill_by_prefill = flags.text("depth-fill") == "prefill";
  settings.json = flags.has("json");
  settings.profile = flags.has("profile");
  settings.scaling = flags.has("scaling");
  settings.compare_numerics = flags.has("compare-numerics");
  settings.sessions = flags.count("sessions").value_or(1);
  return settings;
}

// What the flags ask that the parser cannot see is wrong ("" when nothing).
std::string settings_problem(const ParsedFlags& flags, const BenchSettings& settings) {
  if (flags.has("model") && (flags.has("layers") || flags.has("seed") || flags.has("cache")))
    return "--layers, --seed and --cache apply to --synthetic only";
  // OpenMP runtimes fail to start (libgomp then exits) long before this many threads.
  if (settings.threads > ossrt::kMaxSessionThreads)
    return "--threads: at most " + std::to_string(ossrt::kMaxSessionThreads);
  if (settings.bandwidth_mib > (SIZE_MAX >> 20)) return "--bandwidth-mib: too large";
  // Bounds the context they add up to (no model holds anywhere near this).
  constexpr size_t kMaxTokens = size_t{1} << 40;
  if (settings.prompt_tokens > kMaxTokens || settings.decode_tokens > kMaxTokens || settings.depth > kMaxTokens)
    return "--prompt-tokens, --decode-tokens, --depth: at most 2^40 tokens";
  return "";
}

// The synthetic checkpoint's directory, generated on first use: weights are
// deterministic in (preset, layers, seed), so later runs reuse them.
ossrt::Result<fs::path> synthetic_checkpoint(const ParsedFlags& flags, const std::string& preset,
                                             const ossrt::ModelConfig& config, size_t seed, double& generate_seconds) {
  fs::path root = fs::temp_directory_path() / "ossrt-synthetic";
  if (auto cache = flags.text("cache")) root = *cache;
  const fs::path directory =
      root / (preset + "-" + std::to_string(config.num_hidden_layers) + "l-seed" + std::to_string(seed));
  const fs::path marker = directory / "complete";
  generate_seconds = 0;
  if (fs::exists(marker)) return directory;
  const auto start = Clock::now();
  ProgressBar bar("writing synthetic weights");
  auto status = ossrt::write_synthetic_checkpoint(
      directory, config, seed, [&bar](uint64_t done, uint64_t total) { return bar.update(done, total); });
  if (!status.ok()) return status;
  std::ofstream(marker) << "written by ossrt bench\n";
  generate_seconds = seconds_since(start);
  return directory;
}

std::vector<ossrt::TokenId> random_tokens(size_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<ossrt::TokenId> id(0, static_cast<ossrt::TokenId>(vocab - 1));
  std::vector<ossrt::TokenId> tokens(n);
  for (auto& t : tokens) t = id(rng);
  return tokens;
}

// Where one phase's time went, kernel by kernel (--profile).
struct PhaseProfile {
  std::string phase;
  double seconds = 0;  // the phase's wall time
  size_t tokens = 0;
  std::vector<ossrt::KernelTiming> kernels;
};

// Collects, per phase, the model's kernel times from start_phase() to
// end_phase() (does nothing without --profile). A phase ended again (the
// rounds of alternating measurements) adds up.
class Profiler {
 public:
  Profiler(const ossrt::Model& model, bool enabled) : model_(model), enabled_(enabled) {}
  void start_phase() const {
    if (enabled_) model_.reset_kernel_profile();
  }
  ossrt::Status end_phase(const std::string& phase, double seconds, size_t tokens) {
    if (!enabled_) return ossrt::Status::success();
    auto kernels = model_.kernel_profile();
    if (!kernels.ok()) return kernels.status();
    const auto same_phase =
        std::find_if(phases_.begin(), phases_.end(), [&](const PhaseProfile& p) { return p.phase == phase; });
    if (same_phase == phases_.end()) {
      phases_.push_back({phase, seconds, tokens, std::move(kernels.value())});
      return ossrt::Status::success();
    }
    same_phase->seconds += seconds;
    same_phase->tokens += tokens;
    for (const ossrt::KernelTiming& k : kernels.value()) {
      const auto same_kernel = std::find_if(same_phase->kernels.begin(), same_phase->kernels.end(),
                                            [&](const ossrt::KernelTiming& known) { return known.kernel == k.kernel; });
      if (same_kernel == same_phase->kernels.end()) {
        same_phase->kernels.push_back(k);
        continue;
      }
      same_kernel->calls += k.calls;
      same_kernel->seconds += k.seconds;
      same_kernel->bytes += k.bytes;
      same_kernel->flops += k.flops;
    }
    return ossrt::Status::success();
  }
  const std::vector<PhaseProfile>& phases() const { return phases_; }

 private:
  const ossrt::Model& model_;
  bool enabled_;
  std::vector<PhaseProfile> phases_;
};

void print_profile(const PhaseProfile& p) {
  const double tokens = static_cast<double>(p.tokens);
  std::printf("\n  profile: %s, per token (%zu tokens, %.3f s)\n", p.phase.c_str(), p.tokens, p.seconds);
  std::printf("  %-34s %8s %10s %7s %10s %12s\n", "kernel", "calls", "ms/token", "share", "GB/s", "GFLOP/s");
  double in_kernels = 0;
  for (const auto& k : p.kernels) {
    in_kernels += k.seconds;
    std::printf("  %-34s %8llu %10.3f %6.1f%% %10.2f %12.1f\n", k.kernel.c_str(),
                static_cast<unsigned long long>(k.calls), 1e3 * k.seconds / tokens, 100 * k.seconds / p.seconds,
                k.seconds > 0 ? k.bytes / k.seconds / 1e9 : 0.0, k.seconds > 0 ? k.flops / k.seconds / 1e9 : 0.0);
  }
  std::printf("  %-34s %8s %10.3f %6.1f%%\n", "outside kernels (sampling, glue)", "",
              1e3 * (p.seconds - in_kernels) / tokens, 100 * (p.seconds - in_kernels) / p.seconds);
}

std::string profile_json(const std::vector<PhaseProfile>& phases) {
  std::string out = ",\"profile\":[";
  for (size_t i = 0; i < phases.size(); ++i) {
    const PhaseProfile& p = phases[i];
    out += (i > 0 ? ",{" : "{") + std::string("\"phase\":\"") + p.phase +
           "\",\"seconds\":" + std::to_string(p.seconds) + ",\"tokens\":" + std::to_string(p.tokens) + ",\"kernels\":[";
    for (size_t j = 0; j < p.kernels.size(); ++j) {
      const auto& k = p.kernels[j];
      out += (j > 0 ? ",{" : "{") + std::string("\"kernel\":\"") + k.kernel +
             "\",\"calls\":" + std::to_string(k.calls) + ",\"seconds\":" + std::to_string(k.seconds) +
             ",\"bytes\":" + std::to_string(k.bytes) + ",\"flops\":" + std::to_string(k.flops) + "}";
    }
    out += "]}";
  }
  return out + "]";
}

struct DecodeRun {
  size_t tokens = 0;
  double seconds = 0;
  ossrt::Status status = ossrt::Status::success();

  double tokens_per_s() const { return seconds > 0 ? static_cast<double>(tokens) / seconds : 0; }
};

// Decodes `count` greedy tokens after `session`'s current content, timed as `phase`.
DecodeRun time_greedy(ossrt::Session& session, size_t count, Profiler& profiler, const std::string& phase) {
  DecodeRun run;
  profiler.start_phase();
  const auto start = Clock::now();
  auto made = session.generate_greedy(count);
  run.seconds = seconds_since(start);
  if (!made.ok()) {
    run.status = made.status();
    return run;
  }
  run.tokens = made.value().size();
  run.status = profiler.end_phase(phase, run.seconds, run.tokens);
  return run;
}

// A session of one token of random context (plus room for `count` more).
ossrt::Result<std::unique_ptr<ossrt::Session>> fresh_session(const std::shared_ptr<const ossrt::Model>& model,
                                                             ossrt::SessionOptions options, size_t count,
                                                             uint32_t seed) {
  options.context_length = count + 2;
  auto session = ossrt::Session::create(model, options);
  if (!session.ok()) return session.status();
  if (auto st = session.value()->append(random_tokens(1, model->info().config.vocab_size, seed)); !st.ok()) return st;
  return session;
}

// Two decode measurements that alternate over kAlternatingRounds rounds
// (first, second, first, ...), so the VM's drifting bandwidth weighs on both
// rates alike: measured minutes apart, one session's rate moved between 11.0
// and 12.5 tok/s from run to run (Zen 4 VM), and every ratio of two rates
// with it (depth 8192 against depth 0, exact against fast, N sessions
// against one).
constexpr size_t kAlternatingRounds = 4;

struct Alternation {
  DecodeRun first, second;                     // summed over the rounds
  double lowest_ratio = 0, highest_ratio = 0;  // second's rate / first's, over the rounds
  size_t rounds = 0;
  ossrt::Status status = ossrt::Status::success();

  double ratio() const { return second.tokens_per_s() / first.tokens_per_s(); }
  static Alternation failed(ossrt::Status status) {
    Alternation run;
    run.status = std::move(status);
    return run;
  }
};

// Round `round`'s share of `count` tokens over `rounds` rounds: the shares add up to count.
size_t round_share(size_t count, size_t round, size_t rounds) {
  return count * (round + 1) / rounds - count * round / rounds;
}

// first(tokens) and second(tokens) -> DecodeRun each decode `count` tokens in
// all, a round's share at a time.
template <class First, class Second>
Alternation alternate(size_t count, First first, Second second) {
  Alternation run;
  const auto add = [](DecodeRun& total, const DecodeRun& part) {
    total.seconds += part.seconds;
    total.tokens += part.tokens;
  };
  run.rounds = std::min(count, kAlternatingRounds);
  for (size_t round = 0; round < run.rounds; ++round) {
    const size_t tokens = round_share(count, round, run.rounds);
    const DecodeRun a = first(tokens);
    if (!a.status.ok()) return Alternation::failed(a.status);
    const DecodeRun b = second(tokens);
    if (!b.status.ok()) return Alternation::failed(b.status);
    const double ratio = b.tokens_per_s() / a.tokens_per_s();
    run.lowest_ratio = round == 0 ? ratio : std::min(run.lowest_ratio, ratio);
    run.highest_ratio = std::max(run.highest_ratio, ratio);
    add(run.first, a);
    add(run.second, b);
  }
  return run;
}

// --sessions N: N sessions (one token of context each) decoding `count`
// greedy tokens together, one BatchDecoder step a token for all of them,
// alternating with one more session decoding alone.
Alternation time_sessions(const std::shared_ptr<const ossrt::Model>& model, const ossrt::SessionOptions& options,
                          size_t n, size_t count, Profiler& profiler) {
  std::vector<std::unique_ptr<ossrt::Session>> sessions;  // [0] decodes alone
  for (size_t i = 0; i <= n; ++i) {
    auto session = fresh_session(model, options, count, static_cast<uint32_t>(10 + i));
    if (!session.ok()) return Alternation::failed(session.status());
    sessions.push_back(std::move(session.value()));
  }
  std::vector<ossrt::Session*> rows;
  for (size_t i = 1; i <= n; ++i) rows.push_back(sessions[i].get());
  auto decoder = ossrt::BatchDecoder::create(model, n);
  if (!decoder.ok()) return Alternation::failed(decoder.status());
  std::vector<ossrt::TokenId> next(n);
  const std::string alone_phase = "1 session, alternating with " + std::to_string(n);
  const std::string together_phase = std::to_string(n) + " sessions decoded together";
  return alternate(
      count, [&](size_t tokens) { return time_greedy(*sessions[0], tokens, profiler, alone_phase); },
      [&](size_t tokens) {
        DecodeRun together;
        profiler.start_phase();
        const auto start = Clock::now();
        for (size_t step = 0; step < tokens; ++step) {
          for (size_t i = 0; i < n; ++i) {
            const auto logits = rows[i]->logits();
            next[i] = static_cast<ossrt::TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
          }
          if (auto st = decoder.value()->step(rows, next); !st.ok()) {
            together.status = st;
            return together;
          }
        }
        together.seconds = seconds_since(start);
        together.tokens = n * tokens;
        together.status = profiler.end_phase(together_phase, together.seconds, together.tokens);
        return together;
      });
}

// Decode in turns with the bandwidth probe: per round, the probe and then
// `count` / rounds greedy tokens of `session`. Each round's rate against the
// read beside it: this VM's read bandwidth flips between about 35 and 60
// GB/s from minute to minute, so a probe before and after the run said
// little about the bandwidth a decode in between had.
struct ProbedDecode {
  DecodeRun decode;                                      // summed over the rounds
  double best_gb_per_s = 0;                              // the best probe of the rounds
  double mean_pct = 0, lowest_pct = 0, highest_pct = 0;  // decode bytes/s / the round's probe, in %
  size_t rounds = 0;
  ossrt::Status status = ossrt::Status::success();
};

template <class Probe>
ProbedDecode decode_beside_probe(ossrt::Session& session, size_t count, double bytes_per_token, Probe probe,
                                 Profiler& profiler) {
  ProbedDecode run;
  run.rounds = std::min(count, kAlternatingRounds);
  for (size_t round = 0; round < run.rounds; ++round) {
    auto read = probe();
    if (!read.ok()) {
      run.status = read.status();
      return run;
    }
    const size_t tokens = round_share(count, round, run.rounds);
    const DecodeRun part = time_greedy(session, tokens, profiler, "decode at depth 0, in turns with the probe");
    if (!part.status.ok()) {
      run.status = part.status;
      return run;
    }
    const double gb_per_s = read.value().gb_per_s;
    const double pct = gb_per_s > 0 ? 100 * part.tokens_per_s() * bytes_per_token / 1e9 / gb_per_s : 0;
    run.lowest_pct = round == 0 ? pct : std::min(run.lowest_pct, pct);
    run.highest_pct = std::max(run.highest_pct, pct);
    run.mean_pct += pct / static_cast<double>(run.rounds);
    run.best_gb_per_s = std::max(run.best_gb_per_s, gb_per_s);
    run.decode.seconds += part.seconds;
    run.decode.tokens += part.tokens;
  }
  return run;
}

// Two sessions of one token of context each (the same token), made with
// `first` and `second` options, decoding `count` greedy tokens in turns,
// each timed as its phase: --compare-numerics (fast against exact numerics)
// and --scaling (all threads against one).
Alternation time_two_sessions(const std::shared_ptr<const ossrt::Model>& model, const ossrt::SessionOptions& first,
                              const std::string& first_phase, const ossrt::SessionOptions& second,
                              const std::string& second_phase, size_t count, uint32_t seed, Profiler& profiler) {
  auto a = fresh_session(model, first, count, seed);
  if (!a.ok()) return Alternation::failed(a.status());
  auto b = fresh_session(model, second, count, seed);
  if (!b.ok()) return Alternation::failed(b.status());
  return alternate(
      count, [&](size_t tokens) { return time_greedy(*a.value(), tokens, profiler, first_phase); },
      [&](size_t tokens) { return time_greedy(*b.value(), tokens, profiler, second_phase); });
}

}  // namespace

int run_bench(const ParsedFlags& flags) {
  const BenchSettings settings = settings_from_flags(flags);
  if (const std::string problem = settings_problem(flags, settings); !problem.empty())
    return usage_error(flags.spec(), problem);
  const int threads = settings.threads > 0 ? static_cast<int>(settings.threads) : omp_get_max_threads();

  double generate_seconds = 0;
  fs::path directory;
  const std::optional<std::string> synthetic = flags.text("synthetic");
  if (synthetic) {
    size_t seed = 1;
    auto config = synthetic_config_from_flags(flags, *synthetic, seed);
    if (!config.ok()) return usage_error(flags.spec(), config.status().message());
    auto made = synthetic_checkpoint(flags, *synthetic, config.value(), seed, generate_seconds);
    if (!made.ok()) return fail(made.status());
    directory = made.value();
  } else {
    directory = flags.text("model").value_or("");
  }

  // Bandwidth is measured before loading (so its buffer never adds to the
  // peak RSS of the run) and again after the runs; the VM's bandwidth drifts.
  const size_t bandwidth_bytes = settings.bandwidth_mib << 20;
  // A GPU's roofline is its device memory's: a device-to-device copy, bytes
  // read plus written (the host's read bandwidth says nothing about it).
  const std::string backend = flags.text("backend").value_or("cpu");
  const bool device_backend = backend.rfind("cuda", 0) == 0;
  const auto measure_bandwidth = [&]() -> ossrt::Result<Bandwidth> {
    if (!device_backend) return measure_read_bandwidth(bandwidth_bytes, threads, 5);
    auto copy = ossrt::measure_copy_bandwidth(backend, bandwidth_bytes, 5);
    if (!copy.ok()) return copy.status();
    return Bandwidth{copy.value(), bandwidth_bytes, 0};
  };
  const auto before_measured = measure_bandwidth();
  if (!before_measured.ok()) return fail(before_measured.status());
  const Bandwidth before = before_measured.value();
  const double fma_peak = measure_fma_peak_gflops(threads);

  ossrt::ModelOptions model_options;
  model_options.preload = true;
  model_options.weights_in_memory = flags.has("weights-in-memory");
  model_options.profile_kernels = settings.profile;
  model_options.backend = backend;
  model_options.cpu_expert_layers = flags.count("cpu-expert-layers").value_or(0);
  ProgressBar bar("loading");
  model_options.progress = [&bar](uint64_t done, uint64_t total) { return bar.update(done, total); };
  const auto load_start = Clock::now();
  auto model = ossrt::Model::load(directory, model_options);
  if (!model.ok()) return fail(model.status());
  const double load_seconds = seconds_since(load_start);
  const ossrt::ModelInfo& info = model.value()->info();
  const ossrt::ModelConfig& config = info.config;

  ossrt::SessionOptions session_options;
  session_options.numerics = numerics_from_flags(flags);
  session_options.threads = settings.threads;
  session_options.max_batch_tokens = settings.chunk;
  session_options.context_length =
      std::max(settings.prompt_tokens, settings.depth + settings.decode_tokens + 1) + settings.decode_tokens + 1;
  auto session = ossrt::Session::create(model.value(), session_options);
  if (!session.ok()) return fail(session.status());
  ossrt::Session& s = *session.value();
  Profiler profiler(*model.value(), settings.profile);

  // Prefill of a random prompt.
  const auto prompt = random_tokens(settings.prompt_tokens, config.vocab_size, 1);
  profiler.start_phase();
  auto start = Clock::now();
  if (auto st = s.append(prompt); !st.ok()) return fail(st);
  const double prefill_seconds = seconds_since(start);
  if (auto st = profiler.end_phase("prefill", prefill_seconds, settings.prompt_tokens); !st.ok()) return fail(st);
  const double prefill_tok_s = static_cast<double>(settings.prompt_tokens) / prefill_seconds;
  const double prefill_gflops = prefill_flops(config, settings.prompt_tokens) / prefill_seconds / 1e9;

  // Decode from one token of context, alternating with decode from `depth` positions.
  auto shallow_session = fresh_session(model.value(), session_options, settings.decode_tokens, 7);
  if (!shallow_session.ok()) return fail(shallow_session.status());
  s.reset();
  start = Clock::now();
  if (settings.fill_by_prefill) {
    if (auto st = s.append(random_tokens(settings.depth, config.vocab_size, 3)); !st.ok()) return fail(st);
  } else if (auto st = ossrt::fill_synthetic_context(s, settings.depth, 3); !st.ok()) {
    return fail(st);
  }
  const double fill_seconds = seconds_since(start);
  if (auto st = s.append(random_tokens(1, config.vocab_size, 7)); !st.ok()) return fail(st);
  const std::string deep_phase = "decode at depth " + std::to_string(settings.depth);
  const Alternation depth = alternate(
      settings.decode_tokens,
      [&](size_t tokens) { return time_greedy(*shallow_session.value(), tokens, profiler, "decode at depth 0"); },
      [&](size_t tokens) { return time_greedy(s, tokens, profiler, deep_phase); });
  if (!depth.status.ok()) return fail(depth.status);
  const DecodeRun &shallow = depth.first, &deep = depth.second;
  Alternation batch;
  if (settings.sessions > 1) {
    batch = time_sessions(model.value(), session_options, settings.sessions, settings.decode_tokens, profiler);
    if (!batch.status.ok()) return fail(batch.status);
  }
  // Thread scaling, with its own profile phases so --profile shows each kernel's scaling.
  Alternation scaling;
  if (settings.scaling) {
    ossrt::SessionOptions one_thread = session_options;
    one_thread.threads = 1;
    scaling = time_two_sessions(model.value(), session_options, "decode at depth 0, all threads alternating with 1",
                                one_thread, "decode at depth 0, 1 thread", settings.decode_tokens, 7, profiler);
    if (!scaling.status.ok()) return fail(scaling.status);
  }
  Alternation numerics;
  if (settings.compare_numerics) {
    ossrt::SessionOptions fast = session_options, exact = session_options;
    fast.numerics = ossrt::Numerics::fast;
    exact.numerics = ossrt::Numerics::exact;
    numerics = time_two_sessions(model.value(), fast, "decode, fast alternating with exact", exact,
                                 "decode, exact alternating with fast", settings.decode_tokens, 20, profiler);
    if (!numerics.status.ok()) return fail(numerics.status);
  }
  const size_t peak_rss = resident_memory().peak_bytes;
  session.value().reset();
  const auto after_measured = measure_bandwidth();
  if (!after_measured.ok()) return fail(after_measured.status());
  const Bandwidth after = after_measured.value();
  const double dense = dense_bytes_per_weight(info);
  const double bytes_per_token = weight_bytes_per_token(config, dense);
  // After the peak RSS is taken: the probe's buffer is not the model's memory.
  auto probed_session = fresh_session(model.value(), session_options, settings.decode_tokens, 9);
  if (!probed_session.ok()) return fail(probed_session.status());
  const ProbedDecode probed = decode_beside_probe(*probed_session.value(), settings.decode_tokens, bytes_per_token,
                                                  measure_bandwidth, profiler);
  if (!probed.status.ok()) return fail(probed.status);

  // The roofline takes the best read the machine reached: a mean let a run
  // during a bandwidth dip flatter the percentage (issue 28).
  const double bandwidth = std::max(before.gb_per_s, after.gb_per_s);
  // A batched step reads the experts its rows route to (random routing:
  // distinct_experts) once, and computes every row.
  const double step_experts = distinct_experts(config, settings.sessions);
  const double step_bytes = step_weight_bytes(config, dense, step_experts);
  const double step_flops = static_cast<double>(settings.sessions) * prefill_flops(config, 1);
  const double batch_memory_tok_s = bandwidth * 1e9 / step_bytes * static_cast<double>(settings.sessions);
  const double batch_compute_tok_s = fma_peak * 1e9 / step_flops * static_cast<double>(settings.sessions);
  char sessions_json[384] = "";
  if (settings.sessions > 1) {
    std::snprintf(sessions_json, sizeof sessions_json,
                  ",\"sessions\":%zu,\"single_decode_tok_s\":%.3f,\"aggregate_decode_tok_s\":%.3f,"
                  "\"aggregate_ratio\":%.3f,\"aggregate_ratio_min\":%.3f,\"aggregate_ratio_max\":%.3f,"
                  "\"session_rounds\":%zu,\"batch_step_bytes\":%.0f,\"batch_step_flops\":%.0f,"
                  "\"batch_memory_bound_tok_s\":%.2f,\"batch_compute_bound_tok_s\":%.2f",
                  settings.sessions, batch.first.tokens_per_s(), batch.second.tokens_per_s(), batch.ratio(),
                  batch.lowest_ratio, batch.highest_ratio, batch.rounds, step_bytes, step_flops, batch_memory_tok_s,
                  batch_compute_tok_s);
  }
  char numerics_json[256] = "";
  if (settings.compare_numerics) {
    std::snprintf(numerics_json, sizeof numerics_json,
                  ",\"fast_alternating_tok_s\":%.3f,\"exact_alternating_tok_s\":%.3f,\"exact_over_fast_pct\":%.1f,"
                  "\"exact_over_fast_min_pct\":%.1f,\"exact_over_fast_max_pct\":%.1f",
                  numerics.first.tokens_per_s(), numerics.second.tokens_per_s(), 100 * numerics.ratio(),
                  100 * numerics.lowest_ratio, 100 * numerics.highest_ratio);
  }
  const double roofline_tok_s = bandwidth * 1e9 / bytes_per_token;
  const double roofline_pct = 100 * shallow.tokens_per_s() / roofline_tok_s;
  const double depth_bytes = bytes_per_token + kv_bytes_per_token(config, settings.depth, session_options.numerics);
  const double depth_ratio_pct = 100 * depth.ratio();
  const double decode_gbs = shallow.tokens_per_s() * bytes_per_token / 1e9;
  char scaling_json[256] = "";
  if (settings.scaling) {
    std::snprintf(scaling_json, sizeof scaling_json,
                  ",\"decode_all_threads_alternating_tok_s\":%.3f,\"decode_1thread_tok_s\":%.3f,"
                  "\"thread_scaling_pct\":%.1f,\"thread_scaling_min_pct\":%.1f,\"thread_scaling_max_pct\":%.1f",
                  scaling.first.tokens_per_s(), scaling.second.tokens_per_s(), 100 * scaling.ratio(),
                  100 * scaling.lowest_ratio, 100 * scaling.highest_ratio);
  }
  const char* numerics_name = session_options.numerics == ossrt::Numerics::fast ? "fast" : "exact";
  const char* fill_name = settings.fill_by_prefill ? "prefill" : "synthetic";
  const std::string name = synthetic ? *synthetic + " (synthetic)" : directory.string();
  const std::string cpu = cpu_identity();

  if (settings.json) {
    std::printf(
        "{\"model\":\"%s\",\"cpu\":\"%s\",\"layers\":%lld,\"isa\":\"%s\",\"numerics\":\"%s\",\"threads\":%d,"
        "\"prompt_tokens\":%zu,\"decode_tokens\":%zu,"
        "\"depth\":%zu,\"depth_fill\":\"%s\",\"prefill_tok_s\":%.3f,\"prefill_gflops\":%.2f,\"decode_tok_s\":%.3f,"
        "\"decode_depth_tok_s\":%.3f,\"depth_ratio_pct\":%.1f,\"depth_ratio_min_pct\":%.1f,"
        "\"depth_ratio_max_pct\":%.1f,\"depth_rounds\":%zu,\"bandwidth_gbs\":%.2f,\"bandwidth_before_gbs\":%.2f,"
        "\"bandwidth_after_gbs\":%.2f,\"bytes_per_token\":%.0f,\"depth_bytes_per_token\":%.0f,"
        "\"roofline_tok_s\":%.3f,\"roofline_pct\":%.1f,\"decode_gbs\":%.2f,\"peak_rss_bytes\":%zu,"
        "\"fma_peak_gflops\":%.1f,\"load_s\":%.2f,\"generate_s\":%.2f,\"weights_in_memory\":%s,"
        "\"cpu_expert_layers\":%zu,\"host_expert_bytes\":%llu,\"tiled_expert_matrices\":%zu,"
        "\"dense_format\":\"%s\",\"decode_in_turns_tok_s\":%.3f,"
        "\"roofline_in_turns_pct\":%.1f,\"roofline_in_turns_min_pct\":%.1f,\"roofline_in_turns_max_pct\":%.1f,"
        "\"bandwidth_in_turns_gbs\":%.2f%s%s%s%s}\n",
        name.c_str(), cpu.c_str(), static_cast<long long>(config.num_hidden_layers), info.backend.c_str(),
        numerics_name, threads, settings.prompt_tokens, settings.decode_tokens, settings.depth, fill_name,
        prefill_tok_s, prefill_gflops, shallow.tokens_per_s(), deep.tokens_per_s(), depth_ratio_pct,
        100 * depth.lowest_ratio, 100 * depth.highest_ratio, depth.rounds, bandwidth, before.gb_per_s, after.gb_per_s,
        bytes_per_token, depth_bytes, roofline_tok_s, roofline_pct, decode_gbs, peak_rss, fma_peak, load_seconds,
        generate_seconds, model_options.weights_in_memory ? "true" : "false", info.cpu_expert_layers,
        static_cast<unsigned long long>(info.host_expert_bytes), info.tiled_expert_matrices, info.dense_format.c_str(),
        probed.decode.tokens_per_s(), probed.mean_pct, probed.lowest_pct, probed.highest_pct, probed.best_gb_per_s,
        scaling_json, sessions_json, numerics_json, settings.profile ? profile_json(profiler.phases()).c_str() : "");
    return 0;
  }
  std::printf("ossrt bench: %s, %lld layers, backend %s, %s numerics, %d threads, %s dense weights\n", name.c_str(),
              static_cast<long long>(config.num_hidden_layers), info.backend.c_str(), numerics_name, threads,
              info.dense_format.c_str());
  if (generate_seconds > 0)
    std::printf("  (synthetic weights written in %.1f s to %s)\n", generate_seconds, directory.c_str());
  if (info.cpu_expert_layers > 0)
    std::printf("  (experts of %zu layers on the CPU: %.3f GB in host memory)\n", info.cpu_expert_layers,
                static_cast<double>(info.host_expert_bytes) / 1e9);
  if (!cpu.empty()) std::printf("  cpu: %s\n", cpu.c_str());
  std::printf("  %-34s %12s  %s\n", "measurement", "value", "detail");
  std::printf("  %-34s %9.2f GB/s  before %.2f, after %.2f (%s of %zu MiB%s, best of 5)\n", "memory bandwidth",
              bandwidth, before.gb_per_s, after.gb_per_s, device_backend ? "device copy" : "read",
              settings.bandwidth_mib, device_backend ? "" : " in 2 MiB pages");
  std::printf("  %-34s %10.3f GB  weights read per decoded token\n", "bytes per token", bytes_per_token / 1e9);
  std::printf("  %-34s %8.2f tok/s  bandwidth / bytes per token\n", "decode roofline", roofline_tok_s);
  std::printf("  %-34s %9.1f GFLOP/s  fp32 FMA, all threads (register-only loop)\n", "compute peak", fma_peak);
  std::printf("  %-34s %8.2f tok/s  %.1f GFLOP/s = %.1f%% of peak, chunks of %zu\n",
              ("prefill " + std::to_string(settings.prompt_tokens) + " tokens").c_str(), prefill_tok_s, prefill_gflops,
              fma_peak > 0 ? 100 * prefill_gflops / fma_peak : 0.0, settings.chunk);
  std::printf("  %-34s %8.2f tok/s  %.1f%% of roofline, %.2f GB/s of weights\n",
              ("decode " + std::to_string(settings.decode_tokens) + " tokens at depth 0").c_str(),
              shallow.tokens_per_s(), roofline_pct, decode_gbs);
  std::printf(
      "  %-34s %8.2f tok/s  %.1f%% of the read beside each of %zu rounds (rounds %.1f-%.1f%%; best read %.2f GB/s)\n",
      "decode in turns with the probe", probed.decode.tokens_per_s(), probed.mean_pct, probed.rounds, probed.lowest_pct,
      probed.highest_pct, probed.best_gb_per_s);
  if (settings.scaling) {
    std::printf("  %-34s %8.2f tok/s  alternating with 1 thread, %zu rounds\n",
                ("decode at depth 0, " + std::to_string(threads) + " threads").c_str(), scaling.first.tokens_per_s(),
                scaling.rounds);
    std::printf("  %-34s %8.2f tok/s  %.1f%% of %d threads (rounds %.1f-%.1f%%)\n", "decode at depth 0, 1 thread",
                scaling.second.tokens_per_s(), 100 * scaling.ratio(), threads, 100 * scaling.lowest_ratio,
                100 * scaling.highest_ratio);
  }
  std::printf(
      "  %-34s %8.2f tok/s  %.1f%% of depth 0 (alternating, rounds %.1f-%.1f%%); %.3f GB read per token incl. KV "
      "(%s fill %.1f s)\n",
      ("decode " + std::to_string(settings.decode_tokens) + " tokens at depth " + std::to_string(settings.depth))
          .c_str(),
      deep.tokens_per_s(), depth_ratio_pct, 100 * depth.lowest_ratio, 100 * depth.highest_ratio, depth_bytes / 1e9,
      fill_name, fill_seconds);
  if (settings.sessions > 1) {
    std::printf("  %-34s %8.2f tok/s  alternating with %zu sessions together, %zu rounds\n", "1 session",
                batch.first.tokens_per_s(), settings.sessions, batch.rounds);
    std::printf(
        "  %-34s %8.2f tok/s  %.2fx one session (rounds %.2f-%.2fx); a step reads %.3f GB (%.1f distinct experts "
        "a layer), %.1f GFLOP: %.1f tok/s at the bandwidth, %.1f at the FMA peak\n",
        (std::to_string(settings.sessions) + " sessions together").c_str(), batch.second.tokens_per_s(), batch.ratio(),
        batch.lowest_ratio, batch.highest_ratio, step_bytes / 1e9, step_experts, step_flops / 1e9, batch_memory_tok_s,
        batch_compute_tok_s);
  }
  if (settings.compare_numerics) {
    std::printf("  %-34s %8.2f tok/s  alternating with exact numerics, %zu rounds\n", "decode in fast numerics",
                numerics.first.tokens_per_s(), numerics.rounds);
    std::printf("  %-34s %8.2f tok/s  %.1f%% of fast (rounds %.1f-%.1f%%)\n", "decode in exact numerics",
                numerics.second.tokens_per_s(), 100 * numerics.ratio(), 100 * numerics.lowest_ratio,
                100 * numerics.highest_ratio);
  }
  std::printf("  %-34s %10.3f GB  weights %s%s; KV and scratch for %zu positions%s\n", "peak RSS",
              static_cast<double>(peak_rss) / 1e9,
              model_options.weights_in_memory ? "in private memory (2 MiB pages)" : "mmapped",
              info.tiled_expert_matrices > 0 ? ", experts in tiles" : "", session_options.context_length,
              settings.sessions > 1 ? ", and the sessions decoded together" : "");
  std::printf("  %-34s %10.1f s\n", "model load (preload)", load_seconds);
  for (const PhaseProfile& p : profiler.phases()) print_profile(p);
  return 0;
}

}  // namespace ossrt_cli
