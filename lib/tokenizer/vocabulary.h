// The o200k_harmony vocabulary: 199,998 byte-level BPE ranks (token id =
// rank) and 1,090 special tokens (ids 199998..201087).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ossrt {

struct NamedSpecial {
  int32_t id;
  const char* text;
};
// The named special tokens of o200k_harmony, in the order of ossrt::SpecialToken;
// every other id in 199998..201087 is <|reserved_ID|>.
inline constexpr NamedSpecial kNamedSpecials[] = {
    {199998, "<|startoftext|>"}, {199999, "<|endoftext|>"}, {200002, "<|return|>"},
    {200003, "<|constrain|>"},   {200005, "<|channel|>"},   {200006, "<|start|>"},
    {200007, "<|end|>"},         {200008, "<|message|>"},   {200012, "<|call|>"},
};

// The compiled-in blob written by vocab_gen ("OSV1" | count | offsets | bytes).
std::string_view o200k_vocabulary_blob() noexcept;

class Vocabulary {
 public:
  // The built-in vocabulary, built on first use (thread-safe). Throws
  // std::bad_alloc when memory runs out; callers convert that to a status.
  static const Vocabulary& o200k_harmony();

  size_t rank_count() const noexcept { return offsets_.size() - 1; }
  size_t size() const noexcept { return rank_count() + specials_.size(); }

  // Bytes of an ordinary token (rank < rank_count()).
  std::string_view rank_bytes(uint32_t rank) const noexcept {
    return blob_bytes_.substr(offsets_[rank], offsets_[rank + 1] - offsets_[rank]);
  }
  // Rank of a byte string, if it is a token.
  std::optional<uint32_t> rank_of(std::string_view bytes) const noexcept;

  bool is_special(int64_t id) const noexcept {
    return id >= static_cast<int64_t>(rank_count()) && id < static_cast<int64_t>(size());
  }
  // Canonical text of a special id (decoding 200018 gives <|reserved_200018|>).
  std::string_view special_text(int64_t id) const noexcept { return specials_[static_cast<size_t>(id) - rank_count()]; }
  // Id of a special token text; both names of 200018 are recognised.
  std::optional<int32_t> special_id(std::string_view text) const noexcept;
  // Length of the longest special token text (either name).
  size_t max_special_length() const noexcept { return max_special_length_; }

 private:
  Vocabulary();
  std::string_view blob_bytes_;
  std::vector<uint32_t> offsets_;
  std::vector<uint32_t> slots_;  // open addressing: rank + 1, 0 = empty
  std::vector<std::string> specials_;
  std::unordered_map<std::string, int32_t> special_ids_;
  size_t max_special_length_ = 0;
};

}  // namespace ossrt
