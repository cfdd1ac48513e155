// Host memory entries of the reference backend.
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "backend/cpu_ref/kernels.h"
#include "util/aligned_vector.h"

namespace ossrt::cpu_ref {

namespace {

// Buffers start on a cache line (kCacheLineBytes): vector kernels use aligned loads.
constexpr size_t kAlignment = kCacheLineBytes;

// Buffers of this size or more (the KV cache's dense layers, prefill
// workspaces) are mapped on their own, start on a 2 MiB boundary and ask for
// transparent huge pages, which kernels in THP "madvise" mode grant only when
// asked: decode attention streams the whole cache, and with 4 KiB pages every
// other cache row costs a TLB miss (attention at depth 8192 on the EPYC VM,
// ossrt-bench-kernels: 2.5 ms per layer on 4 KiB pages, 2.2 on 2 MiB). Mapped
// rather than taken from malloc so that the advice never outlives the buffer
// on heap memory that later holds small blocks.
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kSmallPage = 4096;

size_t round_up(size_t n, size_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

// Zero pages until written, so untouched capacity costs no memory.
void* map_huge(size_t bytes) {
  const size_t length = round_up(bytes, kSmallPage);
  void* raw = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  // Keep the 2 MiB-aligned part of the reservation, return the slack.
  const uintptr_t base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = round_up(base, kHugePage);
  if (start > base) ::munmap(raw, start - base);
  const uintptr_t end = start + length, reserved_end = base + length + kHugePage;
  if (reserved_end > end) ::munmap(reinterpret_cast<void*>(end), reserved_end - end);
  // Advisory: where THP is off the buffer simply stays on small pages. The
  // tail past the last whole 2 MiB stays small either way.
  static_cast<void>(::madvise(reinterpret_cast<void*>(start), bytes / kHugePage * kHugePage, MADV_HUGEPAGE));
  return reinterpret_cast<void*>(start);
}

}  // namespace

void* alloc(void*, size_t bytes) {
  if (bytes >= kHugePage) return map_huge(bytes);
  const size_t rounded = bytes == 0 ? kAlignment : round_up(bytes, kAlignment);
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p != nullptr) std::memset(p, 0, rounded);
  return p;
}

void release(void*, void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  if (bytes >= kHugePage) {
    ::munmap(ptr, round_up(bytes, kSmallPage));
  } else {
    std::free(ptr);
  }
}

void copy_bytes(void*, void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memmove(dst, src, bytes);
}

}  // namespace ossrt::cpu_ref
