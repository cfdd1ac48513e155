#include "stop_string_filter.h"

#include <algorithm>

namespace ossrt_server {

std::string StopStringFilter::push(std::string_view text) {
  if (stopped_) return {};
  held_ += text;
  size_t first_stop = std::string::npos;
  for (const std::string& stop : stops_) first_stop = std::min(first_stop, held_.find(stop));
  if (first_stop != std::string::npos) {
    stopped_ = true;
    std::string released = held_.substr(0, first_stop);
    held_.clear();
    return released;
  }
  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const std::string& stop : stops_)
    for (size_t n = std::min(stop.size() - 1, held_.size()); n > keep; --n)
      if (std::string_view(held_).substr(held_.size() - n) == std::string_view(stop).substr(0, n)) {
        keep = n;
        break;
      }
  std::string released = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return released;
}

std::string StopStringFilter::flush() {
  std::string released;
  released.swap(held_);
  return stopped_ ? std::string() : released;
}

}  // namespace ossrt_server
