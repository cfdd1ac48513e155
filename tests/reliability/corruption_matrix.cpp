// Damaged checkpoints and files changed under a loaded model: every kind must
// end in a clean status (never a crash, a hang, or logits that are NaN with
// status ok). Each damage is applied to a valid small checkpoint; loading with
// validate_weights must refuse all of them, and a plain load either refuses
// it or yields a model whose append succeeds with finite logits or fails with
// a status.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "checkpoint_writer.hpp"
#include "ossrt/ossrt.hpp"

using namespace ossrt;
using namespace testsupport;
namespace fs = std::filesystem;

namespace {

// The two files of a checkpoint as bytes, damaged in memory before writing.
struct Image {
  std::string config;
  std::string weights;
};

Image valid_image() {
  const ModelConfig config = small_config();
  const SafetensorsImage st = build_safetensors(random_tensors(config, 11));
  Image image;
  image.config = config_json(config);
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[static_cast<size_t>(i)] = static_cast<char>((st.header.size() >> (8 * i)) & 0xff);
  image.weights = prefix + st.header + std::string(st.payload.begin(), st.payload.end());
  return image;
}

uint64_t header_length(const std::string& weights) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(weights[static_cast<size_t>(i)]);
  return n;
}

void set_header_length(std::string& weights, uint64_t n) {
  for (int i = 0; i < 8; ++i) weights[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
}

void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  text.replace(at, from.size(), to);
}

