#include "progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace ossrt_cli {

ProgressBar::ProgressBar(const char* label) : label_(label), terminal_(::isatty(STDERR_FILENO) != 0) {}

bool ProgressBar::update(uint64_t done, uint64_t total) {
  if (!terminal_ || total == 0) return true;
  const int percent = static_cast<int>(100 * done / total);
  if (percent == last_percent_) return true;
  last_percent_ = percent;
  const int filled = percent * 40 / 100;
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", label_, filled, "########################################", 40 - filled,
               "", percent);
  if (done == total) std::fputc('\n', stderr);
  std::fflush(stderr);
  return true;
}

}  // namespace ossrt_cli
