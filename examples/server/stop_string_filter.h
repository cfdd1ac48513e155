// StopStringFilter: OpenAI's `stop` for streamed text. Text passes through
// except what might be the start of a stop string, which is held back until
// the next text decides; once a stop string appears, the text before it is
// the last that passes and the filter is stopped.
//
// Thread rules: one thread at a time.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ossrt_server {

class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // The text that may be released now (empty once stopped).
  std::string push(std::string_view text);
  // At the end of the stream: what was held back (no stop string came).
  std::string flush();
  bool stopped() const noexcept { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace ossrt_server
