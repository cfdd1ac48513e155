// ossrt-write-hf-layout SOURCE DEST [SHARDS]: writes the checkpoint at SOURCE
// (any layout) into DEST in the Hugging Face layout, in SHARDS files with an
// index (default 3; 0: one model.safetensors), for the golden run on a
// Hugging Face copy of the bundled model.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/hf_layout_writer.h"

int main(int argc, char** argv) {
  char* end = nullptr;
  const unsigned long shards = argc == 4 ? std::strtoul(argv[3], &end, 10) : 3;
  if ((argc != 3 && argc != 4) || (argc == 4 && (end == argv[3] || *end != '\0'))) {
    std::fprintf(stderr, "usage: ossrt-write-hf-layout SOURCE DEST [SHARDS]\n");
    return 2;
  }
  auto source = ossrt::open_checkpoint(argv[1]);
  ossrt::Status status = source.ok() ? ossrt::write_hf_layout(*source.value(), argv[2], shards) : source.status();
  if (!status.ok()) {
    std::fprintf(stderr, "ossrt-write-hf-layout: %s\n", status.to_string().c_str());
    return 1;
  }
  return 0;
}
