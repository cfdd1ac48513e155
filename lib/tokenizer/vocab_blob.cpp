// The o200k_base ranks, compiled in (produced at build time by vocab_gen from
// data/o200k_base.tiktoken), so no file or network is needed at run time.
#include "tokenizer/vocabulary.h"

// .incbin keeps the multi-megabyte table out of the C++ front end.
__asm__(
    ".section .rodata\n"
    ".balign 16\n"
    ".type ossrt_o200k_blob, @object\n"
    "ossrt_o200k_blob:\n"
    ".incbin \"" OSSRT_VOCAB_BLOB_PATH
    "\"\n"
    "ossrt_o200k_blob_end:\n"
    ".previous\n");

extern "C" const unsigned char ossrt_o200k_blob[];
extern "C" const unsigned char ossrt_o200k_blob_end[];

namespace ossrt {

std::string_view o200k_vocabulary_blob() noexcept {
  return std::string_view(reinterpret_cast<const char*>(ossrt_o200k_blob),
                          static_cast<size_t>(ossrt_o200k_blob_end - ossrt_o200k_blob));
}

}  // namespace ossrt
