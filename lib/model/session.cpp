// Session: token history, KV cache and chunked prefill over a shared Model.
#include "ossrt/session.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "model/session_impl.h"
#include "util/errors.h"
#include "util/regular_file.h"
#include "util/thread_scope.h"

namespace ossrt {

size_t first_non_finite(std::span<const float> values) {
  // Sums propagate NaN and infinity: one pass, and the search only when needed.
  float sum = 0;
  for (float v : values) sum += v * 0.0f;
  if (sum == 0) return values.size();
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) return i;
  return values.size();
}

namespace {}  // namespace

Result<SessionOptions> resolve_session_options(size_t max_context_length, const SessionOptions& options) {
  SessionOptions resolved = options;
  if (resolved.context_length == 0) resolved.context_length = max_context_length;
  if (resolved.context_length > max_context_length) {
    return error(StatusCode::invalid_argument, "Session::create: context_length %zu exceeds the model's maximum %zu",
                 resolved.context_length, max_context_length);
  }
  if (resolved.max_batch_tokens == 0) {
    return Status(StatusCode::invalid_argument, "Session::create: max_batch_tokens must be at least 1");
  }
  if (resolved.numerics != Numerics::exact && resolved.numerics != Numerics::fast) {
    return error(StatusCode::invalid_argument, "Session::create: numerics %d is not a Numerics value",
                 static_cast<int>(resolved.numerics));
  }
  if (resolved.threads > kMaxSessionThreads) {
    // OpenMP cannot start that many (libgomp exits the process when it fails).
    return error(StatusCode::invalid_argument, "Session::create: threads %zu exceeds the limit of %zu",
                 resolved.threads, kMaxSessionThreads);
  }
  // Neither a chunk nor the rewind room can usefully exceed the context;
  // bounding both keeps the ring size (window + chunk + rewind) from overflowing.
  resolved.max_batch_tokens = std::min(resolved.max_batch_tokens, resolved.context_length);
  resolved.rewind_tokens = std::min(resolved.rewind_tokens, resolved.context_length);
  return resolved;
}

KvLayout kv_layout(const ModelConfig& c, const SessionOptions& resolved) {
  return KvLayout{static_cast<size_t>(c.num_hidden_layers),
                  static_cast<size_t>(c.num_key_value_heads * c.head_dim),
                  static_cast<size_t>(c.sliding_window),
                  resolved.context_length,
                  resolved.max_batch_tokens,
                  resolved.rewind_tokens,
                  resolved.numerics == Numerics::fast ? KvType::bf16 : KvType::f32};
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model,
                                                 const SessionOptions& options) noexcept {
  return guard("Session::create", [&]() -> Result<std::unique_ptr<Session>> {
    if (!model) return Status(StatusCode::invalid_argument, "Session::create: model is null");
    const ModelInfo& info = model->info();
    Result<SessionOptions> checked = resolve_session_options(info.max_context_length, options);
    if (!checked.ok()) return checked.status();
    const SessionOptions& resolved = checked.value();
    auto impl = std::make_unique<Impl>();
    impl->model = std::move(model);
    impl->options = resolved;
    const KvLayout layout = kv_layout(info.config, resolved);
    Result<KvCache> cache = KvCache::create(impl->m().backend, layout);
    if (!cache.ok()) return cache.status();
    impl->cache = std::move(cache.value());
    Result<Workspace> workspace = Workspace::create(impl->m(), resolved.max_batch_tokens);
    if (!workspace.ok()) return workspace.status();
    impl->workspace = std::move(workspace.value());
    impl->m().log(LogLevel::debug, "session: context %zu, chunk %zu, KV %zu bytes now, scratch %zu bytes",
                  resolved.context_length, resolved.max_batch_tokens, impl->cache.bytes(), impl->workspace.bytes());
    return std::unique_ptr<Session>(new Session(std::move(impl)));
  });
}

