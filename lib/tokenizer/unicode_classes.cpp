#include "tokenizer/unicode_classes.h"

namespace ossrt::unicode {
namespace {
#include "tokenizer/unicode_tables.inc"
}  // namespace

uint8_t classes(char32_t cp) noexcept {
  if (cp >= 0x110000) return 0;
  return kUnicodeBlocks[kUnicodeBlockIndex[cp / kUnicodeBlockSize] * kUnicodeBlockSize + cp % kUnicodeBlockSize];
}

const char* version() noexcept {
  return kUnicodeVersion;
}

}  // namespace ossrt::unicode
