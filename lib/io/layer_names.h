// Per-layer tensor names of every layout: "<prefix><layer>.<rest>", as in
// "block.3.attn.out.weight", "model.layers.3.self_attn.o_proj.weight" or
// "blk.3.attn_output.weight".
#pragma once

#include <string_view>

namespace ossrt {

// Splits `name` into its layer number and the rest after `prefix`: the
// number in plain decimal (no sign, no leading zero, at most 9 digits), so
// that each name has one spelling. False when `name` is not of that form.
inline bool split_layer_name(std::string_view name, std::string_view prefix, std::string_view& layer,
                             std::string_view& rest) {
  if (!name.starts_with(prefix)) return false;
  name.remove_prefix(prefix.size());
  const size_t dot = name.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot > 9) return false;
  layer = name.substr(0, dot);
  if (layer.size() > 1 && layer[0] == '0') return false;
  for (char ch : layer) {
    if (ch < '0' || ch > '9') return false;
  }
  rest = name.substr(dot + 1);
  return true;
}

}  // namespace ossrt