Status Session::Impl::append(std::span<const TokenId> input, std::vector<float>* logits_all) {
  Impl& s = *this;
  const size_t vocab = static_cast<size_t>(s.m().config().vocab_size);
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] < 0 || static_cast<size_t>(input[i]) >= vocab) {
      return error(StatusCode::invalid_token,
                   "Session::append: token %d at index %zu is outside the vocabulary [0, %zu)", input[i], i, vocab);
    }
  }
  if (input.size() > s.options.context_length - s.tokens.size()) {
    return error(StatusCode::context_overflow,
                 "Session::append: %zu tokens do not fit: the session holds %zu of its %zu-token context", input.size(),
                 s.tokens.size(), s.options.context_length);
  }
  if (input.empty()) return Status::success();
  if (Status st = s.m().check_files_unchanged(); !st.ok()) return st;
  if (Status st = s.cache.reserve(s.tokens.size() + input.size()); !st.ok()) return st;
  const size_t chunk = s.options.max_batch_tokens;
  const ThreadCountScope threads(s.options.threads);
  if (logits_all != nullptr) {
    if (Status st = s.workspace.reserve_logits(s.m(), std::min(chunk, input.size())); !st.ok()) return st;
    logits_all->resize(input.size() * vocab);
  }
  // s.logits changes only when the whole call succeeds; the staging buffer
  // keeps its capacity, so decoding does not allocate per token.
  std::vector<float>& last = s.pending_logits;
  last.resize(vocab);
  for (size_t begin = 0; begin < input.size(); begin += chunk) {
    const size_t n = std::min(chunk, input.size() - begin);
    const bool last_chunk = begin + n == input.size();
    float* out = logits_all != nullptr ? logits_all->data() + begin * vocab : last.data();
    const size_t logits_from = logits_all != nullptr ? 0 : (last_chunk ? n - 1 : n);
    const Status step = forward_chunk(s.m(), s.cache, s.workspace, input.data() + begin, n, s.tokens.size(),
                                      logits_from, s.options.numerics, out, s.cancel_requested);
    if (!step.ok() && step.code() != StatusCode::cancelled) return step;
    const bool completed = step.ok();
    // The callback sees every completed chunk; asking to stop after the last one is moot.
    const bool keep_going =
        !completed || !s.options.prefill_progress || s.options.prefill_progress(begin + n, input.size());
    const bool go_on = completed && (keep_going || last_chunk);
    if (completed) {
      s.tokens.insert(s.tokens.end(), input.begin() + static_cast<std::ptrdiff_t>(begin),
                      input.begin() + static_cast<std::ptrdiff_t>(begin + n));
    }
    if (!go_on) {
      const size_t committed = completed ? begin + n : begin;
      if (committed > 0) s.logits.clear();  // the last committed position has no logits
      if (logits_all != nullptr) logits_all->resize(committed * vocab);
      return error(StatusCode::cancelled, "Session::append: cancelled after %zu of %zu tokens", committed,
                   input.size());
    }
  }
  if (logits_all != nullptr) {
    std::copy(logits_all->end() - static_cast<std::ptrdiff_t>(vocab), logits_all->end(), last.begin());
  }
  // The weights were read during the call: a file rewritten meanwhile, or
  // damaged weights, must not hand out logits as if nothing happened (greedy
  // sampling of all-NaN logits would pick token 0 and carry on).
  if (Status st = s.m().check_files_unchanged(); !st.ok()) {
    s.logits.clear();
    return st;
  }
  if (const size_t bad = first_non_finite(last); bad < last.size()) {
    s.logits.clear();
    return error(StatusCode::invalid_checkpoint,
                 "Session::append: logit %zu at position %zu is %g: the weights are damaged (load with "
                 "validate_weights to name the tensor)",
                 bad, s.tokens.size() - 1, static_cast<double>(last[bad]));
  }
  s.logits.swap(last);
  return Status::success();
}

Status Session::Impl::truncate(size_t n) {
  if (n > tokens.size())
    return error(StatusCode::invalid_argument, "Session::truncate: %zu is more than the %zu tokens held", n,
                 tokens.size());
  if (n == tokens.size()) return Status::success();
  if (tokens.size() - n <= cache.rewindable()) {
    tokens.resize(n);
    logits.clear();
    return Status::success();
  }
  // The sliding-window rings no longer hold the window before n: run the kept tokens again.
  std::vector<TokenId> kept(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n));
  tokens.clear();
  logits.clear();
  return append(kept, nullptr);
}

