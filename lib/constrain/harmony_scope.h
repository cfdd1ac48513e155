// Where a JSON constraint applies in a harmony assistant turn, following the
// streaming parser's events token by token:
//  - headers, the analysis channel, commentary and every message not named
//    below are free: the logits are not touched at all;
//  - from <|channel|>final<|message|> to the end of that message, when a
//    response format is set, the response format's mask applies;
//  - in an assistant message to a strict tool ("to=functions.NAME ...
//    <|message|>", with or without <|constrain|>json), that tool's
//    parameter schema's mask applies;
//  - inside a constrained message the ender (<|return|> for the final answer,
//    <|call|> for a tool call) is allowed exactly when the JSON is complete,
//    and no other special token ever is.
// Thread rules: one scope per turn, used by one thread at a time.
#pragma once

#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "constrain/token_mask.h"
#include "ossrt/harmony.hpp"

namespace ossrt::constrain {

struct ScopeGrammars {
  std::shared_ptr<const Grammar> response_format;  // the final answer's; null = unconstrained
  std::map<std::string, std::shared_ptr<const Grammar>, std::less<>> strict_tools;  // by recipient "functions.NAME"

  bool empty() const noexcept { return !response_format && strict_tools.empty(); }
};

class HarmonyScope {
 public:
  // `vocabulary` is the tokenizer's (TokenVocabulary of the renderer's
  // tokenizer); `return_id` / `call_id` its <|return|> and <|call|>.
  HarmonyScope(std::shared_ptr<const TokenVocabulary> vocabulary, ScopeGrammars grammars, TokenId return_id,
               TokenId call_id);

  // Follows the token just pushed to the parser and the events that push
  // produced: a message_start of a constrained message opens a fresh matcher,
  // content tokens advance it, anything that ends the message closes it.
  void observe(TokenId token, harmony::ParserState parser_state, std::span<const harmony::ParseEvent> events);

  // Whether the next token is constrained.
  bool constrained() const noexcept { return active_ != nullptr; }
  // `logits` with every id the constraint refuses set to -inf (ids beyond
  // the tokenizer's vocabulary included), in storage the scope owns (valid
  // until the next call). Only while constrained(); otherwise `logits` itself.
  std::span<const float> masked(std::span<const float> logits);
  // The allowed ids of the last masked() call, over the tokenizer's vocabulary.
  const TokenMask& last_mask() const noexcept { return mask_; }
  // Whether the constrained value is complete (false when not constrained).
  bool complete() const;
  // Tokens the constraint refused after all (only a caller that samples
  // outside masked() can produce one): the scope then stops constraining
  // that message.
  size_t refused_tokens() const noexcept { return refused_; }

 private:
  const std::shared_ptr<const Grammar>* grammar_for(const harmony::ParseEvent& start) const;

  std::shared_ptr<const TokenVocabulary> vocabulary_;
  ScopeGrammars grammars_;
  TokenId return_id_, call_id_;
  std::unique_ptr<TokenMatcher> active_;
  TokenId ender_ = -1;  // what ends the active message
  TokenMask mask_;
  std::vector<float> masked_;
  size_t refused_ = 0;
};

}  // namespace ossrt::constrain
