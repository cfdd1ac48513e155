// ossrt-bench-sampler: what one Sampler::sample call costs on a full
// vocabulary (201,088 logits), per distribution and sampler configuration,
// as microseconds and as a share of a decode step. Flat rows are the hard
// case: nearly every token stays a candidate under top-p and min-p.
//
//   ossrt-bench-sampler [--step-ms MS] [--vocab N] [--seconds S] [--json]
//
// --step-ms is the decode step the share is taken of (default 100 ms: about
// 10 tok/s, gpt-oss-20b on 2 Zen 4 cores); --seconds bounds the time spent
// per case (default 0.5, at least 11 and at most 2000 samples each). Times
// are the calling thread's CPU time (median, 99th percentile) and, for
// comparison, the wall-clock median.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "ossrt/sampler.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ossrt::SamplerOptions;
using ossrt::TokenId;

// A few rows per distribution, so that no single row's layout is what is timed.
constexpr int kRowsPerDistribution = 4;

struct Distribution {
  const char* name;
  std::vector<std::vector<float>> rows;
};

std::vector<float> flat_row(size_t vocab, std::mt19937& rng) {  // near-uniform: N(0, 0.01)
  std::normal_distribution<float> normal(0, 0.01f);
  std::vector<float> row(vocab);
  for (float& x : row) x = normal(rng);
  return row;
}

std::vector<float> peaked_row(size_t vocab, std::mt19937& rng) {  // one token 15 above N(0, 1)
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> row(vocab);
  for (float& x : row) x = normal(rng);
  row[rng() % vocab] += 15;
  return row;
}

// Like a language model's: Zipf-like in a random rank order (a heavy head,
// a long tail), with noise.
std::vector<float> typical_row(size_t vocab, std::mt19937& rng) {
  std::vector<size_t> rank(vocab);
  std::iota(rank.begin(), rank.end(), size_t{1});
  std::shuffle(rank.begin(), rank.end(), rng);
  std::normal_distribution<float> noise(0, 0.5f);
  std::vector<float> row(vocab);
  for (size_t i = 0; i < vocab; ++i) row[i] = 14.0f - 1.3f * std::log(static_cast<float>(rank[i])) + noise(rng);
  return row;
}

struct Config {
  const char* name;
  SamplerOptions options;
};

std::vector<Config> configs(size_t vocab) {
  SamplerOptions greedy, temperature, top_k, top_p, min_p, combined;
  greedy.temperature = 0;
  temperature.temperature = 0.8f;
  top_k.top_k = 40;
  top_p.top_p = 0.9f;
  min_p.min_p = 0.05f;
  combined.temperature = 0.8f;
  combined.top_k = 40;
  combined.top_p = 0.9f;
  combined.min_p = 0.05f;
  combined.repetition_penalty = 1.1f;
  combined.presence_penalty = 0.2f;
  combined.logit_bias = {{static_cast<TokenId>(vocab / 2), -2.0f}};
  return {{"greedy", greedy},   {"temperature", temperature}, {"top_k_40", top_k},
          {"top_p_0.9", top_p}, {"min_p_0.05", min_p},        {"combined", combined}};
}

// The calling thread's CPU time: what a call costs, without the time other
// processes hold the core (on a shared 2-core machine, preemptions of a few
// milliseconds would otherwise be the 99th percentile).
double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) * 1e-3;
}

struct Timing {
  double median_us, p99_us;  // CPU time per call
  double wall_median_us;     // wall-clock time per call
  size_t samples;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank > 0 ? rank - 1 : 0)];
}

Timing time_case(const ossrt::Sampler& sampler, const Distribution& d, const std::vector<TokenId>& history,
                 double seconds) {
  std::vector<double> cpu_us, wall_us;
  const auto start = Clock::now();
  for (uint64_t position = 0; cpu_us.size() < 2000; ++position) {
    const std::vector<float>& row = d.rows[position % d.rows.size()];
    const double c0 = thread_cpu_us();
    const auto t0 = Clock::now();
    auto token = sampler.sample(row, history, position);
    const auto t1 = Clock::now();
    const double c1 = thread_cpu_us();
    if (!token.ok()) {
      std::fprintf(stderr, "ossrt-bench-sampler: %s\n", token.status().to_string().c_str());
      std::exit(1);
    }
    if (position < 2) continue;  // warm-up
    cpu_us.push_back(c1 - c0);
    wall_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if (cpu_us.size() >= 11 && std::chrono::duration<double>(t1 - start).count() > seconds) break;
  }
  return {percentile(cpu_us, 0.5), percentile(cpu_us, 0.99), percentile(wall_us, 0.5), cpu_us.size()};
}

