#include "scripted_checkpoint.hpp"

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "checkpoint_writer.hpp"
#include "util/numeric.h"
#include "weather_script.h"

namespace testsupport {
namespace {

using ossrt::TokenId;

// Unembedding weights (see the header): a successor reads its predecessor's
// direction with kFollow (without the marker) or kFollowMarked plus
// kMarkerSeen times the "marker seen" direction (with it).
constexpr float kFollow = 16.0f, kFollowMarked = 8.0f, kMarkerSeen = 16.0f;
// The marker detector: its score is kQuery * kKey * sqrt(32) * 1.46 (YaRN's
// concentration, squared) / sqrt(16) = 41, so the marker takes all but
// e^-33 of the attention over 2,048 positions.
constexpr float kQuery = 8.0f, kKey = 2.5f;
// What a decoding step's winner must beat every other id by, in logits.
constexpr double kMinMargin = 16.0;

struct Chain {
  const char* name;
  const std::vector<TokenId>& ids;
  bool marked;
};

// The successor of each token of trigger + chain; refuses an id seen twice.
std::map<TokenId, TokenId> successors(TokenId trigger, const Chain& chain, TokenId vocab) {
  if (chain.ids.empty()) throw std::invalid_argument(std::string("scripted checkpoint: ") + chain.name + " is empty");
  std::map<TokenId, TokenId> next;
  std::set<TokenId> seen{trigger};
  TokenId current = trigger;
  for (TokenId id : chain.ids) {
    if (id < 0 || id >= vocab || !seen.insert(id).second) {
      throw std::invalid_argument("scripted checkpoint: id " + std::to_string(id) + " in " + chain.name +
                                  " is outside the vocabulary or appears twice (the chain would loop)");
    }
    next[current] = id;
    current = id;
  }
  return next;
}

// Residual directions: one per token with a successor, then the marker's and
// the "marker seen" one at the top.
class Directions {
 public:
  explicit Directions(int64_t width) : width_(width) {}
  int64_t marker() const { return width_ - 2; }
  int64_t marker_seen() const { return width_ - 1; }
  int64_t of(TokenId token) {
    auto [it, added] = by_token_.emplace(token, static_cast<int64_t>(by_token_.size()));
    if (added && it->second >= marker())
      throw std::invalid_argument("scripted checkpoint: more than " + std::to_string(marker()) +
                                  " distinct ids have successors");
    return it->second;
  }