size_t Session::Impl::reusable_prefix(std::span<const TokenId> target) const {
  size_t common = 0;
  while (common < tokens.size() && common < target.size() && tokens[common] == target[common]) ++common;
  if (common == target.size() && common == tokens.size() && !logits.empty()) return common;
  // The last token is always run again when anything changes, so logits() predicts the next one.
  size_t keep = std::min(common, target.empty() ? 0 : target.size() - 1);
  // Beyond the rewind room nothing counts as reused: truncate(0) drops all and the target is prefilled whole.
  if (tokens.size() - keep > cache.rewindable()) keep = 0;
  return keep;
}

Result<size_t> Session::Impl::sync_prefix(std::span<const TokenId> target) {
  const size_t keep = reusable_prefix(target);
  if (keep == target.size() && keep == tokens.size()) return keep;
  if (Status st = truncate(keep); !st.ok()) return st;
  if (Status st = append(target.subspan(keep), nullptr); !st.ok()) return st;
  return keep;
}

namespace {

constexpr char kStateMagic[8] = {'O', 'S', 'S', 'R', 'T', 'S', 'E', 'S'};
// 2: the model fingerprint covers the bound weights, the same for every checkpoint layout (1 hashed the
// original layout's tensor names, so a version 1 state names a fingerprint no model has any more).
constexpr uint32_t kStateVersion = 2;

struct StateHeader {
  char magic[8];
  uint32_t version;
  uint32_t reserved;
  uint64_t fingerprint, tokens, logits, layers, width;
};

struct LayerHeader {
  uint64_t first, count;
};

template <class T>
void put(std::vector<uint8_t>& out, const T* items, size_t count) {
  if (count == 0) return;
  const size_t at = out.size();
  out.resize(at + count * sizeof(T));
  std::memcpy(out.data() + at, static_cast<const void*>(items), count * sizeof(T));
}

// Reads from a blob with bounds checks.
struct Reader {
  std::span<const uint8_t> blob;
  size_t at = 0;
  template <class T>
  bool get(T* items, size_t count) {
    if (count == 0) return true;  // an empty vector's data() may be null: no memcpy
    if (count > (blob.size() - at) / sizeof(T)) return false;
    std::memcpy(static_cast<void*>(items), blob.data() + at, count * sizeof(T));
    at += count * sizeof(T);
    return true;
  }
};

}  // namespace

size_t Session::Impl::state_size() const {
  const KvLayout& layout = cache.layout();
  size_t size = sizeof(StateHeader) + tokens.size() * sizeof(TokenId) + logits.size() * sizeof(float);
  for (size_t layer = 0; layer < layout.layers; ++layer) {
    const size_t held = tokens.size() - cache.held_from(layer, tokens.size());
    size += sizeof(LayerHeader) + 2 * held * layout.width * sizeof(float);
  }
  return size;
}

std::vector<uint8_t> Session::Impl::save() const {
  const KvLayout& layout = cache.layout();
  StateHeader header{};
  std::memcpy(header.magic, kStateMagic, sizeof kStateMagic);
  header.version = kStateVersion;
  header.fingerprint = model->info().fingerprint;
  header.tokens = tokens.size();
  header.logits = logits.size();
  header.layers = layout.layers;
  header.width = layout.width;
  std::vector<uint8_t> out;
  out.reserve(state_size());
  put(out, &header, 1);
  put(out, tokens.data(), tokens.size());
  put(out, logits.data(), logits.size());
  std::vector<float> keys, values;
  for (size_t layer = 0; layer < layout.layers; ++layer) {
    const LayerHeader held{cache.held_from(layer, tokens.size()),
                           tokens.size() - cache.held_from(layer, tokens.size())};
    keys.resize(held.count * layout.width);
    values.resize(held.count * layout.width);
    cache.read_positions(layer, held.first, held.count, keys.data(), values.data());
    put(out, &held, 1);
    put(out, keys.data(), keys.size());
    put(out, values.data(), values.size());
  }
  return out;
}

