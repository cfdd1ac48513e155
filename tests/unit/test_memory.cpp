// Where the runtime's memory lives: backend buffers (large ones on their own
// 2 MiB-aligned mappings advised for huge pages) and the mapped checkpoint
// (the embedding advised against them). Page advice is checked in the
// kernel's own account of the mappings, /proc/self/smaps.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "checkpoint_writer.hpp"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "ossrt/ossrt.hpp"
#include "util/aligned_vector.h"
#include "util/mapped_file.h"
#include "util/thread_buffer.h"

using namespace ossrt;
using namespace testsupport;
namespace fs = std::filesystem;

namespace {

struct Mapping {
  uintptr_t begin = 0, end = 0;
  std::string path;
  // VmFlags: "hg" huge pages advised, "nh" advised against, "rr" random reads
  std::vector<std::string> flags;
  bool has(const std::string& flag) const { return std::find(flags.begin(), flags.end(), flag) != flags.end(); }
};

std::vector<Mapping> mappings() {
  std::vector<Mapping> out;
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  while (std::getline(smaps, line)) {
    std::istringstream fields(line);
    std::string first;
    fields >> first;
    if (first == "VmFlags:") {
      for (std::string flag; fields >> flag;) out.back().flags.push_back(flag);
      continue;
    }
    const size_t dash = first.find('-');
    if (dash == std::string::npos || first.back() == ':') continue;  // a counter line
    Mapping m;
    m.begin = std::stoull(first.substr(0, dash), nullptr, 16);
    m.end = std::stoull(first.substr(dash + 1), nullptr, 16);
    std::string perms, offset, device, inode;
    fields >> perms >> offset >> device >> inode;
    std::getline(fields >> std::ws, m.path);
    out.push_back(m);
  }
  return out;
}

const Mapping* mapping_of(const std::vector<Mapping>& all, const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  for (const Mapping& m : all) {
    if (m.begin <= address && address < m.end) return &m;
  }
  return nullptr;
}

// Page advice is only accepted by kernels built with transparent huge pages.
bool kernel_has_thp() {
  return fs::exists("/sys/kernel/mm/transparent_hugepage/enabled");
}

}  // namespace

TEST_CASE("backend buffers are zeroed and aligned; large ones are their own huge-page mappings") {
  const Backend& be = cpu_reference_backend();
  constexpr size_t kHuge = size_t{2} << 20;
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{100}, kHuge - 1, kHuge, kHuge + 5, 9 * kHuge + 123}) {
    CAPTURE(bytes);
    auto* p = static_cast<uint8_t*>(be.alloc(be.self, bytes));
    REQUIRE(p != nullptr);
    const auto address = reinterpret_cast<uintptr_t>(p);
    CHECK(address % (bytes >= kHuge ? kHuge : 64) == 0);
    if (bytes > 0) {
      CHECK(p[0] == 0);
      CHECK(p[bytes / 2] == 0);
      CHECK(p[bytes - 1] == 0);
      std::memset(p, 0x5a, bytes);  // all of it writable
    }
    if (bytes >= kHuge) {
      const std::vector<Mapping> all = mappings();
      const Mapping* whole = mapping_of(all, p);
      REQUIRE(whole != nullptr);
      CHECK(whole->begin == address);  // no slack left mapped in front
      if (kernel_has_thp()) CHECK(whole->has("hg"));
      // The tail past the last whole 2 MiB is not advised: a huge page there
      // would map memory past the buffer.
      if (bytes % kHuge != 0) {
        const Mapping* tail = mapping_of(all, p + bytes - 1);
        REQUIRE(tail != nullptr);
        CHECK_FALSE(tail->has("hg"));
        CHECK(tail->end - address < bytes + 4096);
      }
    }
    be.release(be.self, p, bytes);
    if (bytes >= kHuge) CHECK(mapping_of(mappings(), p) == nullptr);  // unmapped, not cached
  }
  be.release(be.self, nullptr, 0);  // a no-op
}

