#include "ossrt/tokenizer.hpp"

#include <algorithm>
#include <iterator>

#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocabulary.h"
#include "util/errors.h"

namespace ossrt {

struct Tokenizer::Impl {
  const Vocabulary& vocabulary;

  void encode_ordinary(std::string_view text, std::vector<TokenId>& out) const {
    for (size_t pos = 0; pos < text.size();) {
      const size_t length = next_piece_length(text, pos);
      bpe_encode(vocabulary, text.substr(pos, length), out);
      pos += length;
    }
  }
};

namespace {

static_assert(std::size(kNamedSpecials) == static_cast<size_t>(SpecialToken::call) + 1,
              "kNamedSpecials lists one entry per SpecialToken, in its order");

const char* const kReplacement = "\xef\xbf\xbd";

}  // namespace

bool AllowedSpecials::allows(TokenId id) const noexcept {
  return all_ || std::find(ids_.begin(), ids_.end(), id) != ids_.end();
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::o200k_harmony() noexcept {
  return guard("Tokenizer::o200k_harmony", []() -> Result<std::shared_ptr<const Tokenizer>> {
    static const Impl impl{Vocabulary::o200k_harmony()};
    static const std::shared_ptr<const Tokenizer> instance(new Tokenizer(&impl));
    return instance;
  });
}

Result<std::vector<TokenId>> Tokenizer::encode(std::string_view text, const AllowedSpecials& allowed) const noexcept {
  return guard("Tokenizer::encode", [&]() -> Result<std::vector<TokenId>> {
    std::string repaired;
    if (!utf8::is_valid(text)) {
      repaired = utf8::replace_invalid(text);
      text = repaired;
    }
    std::vector<TokenId> out;
    out.reserve(text.size() / 3 + 1);
    size_t segment = 0;
    if (allowed.any()) {
      // Specials split the text; each ordinary segment is pre-tokenized on its own.
      // A candidate ends at the first "|>" within the longest special's length,
      // which keeps the scan linear however many "<|" the text holds.
      const size_t window = impl_->vocabulary.max_special_length();
      for (size_t at = text.find("<|"); at != std::string_view::npos; at = text.find("<|", at + 1)) {
        const size_t close_in_window = text.substr(at + 2, window - 2).find("|>");
        if (close_in_window == std::string_view::npos) continue;
        const size_t close = at + 2 + close_in_window;
        const auto id = impl_->vocabulary.special_id(text.substr(at, close + 2 - at));
        if (!id || !allowed.allows(*id)) continue;
        impl_->encode_ordinary(text.substr(segment, at - segment), out);
        out.push_back(*id);
        segment = close + 2;
        at = close + 1;
      }
    }
    impl_->encode_ordinary(text.substr(segment), out);
    return out;
  });
}

Result<std::vector<TokenId>> Tokenizer::encode_bytes(std::string_view bytes,
                                                     const AllowedSpecials& allowed) const noexcept {
  constexpr std::string_view kBom = "\xef\xbb\xbf";
  if (bytes.substr(0, kBom.size()) == kBom) bytes.remove_prefix(kBom.size());
  return encode(bytes, allowed);
}

Result<std::string_view> Tokenizer::token_bytes(TokenId id) const noexcept {
  const Vocabulary& v = impl_->vocabulary;
  if (id >= 0 && static_cast<size_t>(id) < v.rank_count()) return v.rank_bytes(static_cast<uint32_t>(id));
  if (v.is_special(id)) return v.special_text(id);
  return guard("Tokenizer::token_bytes", [&]() -> Result<std::string_view> {
    return error(StatusCode::invalid_token, "token id %d is outside the vocabulary [0, %zu)", id, v.size());
  });
}

Result<std::string> Tokenizer::decode(std::span<const TokenId> ids) const noexcept {
  return guard("Tokenizer::decode", [&]() -> Result<std::string> {
    std::string out;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto bytes = token_bytes(ids[i]);
      if (!bytes.ok()) {
        return error(StatusCode::invalid_token, "token %d at index %zu is outside the vocabulary [0, %zu)", ids[i], i,
                     vocab_size());
      }
      out.append(bytes.value());
    }
    return out;
  });
}

std::string Tokenizer::decode_lossy(std::span<const TokenId> ids) const noexcept {
  try {
    std::string bytes;
    for (TokenId id : ids) {
      auto b = token_bytes(id);
      bytes.append(b.ok() ? b.value() : std::string_view(kReplacement));
    }
    return utf8::replace_invalid(bytes);
  } catch (...) {
    return std::string();
  }
}

TokenId Tokenizer::special_id(SpecialToken token) const noexcept {
  return kNamedSpecials[static_cast<size_t>(token)].id;
}

Result<TokenId> Tokenizer::find_special(std::string_view text) const noexcept {
  if (auto id = impl_->vocabulary.special_id(text)) return *id;
  return guard("Tokenizer::find_special", [&]() -> Result<TokenId> {
    return error(StatusCode::invalid_argument, "'%.*s' is not a special token of o200k_harmony",
                 static_cast<int>(std::min<size_t>(text.size(), 64)), text.data());
  });
}

bool Tokenizer::is_special(TokenId id) const noexcept {
  return impl_->vocabulary.is_special(id);
}
size_t Tokenizer::vocab_size() const noexcept {
  return impl_->vocabulary.size();
}
size_t Tokenizer::ordinary_token_count() const noexcept {
  return impl_->vocabulary.rank_count();
}

Status StreamDecoder::push(TokenId id, std::string& out) noexcept {
  auto bytes = tokenizer_->token_bytes(id);
  if (!bytes.ok()) return bytes.status();
  return guard("StreamDecoder::push", [&]() -> Status {
    pending_.append(bytes.value());
    // Emit everything but a trailing sequence that may still complete.
    const size_t consumed = utf8::append_repaired(pending_, out, /*hold_truncated_tail=*/true);
    pending_.erase(0, consumed);
    return Status::success();
  });
}

void StreamDecoder::finish(std::string& out) noexcept {
  try {
    out.append(utf8::replace_invalid(pending_));
  } catch (...) {
  }
  pending_.clear();
}

}  // namespace ossrt