Status Session::Impl::restore(std::span<const uint8_t> blob) {
  Reader in{blob};
  StateHeader header{};
  if (!in.get(&header, 1) || std::memcmp(header.magic, kStateMagic, sizeof kStateMagic) != 0)
    return Status(StatusCode::invalid_argument, "Session::restore_state: not an ossrt session state (bad magic)");
  if (header.version != kStateVersion)
    return error(StatusCode::invalid_argument, "Session::restore_state: format version %u, this build reads %u",
                 header.version, kStateVersion);
  if (header.fingerprint != model->info().fingerprint)
    return Status(StatusCode::invalid_state, "Session::restore_state: the state was saved from a different model");
  const KvLayout& layout = cache.layout();
  if (header.layers != layout.layers || header.width != layout.width ||
      (header.logits != 0 && header.logits != static_cast<uint64_t>(m().config().vocab_size)))
    return Status(StatusCode::invalid_argument, "Session::restore_state: layer count, width or vocabulary differ");
  if (header.tokens > options.context_length)
    return error(StatusCode::context_overflow, "Session::restore_state: %llu tokens exceed the context length %zu",
                 static_cast<unsigned long long>(header.tokens), options.context_length);
  std::vector<TokenId> new_tokens(header.tokens);
  std::vector<float> new_logits(header.logits);
  if (!in.get(new_tokens.data(), new_tokens.size()) || !in.get(new_logits.data(), new_logits.size()))
    return Status(StatusCode::invalid_argument, "Session::restore_state: truncated tokens or logits");
  Result<KvCache> fresh = KvCache::create(m().backend, layout);
  if (!fresh.ok()) return fresh.status();
  if (Status st = fresh.value().reserve(new_tokens.size()); !st.ok()) return st;
  std::vector<float> keys, values;
  for (size_t layer = 0; layer < layout.layers; ++layer) {
    LayerHeader held{};
    // Every layer must hold its tail up to the last token; at least the window the next token needs.
    const uint64_t needed = std::min<uint64_t>(header.tokens, layout.sliding_window - 1);
    if (!in.get(&held, 1) || held.first + held.count != header.tokens || held.count < needed ||
        held.count > header.tokens)
      return error(StatusCode::invalid_argument, "Session::restore_state: layer %zu holds an inconsistent range",
                   layer);
    keys.resize(held.count * layout.width);
    values.resize(held.count * layout.width);
    if (!in.get(keys.data(), keys.size()) || !in.get(values.data(), values.size()))
      return error(StatusCode::invalid_argument, "Session::restore_state: layer %zu is truncated", layer);
    // A smaller ring keeps only its capacity's worth of the most recent positions.
    const size_t keep_from = std::max<size_t>(held.first, fresh.value().held_from(layer, header.tokens));
    if (!fresh.value().layer(layer).ring && held.first != 0)
      return error(StatusCode::invalid_argument, "Session::restore_state: dense layer %zu misses positions", layer);
    const size_t skip = keep_from - held.first;
    fresh.value().write_positions(layer, held.first + skip, held.count - skip, keys.data() + skip * layout.width,
                                  values.data() + skip * layout.width);
  }
  if (in.at != blob.size()) return Status(StatusCode::invalid_argument, "Session::restore_state: trailing bytes");
  cache = std::move(fresh.value());
  tokens = std::move(new_tokens);
  logits = std::move(new_logits);
  return Status::success();
}

Status Session::append(std::span<const TokenId> tokens, std::vector<float>* logits_all) noexcept {
  impl_->cancel_requested.store(false);
  return guard("Session::append", [&] { return impl_->append(tokens, logits_all); });
}

Result<std::unique_ptr<Session>> Session::fork() const noexcept {
  return guard("Session::fork", [&]() -> Result<std::unique_ptr<Session>> {
    auto created = Session::create(impl_->model, impl_->options);
    if (!created.ok()) return created.status();
    Impl& copy = *created.value()->impl_;
    Result<KvCache> cache = impl_->cache.copy(impl_->tokens.size());
    if (!cache.ok()) return cache.status();
    copy.cache = std::move(cache.value());
    copy.tokens = impl_->tokens;
    copy.logits = impl_->logits;
    return std::move(created.value());
  });
}