// Offset in the file of tensor `name`'s data (parsed from the header text).
size_t data_offset(const std::string& weights, const std::string& name) {
  const std::string header = weights.substr(8, header_length(weights));
  const size_t entry = header.find("\"" + name + "\"");
  REQUIRE(entry != std::string::npos);
  const size_t offsets = header.find("\"data_offsets\":[", entry);
  return 8 + header.size() + std::stoull(header.substr(offsets + 16));
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

struct Damage {
  const char* name;
  std::function<void(Image&)> bytes;               // applied to the image
  std::function<void(const fs::path&)> directory;  // or to the written directory
};

const std::vector<Damage>& damages() {
  auto nan_at = [](const char* tensor, size_t element) {
    return [=](Image& im) {
      const size_t at = data_offset(im.weights, tensor) + 2 * element;
      im.weights[at] = static_cast<char>(0xc0);  // bf16 0x7fc0: NaN
      im.weights[at + 1] = static_cast<char>(0x7f);
    };
  };
  auto write_fifo = [](const char* file) {
    return [=](const fs::path& dir) {
      fs::remove(dir / file);
      REQUIRE(::mkfifo((dir / file).c_str(), 0600) == 0);
    };
  };
  auto make_dir = [](const char* file) {
    return [=](const fs::path& dir) {
      fs::remove(dir / file);
      fs::create_directory(dir / file);
    };
  };
  static const std::vector<Damage> list = {
      {"empty weights file", [](Image& im) { im.weights.clear(); }, nullptr},
      {"7-byte weights file", [](Image& im) { im.weights.resize(7); }, nullptr},
      {"header length past the end", [](Image& im) { set_header_length(im.weights, im.weights.size()); }, nullptr},
      {"header length 2^63", [](Image& im) { set_header_length(im.weights, uint64_t{1} << 63); }, nullptr},
      {"header length one byte short (data shifted)",
       [](Image& im) { set_header_length(im.weights, header_length(im.weights) - 1); }, nullptr},
      {"header length one byte long", [](Image& im) { set_header_length(im.weights, header_length(im.weights) + 1); },
       nullptr},
      {"last byte cut", [](Image& im) { im.weights.pop_back(); }, nullptr},
      {"cut in half", [](Image& im) { im.weights.resize(im.weights.size() / 2); }, nullptr},
      {"cut inside the header", [](Image& im) { im.weights.resize(20); }, nullptr},
      {"trailing garbage byte", [](Image& im) { im.weights.push_back('x'); }, nullptr},
      {"header not JSON", [](Image& im) { im.weights[8] = 'x'; }, nullptr},
      {"header a JSON array",
       [](Image& im) {
         im.weights[8] = '[';
         im.weights[8 + header_length(im.weights) - 1] = ']';
       },
       nullptr},
      {"header with a NUL byte", [](Image& im) { im.weights[20] = '\0'; }, nullptr},
      {"unknown dtype", [](Image& im) { replace_once(im.weights, "\"BF16\"", "\"BF17\""); }, nullptr},
      {"dtype F32 for BF16 data", [](Image& im) { replace_once(im.weights, "\"BF16\"", "\"F16\" "); }, nullptr},
      {"shape changed", [](Image& im) { replace_once(im.weights, "\"shape\":[97,", "\"shape\":[96,"); }, nullptr},
      {"offsets overlapping",
       [](Image& im) { replace_once(im.weights, "\"data_offsets\":[0,", "\"data_offsets\":[2,"); }, nullptr},
      {"tensor renamed", [](Image& im) { replace_once(im.weights, "\"norm.scale\"", "\"norm.scalf\""); }, nullptr},
      {"all zero bytes", [](Image& im) { im.weights.assign(im.weights.size(), '\0'); }, nullptr},
      {"random bytes",
       [](Image& im) {
         for (size_t i = 0; i < im.weights.size(); ++i) im.weights[i] = static_cast<char>((i * 2654435761u) >> 13);
       },
       nullptr},
      {"config.json empty", [](Image& im) { im.config.clear(); }, nullptr},
      {"config.json not an object", [](Image& im) { im.config = "[1, 2]"; }, nullptr},
      {"config.json key missing", [](Image& im) { replace_once(im.config, "\"num_experts\"", "\"num_expertz\""); },
       nullptr},
      {"config.json negative value",
       [](Image& im) { replace_once(im.config, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": -2"); }, nullptr},
      {"config.json 99999999 layers",
       [](Image& im) { replace_once(im.config, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 99999999"); },
       nullptr},
      {"config.json more layers than tensors",
       [](Image& im) { replace_once(im.config, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"); }, nullptr},
      {"config.json missing", nullptr, [](const fs::path& dir) { fs::remove(dir / "config.json"); }},
      {"no *.safetensors file", nullptr, [](const fs::path& dir) { fs::remove(dir / "model.safetensors"); }},
      {"config.json a FIFO", nullptr, write_fifo("config.json")},
      {"model.safetensors a FIFO", nullptr, write_fifo("model.safetensors")},
      {"config.json a directory", nullptr, make_dir("config.json")},
      {"model.safetensors a directory", nullptr, make_dir("model.safetensors")},
      {"model.safetensors a dangling symlink", nullptr,
       [](const fs::path& dir) {
         fs::remove(dir / "model.safetensors");
         fs::create_symlink(dir / "nowhere", dir / "model.safetensors");
       }},
      {"NaN in a qkv weight", nan_at("block.0.attn.qkv.weight", 5), nullptr},
      {"NaN in the final norm", nan_at("norm.scale", 0), nullptr},
      {"NaN in every unembedding row",
       [=](Image& im) {
         for (size_t row = 0; row < 97; ++row) nan_at("unembedding.weight", row * 64)(im);
       },
       nullptr},
      {"infinity in a bias",
       [](Image& im) {
         const size_t at = data_offset(im.weights, "block.1.attn.out.bias");
         im.weights[at] = static_cast<char>(0x80);  // bf16 0x7f80: +inf
         im.weights[at + 1] = static_cast<char>(0x7f);
       },
       nullptr},
      {"E8M0 scale 255",
       [](Image& im) { im.weights[data_offset(im.weights, "block.0.mlp.mlp1_weight.scales")] = '\xff'; }, nullptr},
  };
  return list;
}

// A plain load of damaged weights may succeed; then the first append ends
// in a status or gives finite logits, never NaN logits with status ok.
void run_if_loaded(const Result<std::shared_ptr<const Model>>& model, const char* name) {
  if (!model.ok()) return;
  auto session = Session::create(model.value());
  REQUIRE(session.ok());
  const std::vector<TokenId> prompt = {1, 5, 9, 33, 60};
  const Status st = session.value()->append(prompt);
  if (st.ok()) {
    for (float v : session.value()->logits()) REQUIRE_MESSAGE(std::isfinite(v), name);
  }
}

}  // namespace

TEST_CASE("corruption matrix: every damaged checkpoint ends in a clean status") {
  REQUIRE(damages().size() >= 30);
  const Image valid = valid_image();
  for (const Damage& damage : damages()) {
    CAPTURE(damage.name);
    TempDir dir;
    Image image = valid;
    if (damage.bytes) damage.bytes(image);
    write_bytes(dir.path() / "config.json", image.config);
    write_bytes(dir.path() / "model.safetensors", image.weights);
    if (damage.directory) damage.directory(dir.path());
    // Mapped and read into memory: the copy peeks at the file's head first.
    for (bool in_memory : {false, true}) {
      CAPTURE(in_memory);
      ModelOptions validating;
      validating.validate_weights = true;
      validating.weights_in_memory = in_memory;
      const auto checked = Model::load(dir.path(), validating);
      CHECK_MESSAGE(!checked.ok(), damage.name);
      CHECK(checked.status().code() != StatusCode::internal);
      CHECK(checked.status().message().find("(Success)") == std::string::npos);
    }
    run_if_loaded(Model::load(dir.path()), damage.name);
  }
}

TEST_CASE("the undamaged image of the matrix loads, validates and runs") {
  const Image image = valid_image();
  TempDir dir;
  write_bytes(dir.path() / "config.json", image.config);
  write_bytes(dir.path() / "model.safetensors", image.weights);
  ModelOptions validating;
  validating.validate_weights = true;
  auto model = Model::load(dir.path(), validating);
  REQUIRE_MESSAGE(model.ok(), model.status().to_string());
  run_if_loaded(model, "valid");
}

TEST_CASE("damage is reported precisely: validate_weights names the tensor; NaN logits are a status") {
  Image image = valid_image();
  const size_t scale = data_offset(image.weights, "block.1.mlp.mlp2_weight.scales");
  image.weights[scale + 3] = '\xff';
  TempDir dir;
  write_bytes(dir.path() / "config.json", image.config);
  write_bytes(dir.path() / "model.safetensors", image.weights);
  ModelOptions validating;
  validating.validate_weights = true;
  const Status st = Model::load(dir.path(), validating).status();
  CHECK(st.code() == StatusCode::invalid_checkpoint);
  CHECK_MESSAGE(st.message().find("'block.1.mlp.mlp2_weight.scales'") != std::string::npos, st.message());
  CHECK_MESSAGE(st.message().find("element 3") != std::string::npos, st.message());

  // The unembedding's row 0 NaN: every position's logit 0 is NaN.
  Image nan_logits = valid_image();
  const size_t row0 = data_offset(nan_logits.weights, "unembedding.weight");
  nan_logits.weights[row0] = static_cast<char>(0xc0);
  nan_logits.weights[row0 + 1] = static_cast<char>(0x7f);
  write_bytes(dir.path() / "model.safetensors", nan_logits.weights);
  auto model = Model::load(dir.path());
  REQUIRE(model.ok());
  auto session = Session::create(model.value());
  REQUIRE(session.ok());
  const std::vector<TokenId> prompt = {1, 2, 3};
  const Status appended = session.value()->append(prompt);
  CHECK(appended.code() == StatusCode::invalid_checkpoint);
  CHECK(session.value()->logits().empty());
  CHECK(session.value()->generate_greedy(4).status().code() == StatusCode::invalid_state);  // no logits: no token 0
}

TEST_CASE("a data section with bytes no tensor covers is refused, like the safetensors library does") {
  Image image = valid_image();
  // A one-byte-short header length shifts every tensor by one byte.
  set_header_length(image.weights, header_length(image.weights) - 1);
  TempDir dir;
  write_bytes(dir.path() / "config.json", image.config);
  write_bytes(dir.path() / "model.safetensors", image.weights);
  const Status st = Model::load(dir.path()).status();
  CHECK(st.code() == StatusCode::invalid_checkpoint);
}

TEST_CASE("a checkpoint file truncated or rewritten after load: mapped -> invalid_state, in memory -> unaffected") {
  const Image image = valid_image();
  const std::vector<TokenId> prompt = {4, 8, 15, 16, 23, 42};
  for (bool in_memory : {false, true}) {
    for (bool truncate : {true, false}) {
      CAPTURE(in_memory);
      CAPTURE(truncate);
      TempDir dir;
      const fs::path file = dir.path() / "model.safetensors";
      write_bytes(dir.path() / "config.json", image.config);
      write_bytes(file, image.weights);
      ModelOptions options;
      options.weights_in_memory = in_memory;
      auto model = Model::load(dir.path(), options);
      REQUIRE(model.ok());
      auto before = Session::create(model.value());
      REQUIRE(before.value()->append(prompt).ok());
      const std::vector<float> expected(before.value()->logits().begin(), before.value()->logits().end());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a modification time the kernel can tell apart
      if (truncate) {
        fs::resize_file(file, 8);  // a mapped read past here would be SIGBUS
      } else {
        std::string garbage(image.weights.size(), '\x7f');  // in place: same inode, same size
        std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
        out.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
      }
      auto after = Session::create(model.value());
      REQUIRE(after.ok());
      const Status st = after.value()->append(prompt);
      if (in_memory) {
        REQUIRE_MESSAGE(st.ok(), st.to_string());
        CHECK(std::equal(expected.begin(), expected.end(), after.value()->logits().begin()));
      } else {
        CHECK(st.code() == StatusCode::invalid_state);
        CHECK(st.message().find("model.safetensors") != std::string::npos);
        CHECK(before.value()->append(prompt).code() == StatusCode::invalid_state);  // every session
      }
    }
  }
}

TEST_CASE("special files and directories as state files get a status, not a hang or a stale errno") {
  Image image = valid_image();
  TempDir dir;
  write_bytes(dir.path() / "config.json", image.config);
  write_bytes(dir.path() / "model.safetensors", image.weights);
  auto model = Model::load(dir.path());
  REQUIRE(model.ok());
  auto session = Session::create(model.value());
  REQUIRE(session.ok());
  const Status on_dir = session.value()->restore_state_file(dir.path());
  CHECK(on_dir.code() == StatusCode::invalid_argument);
  CHECK(on_dir.message().find("a directory") != std::string::npos);
  CHECK(on_dir.message().find("No such file") == std::string::npos);
  REQUIRE(::mkfifo((dir.path() / "state.fifo").c_str(), 0600) == 0);
  const Status on_fifo = session.value()->restore_state_file(dir.path() / "state.fifo");  // must not block
  CHECK(on_fifo.code() == StatusCode::invalid_argument);
  CHECK(on_fifo.message().find("a FIFO") != std::string::npos);
  CHECK(session.value()->restore_state_file(dir.path() / "missing").code() == StatusCode::not_found);
  if (::geteuid() != 0) {  // root reads any mode
    write_bytes(dir.path() / "locked", "x");
    fs::permissions(dir.path() / "locked", fs::perms::none);
    CHECK(session.value()->restore_state_file(dir.path() / "locked").code() == StatusCode::permission_denied);
    const fs::path locked_dir = dir.path() / "locked-dir";
    fs::create_directory(locked_dir);
    fs::permissions(locked_dir, fs::perms::none);
    CHECK(Model::load(locked_dir).status().code() == StatusCode::permission_denied);
    fs::permissions(locked_dir, fs::perms::owner_all);
  }
}
