// ossrt serve in a build configured without cpp-httplib: says so.
#include <cstdio>

#include "commands.h"

namespace ossrt_cli {

int run_serve(const ParsedFlags&) {
  std::fprintf(stderr,
               "ossrt: this build has no server: cpp-httplib was not found when it was configured "
               "(apt-get install libcpp-httplib-dev, then configure again)\n");
  return kExitFailure;
}

}  // namespace ossrt_cli
