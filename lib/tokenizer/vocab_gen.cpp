// Build-time tool: converts tiktoken's text ranks (base64(bytes) SP rank, one
// per line, ranks 0..n-1 in order) into the blob compiled into the library:
//   "OSV1" | u32 count | u32 offsets[count + 1] | token bytes
// (little-endian). Usage: ossrt-vocab-gen IN.tiktoken OUT.bin
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "util/base64.h"

namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: ossrt-vocab-gen IN.tiktoken OUT.bin\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  std::string line, bytes;
  std::vector<uint32_t> offsets{0};
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    std::string token;
    if (space == std::string::npos || !ossrt::base64_decode(std::string_view(line).substr(0, space), token) ||
        std::stoul(line.substr(space + 1)) != offsets.size() - 1 || token.empty()) {
      std::fprintf(stderr, "%s:%zu: expected 'base64 rank' with rank %zu\n", argv[1], line_number, offsets.size() - 1);
      return 1;
    }
    bytes += token;
    offsets.push_back(static_cast<uint32_t>(bytes.size()));
  }
  std::string blob = "OSV1";
  put_u32(blob, static_cast<uint32_t>(offsets.size() - 1));
  for (uint32_t o : offsets) put_u32(blob, o);
  blob += bytes;
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out.write(blob.data(), static_cast<std::streamsize>(blob.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", argv[2]);
    return 1;
  }
  return 0;
}
