// Runtime logging, load progress and cancellation, and the synthetic
// checkpoint writer the chat tests and benchmarks rely on.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "checkpoint_writer.hpp"
#include "ossrt/ossrt.hpp"

using namespace ossrt;

namespace {

struct Logged {
  std::vector<std::pair<LogLevel, std::string>> messages;
  bool contains(LogLevel level, const std::string& fragment) const {
    for (const auto& [l, text] : messages) {
      if (l == level && text.find(fragment) != std::string::npos) return true;
    }
    return false;
  }
};

}  // namespace

TEST_CASE("a runtime delivers the model's and sessions' messages at or above its level") {
  testsupport::TempDir dir;
  REQUIRE(write_synthetic_checkpoint(dir.path(), synthetic_config("small").value(), 3).ok());
  auto runtime = Runtime::create();
  Logged logged;
  runtime->set_log_callback([&](LogLevel level, std::string_view text) { logged.messages.emplace_back(level, text); },
                            LogLevel::debug);
  ModelOptions options;
  options.runtime = runtime;
  auto model = Model::load(dir.path(), options);
  REQUIRE(model.ok());
  CHECK(logged.contains(LogLevel::info, "loaded"));
  CHECK(logged.contains(LogLevel::info, "2 layers"));
  REQUIRE(Session::create(model.value()).ok());
  CHECK(logged.contains(LogLevel::debug, "session: context 512"));

  SUBCASE("messages below the level are dropped") {
    runtime->set_log_callback([&](LogLevel level, std::string_view text) { logged.messages.emplace_back(level, text); },
                              LogLevel::info);
    logged.messages.clear();
    REQUIRE(Session::create(model.value()).ok());
    CHECK(logged.messages.empty());
    CHECK_FALSE(runtime->enabled(LogLevel::debug));
    CHECK(runtime->enabled(LogLevel::error));
  }
  SUBCASE("an empty callback silences the runtime, and a throwing one does not fail the call") {
    runtime->set_log_callback({}, LogLevel::debug);
    CHECK_FALSE(runtime->enabled(LogLevel::error));
    runtime->set_log_callback([](LogLevel, std::string_view) { throw 42; }, LogLevel::debug);
    CHECK(Session::create(model.value()).ok());
  }
  SUBCASE("a model loaded without a runtime logs nowhere") {
    logged.messages.clear();
    REQUIRE(Model::load(dir.path()).ok());
    CHECK(logged.messages.empty());
  }
}

TEST_CASE("load progress counts every weight byte and can cancel the load") {
  testsupport::TempDir dir;
  REQUIRE(write_synthetic_checkpoint(dir.path(), synthetic_config("small").value(), 3).ok());
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  ModelOptions options;
  options.preload = true;
  options.progress = [&](uint64_t done, uint64_t total) {
    calls.emplace_back(done, total);
    return true;
  };
  auto model = Model::load(dir.path(), options);
  REQUIRE(model.ok());
  const uint64_t total = model.value()->info().weight_bytes;
  REQUIRE(calls.size() == 3 + 15 * 2);  // embedding, norm, unembedding + 15 tensors per layer
  for (size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].first > calls[i - 1].first);
  CHECK(calls.back() == std::make_pair(total, total));

  size_t seen = 0;
  options.progress = [&](uint64_t, uint64_t) { return ++seen < 5; };
  auto cancelled = Model::load(dir.path(), options);
  CHECK(cancelled.status().code() == StatusCode::cancelled);
  CHECK(cancelled.status().message().find("progress callback") != std::string::npos);
  CHECK(seen == 5);
}

TEST_CASE("synthetic checkpoints: presets, determinism, refusals") {
  CHECK(synthetic_config("gpt-oss-20b").value().num_hidden_layers == 24);
  CHECK(synthetic_config("gpt-oss-120b").value().num_experts == 128);
  CHECK(synthetic_config("tiny-chat").value().vocab_size == 201088);
  const Status unknown = synthetic_config("gpt-5").status();
  CHECK(unknown.code() == StatusCode::invalid_argument);
  CHECK(unknown.message().find("tiny-chat") != std::string::npos);

  testsupport::TempDir a, b;
  const ModelConfig config = synthetic_config("small").value();
  REQUIRE(write_synthetic_checkpoint(a.path(), config, 9).ok());
  REQUIRE(write_synthetic_checkpoint(b.path(), config, 9).ok());
  auto ma = Model::load(a.path()), mb = Model::load(b.path());
  REQUIRE((ma.ok() && mb.ok()));
  CHECK(ma.value()->info().fingerprint == mb.value()->info().fingerprint);

  ModelConfig odd = config;
  odd.hidden_size = 48;
  CHECK(write_synthetic_checkpoint(a.path() / "odd", odd, 1).code() == StatusCode::invalid_argument);
  size_t calls = 0;
  const Status stopped =
      write_synthetic_checkpoint(a.path() / "stopped", config, 1, [&](uint64_t, uint64_t) { return ++calls < 2; });
  CHECK(stopped.code() == StatusCode::cancelled);
  CHECK(write_synthetic_checkpoint("/proc/ossrt-cannot-write", config, 1).code() == StatusCode::io_error);
}
