// A checkpoint whose greedy continuation is scripted, so that tests can make
// a model do something specific (call a tool, then answer) end to end through
// the real loader, forward pass, sampler and harmony parser. A random model
// never calls a tool by itself.
//
// How the weights script it (tiny-chat's shapes: the full vocabulary at width
// 32, two layers):
// - Layer 0's attention and both MLPs contribute nothing (zero weights and
//   biases), so the residual stream is the token embedding plus what layer
//   1's attention adds.
// - Every scripted token that has a successor owns one residual direction
//   (its embedding is one-hot there); unscripted tokens embed as zero.
// - Layer 1 (full attention), head 0: a constant query (a bias) matches a key
//   only the marker token has, on RoPE's slowest pair (it turns less than 0.1
//   rad across the 2,048 positions), so once the marker is anywhere in the
//   context every later position gets the marker's value: a fixed "marker
//   seen" direction. Without the marker the head attends to zero values.
// - Unembedding: the successor of t without the marker reads t's direction
//   with weight B; the successor with the marker reads it with B - d plus the
//   "marker seen" direction. So greedy decoding follows one bigram chain
//   before the marker and the other after it, with margins of 32 logits or
//   more (sampling at temperature 1 follows them too).
#pragma once

#include <filesystem>
#include <vector>

#include "ossrt/tokenizer.hpp"

namespace testsupport {

struct Script {
  ossrt::TokenId trigger = 0;                  // the token after which the script starts ("assistant")
  ossrt::TokenId marker = 0;                   // its presence in the context selects with_marker
  std::vector<ossrt::TokenId> without_marker;  // what follows trigger while the context lacks marker
  std::vector<ossrt::TokenId> with_marker;     // what follows trigger once it holds marker
};

// Writes config.json and model.safetensors (about 26 MB) to `directory`
// (created). The script must be one the weights can express: ids inside the
// vocabulary, no id twice within trigger + one chain, the marker only as the
// last id of without_marker (it switches what comes next) and not in
// with_marker, at most 30 distinct ids with successors, and no chain in which
// a token's successor without the marker is itself a successor with it.
// Every decoding step is checked against the weights before writing.
// Throws std::invalid_argument for a script it cannot express,
// std::runtime_error when writing fails.
void write_scripted_checkpoint(const std::filesystem::path& directory, const Script& script);

// The weather script of weather_script.h: trigger "assistant", marker
// <|call|>, the get_weather call without it, the final answer with it.
Script weather_script(const ossrt::Tokenizer& tokenizer);

}  // namespace testsupport
