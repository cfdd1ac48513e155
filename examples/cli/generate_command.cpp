// ossrt generate: raw generation after a prompt of ids or text. Every token
// generated is printed, also when the context fills or a step fails.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "commands.h"

namespace ossrt_cli {

int run_generate(const ParsedFlags& flags) {
  auto tokenizer = ossrt::Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) return fail(tokenizer.status());
  const std::optional<std::string> text = flags.text("prompt");
  std::vector<ossrt::TokenId> prompt;
  if (text) {
    auto ids = tokenizer.value()->encode(*text, ossrt::AllowedSpecials::all());
    if (!ids.ok()) return fail(ids.status());
    prompt = std::move(ids.value());
  } else {
    prompt = flags.ids("tokens").value_or(prompt);
  }
  if (prompt.empty()) return usage_error(flags.spec(), "--prompt: the prompt is empty");
  const std::vector<ossrt::TokenId> stop = flags.ids("stop").value_or(std::vector<ossrt::TokenId>{});
  const size_t requested = flags.count("max-tokens").value_or(0);
  ossrt::SessionOptions options;
  options.context_length = flags.count("context").value_or(0);
  options.max_batch_tokens = flags.count("chunk").value_or(options.max_batch_tokens);
  options.numerics = numerics_from_flags(flags);
  auto sampler = sampler_from_flags(flags);
  if (!sampler.ok()) return usage_error(flags.spec(), sampler.status().message());

  auto model = load_model(flags);
  if (!model.ok()) return fail(model.status());
  auto created = ossrt::Session::create(model.value(), options);
  if (!created.ok()) return fail(created.status());
  ossrt::Session& session = *created.value();
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  if (auto st = session.append(prompt); !st.ok()) return fail(st);
  const auto t1 = Clock::now();
  // Asking for no more than the context holds keeps a full context from
  // being a failure (Session::generate fails with context_overflow when the
  // context is full).
  const size_t room = session.context_length() - session.tokens().size();
  auto generated = session.generate(std::min(requested, room), sampler.value(), stop);
  const auto t2 = Clock::now();
  // After a failure the tokens drawn before it are still in the session.
  const std::span<const ossrt::TokenId> all = session.tokens();
  const std::vector<ossrt::TokenId> tokens(all.begin() + static_cast<std::ptrdiff_t>(prompt.size()), all.end());
  std::printf("%s\n", join_ids(tokens).c_str());
  if (text) std::printf("%s\n", tokenizer.value()->decode_lossy(tokens).c_str());
  std::fflush(stdout);
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr, "prompt %zu tokens in %.3f s; generated %zu tokens in %.3f s (%.1f tok/s)\n", prompt.size(),
               prefill_s, tokens.size(), decode_s, decode_s > 0 ? static_cast<double>(tokens.size()) / decode_s : 0.0);
  if (!generated.ok()) return fail(generated.status());
  const bool stopped = !tokens.empty() && std::find(stop.begin(), stop.end(), tokens.back()) != stop.end();
  if (tokens.size() < requested && tokens.size() == room && !stopped) {
    std::fprintf(stderr, "ossrt generate: the context is full (%zu tokens): generated %zu of the %zu asked for\n",
                 session.context_length(), tokens.size(), requested);
    return kExitContextFull;
  }
  return 0;
}

}  // namespace ossrt_cli