void Session::cancel() noexcept {
  impl_->cancel_requested.store(true);
}

std::span<const float> Session::logits() const noexcept {
  return impl_->logits;
}

Result<std::vector<TokenId>> Session::generate(size_t max_tokens, const Sampler& sampler,
                                               std::span<const TokenId> stop_tokens) noexcept {
  return guard("Session::generate", [&]() -> Result<std::vector<TokenId>> {
    if (impl_->logits.empty()) return Status(StatusCode::invalid_state, "Session::generate: append a prompt first");
    impl_->cancel_requested.store(false);
    std::vector<TokenId> generated;
    while (generated.size() < max_tokens) {
      if (impl_->cancel_requested.load()) {
        return error(StatusCode::cancelled, "Session::generate: cancelled after %zu tokens", generated.size());
      }
      auto next = sampler.sample(impl_->logits, impl_->tokens, impl_->tokens.size());
      if (!next.ok()) return next.status();
      const TokenId one[1] = {next.value()};
      if (Status st = impl_->append(one, nullptr); !st.ok()) return st;
      generated.push_back(one[0]);
      if (std::find(stop_tokens.begin(), stop_tokens.end(), one[0]) != stop_tokens.end()) break;
    }
    return generated;
  });
}

Result<std::vector<TokenId>> Session::generate_greedy(size_t max_tokens,
                                                      std::span<const TokenId> stop_tokens) noexcept {
  SamplerOptions greedy;
  greedy.temperature = 0.0f;
  auto sampler = Sampler::create(greedy);
  if (!sampler.ok()) return sampler.status();
  return generate(max_tokens, sampler.value(), stop_tokens);
}

Status Session::truncate(size_t n) noexcept {
  impl_->cancel_requested.store(false);
  return guard("Session::truncate", [&] { return impl_->truncate(n); });
}

Result<size_t> Session::sync_prefix(std::span<const TokenId> tokens) noexcept {
  impl_->cancel_requested.store(false);
  return guard("Session::sync_prefix", [&] { return impl_->sync_prefix(tokens); });
}

Result<std::vector<uint8_t>> Session::save_state() const noexcept {
  return guard("Session::save_state", [&]() -> Result<std::vector<uint8_t>> { return impl_->save(); });
}

size_t Session::state_size() const noexcept {
  return impl_->state_size();
}

Status Session::restore_state(std::span<const uint8_t> blob) noexcept {
  return guard("Session::restore_state", [&] { return impl_->restore(blob); });
}

Status Session::save_state_file(const std::filesystem::path& path) const noexcept {
  return guard("Session::save_state_file", [&]() -> Status {
    const std::vector<uint8_t> blob = impl_->save();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(blob.data()), static_cast<std::streamsize>(blob.size()));
    out.close();
    if (!out) return error(StatusCode::io_error, "Session::save_state_file: cannot write %s", path.c_str());
    return Status::success();
  });
}

Status Session::restore_state_file(const std::filesystem::path& path) noexcept {
  return guard("Session::restore_state_file", [&]() -> Status {
    Result<std::string> blob = read_regular_file(path, "session state");
    if (!blob.ok()) return blob.status();
    const std::string& bytes = blob.value();
    return impl_->restore(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  });
}

Session::Memory Session::memory() const noexcept {
  Memory memory;
  memory.kv_cache_bytes = impl_->cache.bytes();
  memory.scratch_bytes = impl_->workspace.bytes() + impl_->pending_logits.capacity() * sizeof(float);
  memory.logits_bytes = impl_->logits.capacity() * sizeof(float);
  return memory;
}

void Session::reset() noexcept {
  impl_->tokens.clear();
  impl_->logits.clear();
}

std::span<const TokenId> Session::tokens() const noexcept {
  return impl_->tokens;
}
size_t Session::context_length() const noexcept {
  return impl_->options.context_length;
}
const Model& Session::model() const noexcept {
  return *impl_->model;
}
size_t Session::kv_cache_bytes() const noexcept {
  return impl_->cache.bytes();
}

}  // namespace ossrt