TEST_CASE("kernel scratch starts on cache lines: whole vectors and every thread's slice") {
  // Odd sizes, so that an allocator which only promises 16 bytes would miss.
  for (size_t n : {1u, 7u, 45u, 2880u, 5761u}) {
    CacheLineVector<uint16_t> words(n);
    CHECK(reinterpret_cast<uintptr_t>(words.data()) % kCacheLineBytes == 0);
    CacheLineVector<float> floats(n);
    CHECK(reinterpret_cast<uintptr_t>(floats.data()) % kCacheLineBytes == 0);
    PerThreadArray<unsigned char> bytes(n);
    PerThreadBuffer slices(n);
    const size_t threads = static_cast<size_t>(omp_get_max_threads());
    std::vector<uintptr_t> starts(threads), byte_starts(threads);
#pragma omp parallel
    {
      const size_t t = static_cast<size_t>(omp_get_thread_num());
      starts[t] = reinterpret_cast<uintptr_t>(slices.mine());
      byte_starts[t] = reinterpret_cast<uintptr_t>(bytes.mine());
    }
    for (size_t t = 0; t < threads; ++t) {
      CHECK(starts[t] % kCacheLineBytes == 0);
      CHECK(byte_starts[t] % kCacheLineBytes == 0);
      // Slices do not overlap: each holds n floats before the next begins.
      if (t > 0) CHECK(starts[t] - starts[t - 1] >= n * sizeof(float));
    }
  }
}

TEST_CASE("the embedding of a loaded checkpoint is advised against huge pages and read-around, the rest is not") {
  TempDir dir;
  const ModelConfig config = small_config();
  write_text(dir.path() / "config.json", config_json(config));
  const fs::path file = dir.path() / "model.safetensors";
  write_safetensors(file, build_safetensors(random_tensors(config, 3)));
  auto model = Model::load(dir.path());
  REQUIRE_MESSAGE(model.ok(), model.status().to_string());
  const std::string path = fs::canonical(file).string();
  size_t advised = 0, plain = 0;
  for (const Mapping& m : mappings()) {
    if (m.path != path) continue;
    (m.has("rr") ? advised : plain) += 1;
    if (m.has("rr") && kernel_has_thp()) CHECK(m.has("nh"));
  }
  CHECK(advised == 1);
  CHECK(plain >= 1);  // the other weights keep the system's default
}

TEST_CASE("a copy in memory puts the asked-for byte on a 64-byte boundary; a checkpoint's tensor data starts there") {
  TempDir dir;
  const fs::path file = dir.path() / "bytes.bin";
  std::string bytes(5000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 % 251);
  // The byte to align: the file's first, read back through the head the hook gets.
  const MappedFile::AlignedAt first_byte = [](const uint8_t* head, size_t n) noexcept -> size_t {
    return n == MappedFile::kHeadBytes ? head[0] : 1;  // 1: a short head fails the check below
  };
  for (size_t aligned_at : {0, 13, 64, 100, 255}) {
    INFO("aligned_at " << aligned_at);
    bytes[0] = static_cast<char>(aligned_at);
    write_text(file, bytes);
    auto copy = MappedFile::open(file, true, first_byte);
    REQUIRE_MESSAGE(copy.ok(), copy.status().to_string());
    MappedFile& m = *copy.value();
    CHECK((reinterpret_cast<uintptr_t>(m.data()) + aligned_at) % MappedFile::kCopyAlignment == 0);
    REQUIRE(m.size() == bytes.size());
    CHECK(std::memcmp(m.data(), bytes.data(), bytes.size()) == 0);
    CHECK(m.set_writable(true));
    CHECK(m.set_writable(false));
  }
  // A safetensors checkpoint read into memory: its data section (after the
  // 8-byte length and the header) on the boundary, whatever the header's length.
  const ModelConfig config = small_config();
  write_text(dir.path() / "config.json", config_json(config));
  write_safetensors(dir.path() / "model.safetensors", build_safetensors(random_tensors(config, 5)));
  auto checkpoint = open_checkpoint(dir.path(), true);
  REQUIRE_MESSAGE(checkpoint.ok(), checkpoint.status().to_string());
  const MappedFile& model = *checkpoint.value()->files.at(0);
  REQUIRE(model.in_memory());
  CHECK((reinterpret_cast<uintptr_t>(model.data()) + 8 + safetensors_header_length(model.data())) %
            MappedFile::kCopyAlignment ==
        0);
}

TEST_CASE("rows of a mapped table are asked for ahead; ids outside the table are skipped") {
  TempDir dir;
  const fs::path file = dir.path() / "table.bin";
  constexpr size_t kRows = 40, kRowBytes = 1000;  // rows straddle page boundaries
  std::string bytes(kRows * kRowBytes, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i / kRowBytes);
  write_text(file, bytes);
  auto mapped = MappedFile::open(file);
  REQUIRE(mapped.ok());
  const uint8_t* table = mapped.value()->data();
  const int32_t ids[] = {0, 5, -1, static_cast<int32_t>(kRows), 1 << 30, 39, 3};
  advise_rows_needed(table, kRows, kRowBytes, ids, std::size(ids));
  for (int32_t id : {0, 3, 5, 39}) CHECK(table[id * kRowBytes + kRowBytes - 1] == id);
  advise_rows_needed(nullptr, kRows, kRowBytes, ids, std::size(ids));  // no table: nothing to do
}

