// The o200k_harmony tokenizer: tiktoken's o200k_base (its pre-tokenizer
// pattern and 199,998 byte-level BPE ranks) plus the 1,090 special ids
// 199998..201087, exact to the id and fully offline (the ranks are compiled
// into the library).
//
// Thread rules: a Tokenizer is immutable; every member is safe to call from
// any number of threads at once. A StreamDecoder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ossrt/status.hpp"

namespace ossrt {

using TokenId = int32_t;

// Special tokens by meaning (harmony's format and stop tokens among them).
enum class SpecialToken { startoftext, endoftext, return_, constrain, channel, start, end, message, call };

// Which special-token texts encode() turns into special ids.
class AllowedSpecials {
 public:
  // Special-token text is ordinary text (tiktoken encode_ordinary).
  static AllowedSpecials none() { return AllowedSpecials(false, {}); }
  // Every special-token text, both names of 200018 included.
  static AllowedSpecials all() { return AllowedSpecials(true, {}); }
  // Only these ids (by either of their names).
  static AllowedSpecials only(std::vector<TokenId> ids) { return AllowedSpecials(false, std::move(ids)); }

  bool allows(TokenId id) const noexcept;
  bool any() const noexcept { return all_ || !ids_.empty(); }

 private:
  AllowedSpecials(bool all, std::vector<TokenId> ids) : all_(all), ids_(std::move(ids)) {}
  bool all_;
  std::vector<TokenId> ids_;
};

class Tokenizer {
 public:
  // The built-in o200k_harmony tokenizer; every call returns the same shared
  // instance. Failure: out_of_memory (building the lookup tables), internal.
  static Result<std::shared_ptr<const Tokenizer>> o200k_harmony() noexcept;

  // Encodes UTF-8 text. Byte sequences that are not valid UTF-8 are replaced
  // first, each maximal invalid subpart by U+FFFD; a U+FEFF anywhere is an
  // ordinary character. Failure: out_of_memory.
  Result<std::vector<TokenId>> encode(std::string_view text,
                                      const AllowedSpecials& allowed = AllowedSpecials::none()) const noexcept;
  // Encodes raw bytes of unknown quality, decoded as the WHATWG/Unicode UTF-8
  // decoder does: a leading BOM is a signature and dropped, each maximal
  // invalid subpart becomes U+FFFD. Failure: out_of_memory.
  Result<std::vector<TokenId>> encode_bytes(std::string_view bytes,
                                            const AllowedSpecials& allowed = AllowedSpecials::none()) const noexcept;

  // Bytes of the tokens (special ids give their text). Failure: invalid_token
  // (an id outside [0, vocab_size()); the message names its index).
  Result<std::string> decode(std::span<const TokenId> ids) const noexcept;
  // As decode, but always valid UTF-8: invalid byte sequences and unknown ids
  // become U+FFFD. Never fails except for memory (then returns "").
  std::string decode_lossy(std::span<const TokenId> ids) const noexcept;
  // View of one token's bytes (library-owned, valid while the tokenizer
  // lives). Failure: invalid_token.
  Result<std::string_view> token_bytes(TokenId id) const noexcept;

  TokenId special_id(SpecialToken token) const noexcept;
  // Id of a special token's text ("<|channel|>"), or invalid_argument.
  Result<TokenId> find_special(std::string_view text) const noexcept;
  bool is_special(TokenId id) const noexcept;
  // 201,088: every id the model's embedding has.
  size_t vocab_size() const noexcept;
  // Number of ordinary (BPE) tokens: 199,998.
  size_t ordinary_token_count() const noexcept;

  struct Impl;

 private:
  explicit Tokenizer(const Impl* impl) : impl_(impl) {}
  const Impl* impl_;
};

// Incremental decoder for streaming output: push() returns only complete
// UTF-8, holding a partial character across tokens (one token is not one
// character: emoji, CJK). Bytes that can never become valid are emitted as
// U+FFFD; special ids emit their text.
class StreamDecoder {
 public:
  explicit StreamDecoder(std::shared_ptr<const Tokenizer> tokenizer) : tokenizer_(std::move(tokenizer)) {}
  // Appends the text completed by `id` to `out`. Failure: invalid_token (the
  // decoder is unchanged).
  Status push(TokenId id, std::string& out) noexcept;
  // Flushes held bytes (as U+FFFD) at end of stream.
  void finish(std::string& out) noexcept;

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::string pending_;
};

}  // namespace ossrt