bool parse_positive(const char* text, double* out) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v > 0) || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

int usage() {
  std::fprintf(stderr, "usage: ossrt-bench-sampler [--step-ms MS] [--vocab N] [--seconds S] [--json]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  double step_ms = 100, seconds = 0.5, vocab_value = 201088;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (std::strcmp(argv[i], "--step-ms") == 0 && has_value) {
      if (!parse_positive(argv[++i], &step_ms)) return usage();
    } else if (std::strcmp(argv[i], "--seconds") == 0 && has_value) {
      if (!parse_positive(argv[++i], &seconds)) return usage();
    } else if (std::strcmp(argv[i], "--vocab") == 0 && has_value) {
      if (!parse_positive(argv[++i], &vocab_value) || vocab_value != std::floor(vocab_value) || vocab_value < 2 ||
          vocab_value > 1e8) {
        std::fprintf(stderr, "ossrt-bench-sampler: --vocab must be a whole number in [2, 1e8]\n");
        return 2;
      }
    } else {
      return usage();
    }
  }
  const size_t vocab = static_cast<size_t>(vocab_value);
  std::mt19937 rng(2026);
  std::vector<Distribution> distributions = {{"flat", {}}, {"peaked", {}}, {"typical", {}}};
  for (int r = 0; r < kRowsPerDistribution; ++r) {
    distributions[0].rows.push_back(flat_row(vocab, rng));
    distributions[1].rows.push_back(peaked_row(vocab, rng));
    distributions[2].rows.push_back(typical_row(vocab, rng));
  }
  std::vector<TokenId> history(64);  // what the penalties look at
  for (TokenId& id : history) id = static_cast<TokenId>(rng() % vocab);

  if (!json) {
    std::printf("sampler: %zu logits, decode step %.1f ms (%.1f tok/s)\n", vocab, step_ms, 1000.0 / step_ms);
    std::printf("%-9s %-12s %10s %10s %9s %10s %8s\n", "rows", "config", "median_us", "p99_us", "p99/step", "wall_med",
                "samples");
  } else {
    std::printf("{\"vocab\":%zu,\"step_ms\":%.3f,\"cases\":{", vocab, step_ms);
  }
  double worst_share = 0;
  bool first = true;
  for (const Distribution& d : distributions) {
    for (const Config& c : configs(vocab)) {
      auto sampler = ossrt::Sampler::create(c.options);
      if (!sampler.ok()) {
        std::fprintf(stderr, "ossrt-bench-sampler: %s\n", sampler.status().to_string().c_str());
        return 1;
      }
      const Timing t = time_case(sampler.value(), d, history, seconds);
      const double share = t.p99_us / (step_ms * 1000.0);  // of the step, at the 99th percentile
      worst_share = std::max(worst_share, share);
      if (json) {
        std::printf(
            "%s\"%s.%s\":{\"median_us\":%.2f,\"p99_us\":%.2f,\"step_share_p99\":%.6f,\"wall_median_us\":%.2f,"
            "\"samples\":%zu}",
            first ? "" : ",", d.name, c.name, t.median_us, t.p99_us, share, t.wall_median_us, t.samples);
      } else {
        std::printf("%-9s %-12s %10.1f %10.1f %8.3f%% %10.1f %8zu\n", d.name, c.name, t.median_us, t.p99_us,
                    100 * share, t.wall_median_us, t.samples);
      }
      first = false;
    }
  }
  if (json) {
    std::printf("},\"worst_step_share_p99\":%.6f}\n", worst_share);
  } else {
    std::printf("worst case: %.3f%% of the decode step at the 99th percentile\n", 100 * worst_share);
  }
  return 0;
}
