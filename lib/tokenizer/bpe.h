// Byte-pair encoding of one pre-tokenized piece, exactly as tiktoken does it:
// repeatedly merge the adjacent pair whose concatenation has the lowest rank
// (leftmost on ties). A heap keeps it O(n log n) on long pieces.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocabulary.h"

namespace ossrt {

void bpe_encode(const Vocabulary& vocabulary, std::string_view piece, std::vector<int32_t>& out);

}  // namespace ossrt
