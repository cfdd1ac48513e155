// A progress bar on stderr when it is a terminal (nothing otherwise, so logs
// and pipes stay clean).
#pragma once

#include <cstdint>

namespace ossrt_cli {

class ProgressBar {
 public:
  explicit ProgressBar(const char* label);
  // Redraws when the percentage changes; always returns true (never cancels).
  bool update(uint64_t done, uint64_t total);

 private:
  const char* label_;
  bool terminal_;
  int last_percent_ = -1;
};

}  // namespace ossrt_cli