 private:
  int64_t width_;
  std::map<TokenId, int64_t> by_token_;
};

void set_bf16(ossrt::TensorSpec& tensor, size_t index, float value) {
  const uint16_t bits = ossrt::f32_to_bf16(value);
  tensor.bytes.at(2 * index) = static_cast<uint8_t>(bits & 0xff);
  tensor.bytes.at(2 * index + 1) = static_cast<uint8_t>(bits >> 8);
}

float get_bf16(const ossrt::TensorSpec& tensor, size_t index) {
  return ossrt::bf16_to_f32(static_cast<uint16_t>(tensor.bytes.at(2 * index) | (tensor.bytes.at(2 * index + 1) << 8)));
}

// Replays every step of both chains on the final norm and the unembedding:
// the residual is the token's direction (plus "marker seen" with the marker),
// RMS-normalised; the expected successor must win by kMinMargin.
void check_steps(const ossrt::TensorSpec& unembedding, int64_t width, Directions& directions,
                 const std::map<TokenId, TokenId>& next, bool marked, const std::set<TokenId>& scripted) {
  for (const auto& [token, expected] : next) {
    std::vector<double> x(static_cast<size_t>(width), 0.0);
    x[static_cast<size_t>(directions.of(token))] = 1.0;
    if (marked) x[static_cast<size_t>(directions.marker_seen())] = 1.0;
    double mean_square = 0;
    for (double v : x) mean_square += v * v / static_cast<double>(width);
    const double scale = 1.0 / std::sqrt(mean_square + 1e-5);
    double winner = 0, runner_up = 0;  // unscripted ids score 0
    for (TokenId candidate : scripted) {
      double logit = 0;
      for (int64_t i = 0; i < width; ++i)
        logit +=
            x[static_cast<size_t>(i)] * scale *
            get_bf16(unembedding, static_cast<size_t>(candidate) * static_cast<size_t>(width) + static_cast<size_t>(i));
      if (candidate == expected)
        winner = logit;
      else
        runner_up = std::max(runner_up, logit);
    }
    if (winner - runner_up < kMinMargin) {
      throw std::invalid_argument("scripted checkpoint: after id " + std::to_string(token) +
                                  (marked ? " (with the marker)" : " (without the marker)") + ", id " +
                                  std::to_string(expected) + " would not win clearly (" + std::to_string(winner) +
                                  " vs " + std::to_string(runner_up) + "): the chains collide there");
    }
  }
}

}  // namespace

void write_scripted_checkpoint(const std::filesystem::path& directory, const Script& script) {
  const ossrt::ModelConfig config = ossrt::synthetic_config("tiny-chat").value();
  const int64_t H = config.hidden_size, D = config.head_dim, NQ = config.num_attention_heads;
  const int64_t NKV = config.num_key_value_heads;
  const auto vocab = static_cast<TokenId>(config.vocab_size);
  const Chain plain{"without_marker", script.without_marker, false};
  const Chain marked{"with_marker", script.with_marker, true};
  const auto next_plain = successors(script.trigger, plain, vocab);
  const auto next_marked = successors(script.trigger, marked, vocab);
  if (script.marker < 0 || script.marker >= vocab || script.without_marker.back() != script.marker ||
      next_plain.count(script.marker) != 0 || next_marked.count(script.marker) != 0 ||
      script.with_marker.back() == script.marker) {
    throw std::invalid_argument(
        "scripted checkpoint: the marker must end without_marker and appear nowhere else (trigger included)");
  }

  std::vector<ossrt::TensorSpec> tensors = tensor_layout(config);
  std::map<std::string, ossrt::TensorSpec*> by_name;
  for (ossrt::TensorSpec& t : tensors) {
    t.bytes.assign(ossrt::tensor_byte_size(t), 0);  // zero weights, biases, MXFP4 codes
    by_name[t.name] = &t;
  }
  auto tensor = [&](const std::string& name) -> ossrt::TensorSpec& { return *by_name.at(name); };
  for (ossrt::TensorSpec& t : tensors) {
    if (t.name.ends_with("norm.scale"))
      for (int64_t i = 0; i < H; ++i) set_bf16(t, static_cast<size_t>(i), 1.0f);
  }

  Directions directions(H);
  auto at = [&](TokenId token, int64_t column) {
    return static_cast<size_t>(token) * static_cast<size_t>(H) + static_cast<size_t>(column);
  };
  ossrt::TensorSpec& embedding = tensor("embedding.weight");
  ossrt::TensorSpec& unembedding = tensor("unembedding.weight");
  std::set<TokenId> scripted;
  for (const auto* next : {&next_plain, &next_marked}) {
    for (const auto& [token, successor] : *next) {
      set_bf16(embedding, at(token, directions.of(token)), 1.0f);
      scripted.insert(successor);
    }
  }
  for (const auto& [token, successor] : next_plain) set_bf16(unembedding, at(successor, directions.of(token)), kFollow);
  for (const auto& [token, successor] : next_marked) {
    set_bf16(unembedding, at(successor, directions.of(token)), kFollowMarked);
    set_bf16(unembedding, at(successor, directions.marker_seen()), kMarkerSeen);
  }
  set_bf16(embedding, at(script.marker, directions.marker()), 1.0f);

  // Layer 1 (full attention), head 0 and its key-value head 0. Rows of qkv:
  // NQ query heads, NKV key heads, NKV value heads, D rows each; RoPE pairs
  // dimension i with i + D/2, and the pair (D/2 - 1, D - 1) turns slowest.
  const std::string layer = "block.1.attn.";
  const int64_t slow = D - 1, key_row = NQ * D + slow, value_row = (NQ + NKV) * D;
  set_bf16(tensor(layer + "qkv.bias"), static_cast<size_t>(slow), kQuery);
  set_bf16(tensor(layer + "qkv.weight"), static_cast<size_t>(key_row * H + directions.marker()), kKey);
  // The marker's normalised residual is sqrt(H) on its direction: value 1.
  set_bf16(tensor(layer + "qkv.weight"), static_cast<size_t>(value_row * H + directions.marker()),
           1.0f / std::sqrt(static_cast<float>(H)));
  set_bf16(tensor(layer + "out.weight"), static_cast<size_t>(directions.marker_seen() * NQ * D), 1.0f);

  check_steps(unembedding, H, directions, next_plain, false, scripted);
  check_steps(unembedding, H, directions, next_marked, true, scripted);
  write_checkpoint(directory, config, tensors);
}

Script weather_script(const ossrt::Tokenizer& tokenizer) {
  auto encode = [&](const char* text) {
    auto ids = tokenizer.encode(text, ossrt::AllowedSpecials::all());
    if (!ids.ok()) throw std::runtime_error(ids.status().to_string());
    return ids.value();
  };
  Script script;
  script.trigger = encode("assistant").at(0);
  script.marker = tokenizer.special_id(ossrt::SpecialToken::call);
  script.without_marker = encode(OSSRT_WEATHER_CALL_TEXT);
  script.with_marker = encode(OSSRT_WEATHER_ANSWER_TEXT);
  return script;
}

}  // namespace testsupport
