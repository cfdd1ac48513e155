#include "tokenizer/vocabulary.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ossrt {
namespace {

constexpr int32_t kFirstSpecial = 199998;
constexpr int32_t kLastSpecial = 201087;

// 200018 is also known as <|endofprompt|> (o200k_base's name for it).
constexpr NamedSpecial kSpecialAliases[] = {{200018, "<|endofprompt|>"}};

uint64_t hash_bytes(std::string_view s) noexcept {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h ^ (h >> 29);
}

uint32_t read_u32(const char* p) noexcept {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

const Vocabulary& Vocabulary::o200k_harmony() {
  static const Vocabulary vocabulary;
  return vocabulary;
}

Vocabulary::Vocabulary() {
  const std::string_view blob = o200k_vocabulary_blob();
  if (blob.size() < 8 || blob.substr(0, 4) != "OSV1") throw std::runtime_error("embedded vocabulary is corrupt");
  const uint32_t count = read_u32(blob.data() + 4);
  const size_t header = 8 + 4 * (static_cast<size_t>(count) + 1);
  if (count != static_cast<uint32_t>(kFirstSpecial) || blob.size() < header) {
    throw std::runtime_error("embedded vocabulary has an unexpected size");
  }
  offsets_.resize(count + 1);
  for (uint32_t i = 0; i <= count; ++i) offsets_[i] = read_u32(blob.data() + 8 + 4 * i);
  blob_bytes_ = blob.substr(header);
  if (offsets_.back() != blob_bytes_.size()) throw std::runtime_error("embedded vocabulary offsets are inconsistent");

  size_t capacity = 1;
  while (capacity < 2 * static_cast<size_t>(count)) capacity <<= 1;
  slots_.assign(capacity, 0);
  for (uint32_t rank = 0; rank < count; ++rank) {
    size_t slot = hash_bytes(rank_bytes(rank)) & (capacity - 1);
    while (slots_[slot] != 0) slot = (slot + 1) & (capacity - 1);
    slots_[slot] = rank + 1;
  }

  specials_.resize(static_cast<size_t>(kLastSpecial - kFirstSpecial + 1));
  for (int32_t id = kFirstSpecial; id <= kLastSpecial; ++id) {
    specials_[static_cast<size_t>(id - kFirstSpecial)] = "<|reserved_" + std::to_string(id) + "|>";
  }
  for (const NamedSpecial& s : kNamedSpecials) specials_[static_cast<size_t>(s.id - kFirstSpecial)] = s.text;
  for (int32_t id = kFirstSpecial; id <= kLastSpecial; ++id) {
    special_ids_.emplace(specials_[static_cast<size_t>(id - kFirstSpecial)], id);
  }
  for (const NamedSpecial& s : kSpecialAliases) special_ids_.emplace(s.text, s.id);
  for (const auto& [text, id] : special_ids_) max_special_length_ = std::max(max_special_length_, text.size());
}

std::optional<uint32_t> Vocabulary::rank_of(std::string_view bytes) const noexcept {
  const size_t mask = slots_.size() - 1;
  for (size_t slot = hash_bytes(bytes) & mask; slots_[slot] != 0; slot = (slot + 1) & mask) {
    const uint32_t rank = slots_[slot] - 1;
    if (rank_bytes(rank) == bytes) return rank;
  }
  return std::nullopt;
}

std::optional<int32_t> Vocabulary::special_id(std::string_view text) const noexcept {
  // unordered_map<std::string> cannot look up a string_view without a copy in C++20.
  if (text.size() < 4 || text.substr(0, 2) != "<|") return std::nullopt;
  try {
    auto it = special_ids_.find(std::string(text));
    if (it != special_ids_.end()) return it->second;
  } catch (...) {
  }
  return std::nullopt;
}

}  // namespace ossrt
