// Process-wide caches of what a constrained chat compiles: grammars keyed by
// their schema text (a chat that sends the same schema every turn compiles
// it once) and the vocabulary trie of a tokenizer (built once per tokenizer).
// Thread-safe; the results are immutable and shared.
#pragma once

#include <memory>
#include <string_view>

#include "constrain/grammar.h"
#include "constrain/token_trie.h"

namespace ossrt::constrain {

// Grammar::from_json_schema(schema), or the grammar compiled earlier from
// the same text. The cache holds the 64 most recently compiled schemas.
// Failure: as from_json_schema (invalid_argument with the byte position);
// failures are not cached.
Result<std::shared_ptr<const Grammar>> cached_grammar(std::string_view schema) noexcept;

// The vocabulary trie of `tokenizer`: the built-in one for o200k_harmony,
// else built once and kept for the 4 most recent other tokenizers (a trie
// holds its tokenizer alive). Failure: invalid_argument (null), out_of_memory.
Result<std::shared_ptr<const TokenVocabulary>> cached_vocabulary(std::shared_ptr<const Tokenizer> tokenizer) noexcept;

}  // namespace ossrt::constrain