// The estimate before loading equals what a loaded model and a session that
// filled its context hold: the same formulas, from the headers alone.
TEST_CASE("estimate_memory equals the loaded model's weights and a full session's cache and scratch") {
  const std::string tiny_a = OSSRT_TEST_DATA_DIR "/tiny-a";
  for (ossrt::Numerics numerics : {ossrt::Numerics::exact, ossrt::Numerics::fast}) {
    ossrt::SessionOptions session_options;
    session_options.context_length = 300;
    session_options.max_batch_tokens = 64;
    session_options.numerics = numerics;
    auto estimate = ossrt::estimate_memory(tiny_a, {}, session_options);
    REQUIRE_MESSAGE(estimate.ok(), estimate.status().to_string());
    const ossrt::MemoryEstimate& e = estimate.value();
    auto model = ossrt::Model::load(tiny_a);
    REQUIRE(model.ok());
    CHECK(e.weight_bytes == model.value()->info().weight_bytes);
    CHECK(e.host_weight_bytes == e.weight_bytes);  // the CPU reads the mapped files
    CHECK(e.backend_weight_bytes == 0);
    auto session = ossrt::Session::create(model.value(), session_options);
    REQUIRE(session.ok());
    std::vector<ossrt::TokenId> tokens(300);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<ossrt::TokenId>((i * 37) % 1536);
    REQUIRE(session.value()->append(tokens).ok());
    const auto memory = session.value()->memory();
    CHECK(e.kv_bytes == memory.kv_cache_bytes);
    CHECK(e.scratch_bytes == memory.scratch_bytes);
    CHECK(e.session_bytes == e.kv_bytes + e.scratch_bytes);
    CHECK(e.total_bytes == e.weight_bytes + e.session_bytes);
    // Per position of the 2 dense layers: keys and values of 2 heads x 64.
    const uint64_t element = numerics == ossrt::Numerics::fast ? 2 : 4;
    CHECK(e.kv_bytes_per_token == 2 * 2 * 128 * element);
  }
  // On a GPU with offload: the offloaded experts stay on the host, as the load reports.
  ossrt::ModelOptions on_gpu;
  on_gpu.backend = "cuda";
  on_gpu.cpu_expert_layers = 2;
  auto estimate = ossrt::estimate_memory(tiny_a, on_gpu);
  REQUIRE(estimate.ok());
  ossrt::ModelOptions offloaded;
  offloaded.cpu_expert_layers = 2;
  auto model = ossrt::Model::load(tiny_a, offloaded);
  REQUIRE(model.ok());
  CHECK(estimate.value().host_weight_bytes == model.value()->info().host_expert_bytes);
  CHECK(estimate.value().backend_weight_bytes + estimate.value().host_weight_bytes == estimate.value().weight_bytes);
  CHECK(estimate.value().backend_bytes == estimate.value().backend_weight_bytes + estimate.value().session_bytes);
  // Refusals: Model::load's for the files, Session::create's for the options.
  CHECK(ossrt::estimate_memory("/nonexistent/ossrt-model").status().code() == ossrt::StatusCode::not_found);
  ossrt::SessionOptions too_long;
  too_long.context_length = 1u << 30;
  CHECK(ossrt::estimate_memory(tiny_a, {}, too_long).status().code() == ossrt::StatusCode::invalid_argument);
}

TEST_CASE("a memory budget below the weights refuses the load up front") {
  const std::string tiny_a = OSSRT_TEST_DATA_DIR "/tiny-a";
  auto estimate = ossrt::estimate_memory(tiny_a);
  REQUIRE(estimate.ok());
  ossrt::ModelOptions options;
  options.memory_budget_bytes = estimate.value().weight_bytes - 1;
  auto refused = ossrt::Model::load(tiny_a, options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == ossrt::StatusCode::out_of_memory);
  CHECK(refused.status().message().find("over the budget") != std::string::npos);
  options.memory_budget_bytes = estimate.value().weight_bytes;
  CHECK(ossrt::Model::load(tiny_a, options).ok());
}
