// The o200k pre-tokenizer: splits valid UTF-8 text into the pieces the regex
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//  |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//  |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// finds with Rust regex semantics (leftmost-first alternation, greedy
// quantifiers with backtracking), written as a scanner: linear time, no regex
// engine. Each alternative's comment says how backtracking resolves.
#pragma once

#include <cstddef>
#include <string_view>

namespace ossrt {

// Length in bytes of the piece starting at text[pos] (pos < text.size());
// `text` must be valid UTF-8 and is the whole segment (its end is the end of
// text for the pattern's look-ahead).
size_t next_piece_length(std::string_view text, size_t pos) noexcept;

}  // namespace ossrt
