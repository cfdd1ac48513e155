// A GGUF file carries its own tokenizer (tokenizer.ggml.*); ossrt always uses
// the built-in o200k_harmony, so a file whose vocabulary is another one would
// decode to garbage. This checks the two agree before the model loads.
#pragma once

#include <cstdint>
#include <string>

#include "io/gguf.h"
#include "ossrt/status.hpp"
#include "ossrt/tokenizer.hpp"

namespace ossrt {

// Checks tokenizer.ggml.tokens, when present: exactly `vocab_size` entries
// (the embedding's rows, at most the tokenizer's 201,088), each ordinary id
// spelled as the GPT-2 byte-to-unicode form of its o200k bytes, each special
// id by one of its names or as the converter's "[PAD<id>]" placeholder for ids
// the Hugging Face tokenizer leaves unnamed; and every tokenizer.ggml.*_token_id
// present names an id below vocab_size. A file without tokens is accepted.
// Failure: invalid_checkpoint, naming `source`, the first differing id and
// both spellings (or the key).
Status check_gguf_vocabulary(const GgufFile& gguf, const Tokenizer& tokenizer, int64_t vocab_size,
                             const std::string& source);

// The GPT-2 byte-level spelling of `bytes` (bytes_to_unicode: printable
// Latin-1 bytes stand for themselves, the other 68 map to U+0100...), UTF-8.
std::string byte_level_spelling(std::string_view bytes);

}  // namespace ossrt
