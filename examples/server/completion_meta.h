// What every object of one response repeats: its id, creation time and model.
#pragma once

#include <cstdint>
#include <string>

namespace ossrt_server {

struct CompletionMeta {
  std::string id;       // "chatcmpl-…" / "resp_…"
  int64_t created = 0;  // Unix seconds
  std::string model;
};

}  // namespace ossrt_server
