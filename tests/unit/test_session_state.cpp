// Session state beyond appending: truncate, sync_prefix (prefix reuse across
// chat turns), save/restore. Every path is checked against a session that ran
// the same tokens from scratch.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "checkpoint_writer.hpp"
#include "ossrt/session.hpp"

using namespace ossrt;

namespace {

std::shared_ptr<const Model> tiny_a() {
  static auto model = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a");
  REQUIRE(model.ok());
  return model.value();
}

std::unique_ptr<Session> make_session(size_t rewind_tokens, size_t chunk = 16) {
  SessionOptions options;
  options.max_batch_tokens = chunk;
  options.rewind_tokens = rewind_tokens;
  auto session = Session::create(tiny_a(), options);
  REQUIRE(session.ok());
  return std::move(session.value());
}

std::vector<TokenId> random_tokens(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<TokenId> ids(n);
  for (TokenId& id : ids) id = static_cast<TokenId>(rng() % 1536);
  return ids;
}

std::vector<float> fresh_logits(std::span<const TokenId> tokens) {
  auto session = make_session(0);
  REQUIRE(session->append(tokens).ok());
  return std::vector<float>(session->logits().begin(), session->logits().end());
}

float max_abs_diff(std::span<const float> a, std::span<const float> b) {
  REQUIRE(a.size() == b.size());
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

}  // namespace

TEST_CASE("sync_prefix reuses the common prefix and matches a fresh run") {
  // Window 8, chunk 16: the rings hold 8 + 15 + rewind positions.
  for (size_t rewind : {size_t(0), size_t(128)}) {
    CAPTURE(rewind);
    auto session = make_session(rewind);
    const std::vector<TokenId> turn1 = random_tokens(120, 1);
    auto reused = session->sync_prefix(turn1);
    REQUIRE(reused.ok());
    CHECK(reused.value() == 0);
    REQUIRE(session->generate_greedy(30).ok());  // the reply: 150 tokens held
    // The next prompt keeps the first 120 and 20 of the reply, then diverges.
    std::vector<TokenId> turn2(session->tokens().begin(), session->tokens().begin() + 140);
    const std::vector<TokenId> more = random_tokens(25, 2);
    turn2.insert(turn2.end(), more.begin(), more.end());
    reused = session->sync_prefix(turn2);
    REQUIRE(reused.ok());
    // 10 dropped tokens fit in the rewind room (chunk + rewind >= 16); otherwise all is re-run.
    CHECK(reused.value() == 140);
    CHECK(std::equal(turn2.begin(), turn2.end(), session->tokens().begin(), session->tokens().end()));
    CHECK(max_abs_diff(session->logits(), fresh_logits(turn2)) < 1e-5);
    // Dropping more than the rings can give back re-prefills and is still exact.
    std::vector<TokenId> turn3(turn2.begin(), turn2.begin() + 60);
    turn3.push_back(7);
    reused = session->sync_prefix(turn3);
    REQUIRE(reused.ok());
    CHECK(reused.value() == (rewind == 128 ? 60 : 0));  // 105 dropped: within 16 + 128, beyond 16
    CHECK(max_abs_diff(session->logits(), fresh_logits(turn3)) < 1e-5);
    // The same tokens again: nothing to run.
    reused = session->sync_prefix(turn3);
    REQUIRE(reused.ok());
    CHECK(reused.value() == turn3.size());
  }
}

TEST_CASE("truncate steps back exactly, within the rewind room and beyond it") {
  const std::vector<TokenId> prompt = random_tokens(90, 3);
  for (size_t drop : {size_t(1), size_t(15), size_t(40)}) {
    CAPTURE(drop);
    auto session = make_session(0);
    REQUIRE(session->append(prompt).ok());
    REQUIRE(session->truncate(prompt.size() - drop).ok());
    CHECK(session->tokens().size() == prompt.size() - drop);
    const TokenId next[1] = {11};
    REQUIRE(session->append(next).ok());
    std::vector<TokenId> expected(prompt.begin(), prompt.end() - static_cast<std::ptrdiff_t>(drop));
    expected.push_back(11);
    CHECK(max_abs_diff(session->logits(), fresh_logits(expected)) < 1e-5);
  }
  auto session = make_session(0);
  REQUIRE(session->append(prompt).ok());
  CHECK(session->truncate(91).code() == StatusCode::invalid_argument);
}

TEST_CASE("save_state / restore_state round-trip to identical logits, and refuse what does not fit") {
  auto session = make_session(32);
  const std::vector<TokenId> prompt = random_tokens(100, 4);
  REQUIRE(session->append(prompt).ok());
  auto blob = session->save_state();
  REQUIRE(blob.ok());
  auto copy = make_session(0);  // a smaller ring than the saver's: keeps what it can hold
  REQUIRE(copy->restore_state(blob.value()).ok());
  CHECK(std::equal(prompt.begin(), prompt.end(), copy->tokens().begin(), copy->tokens().end()));
  CHECK(max_abs_diff(copy->logits(), session->logits()) == 0.0f);
  auto a = session->generate_greedy(20);
  auto b = copy->generate_greedy(20);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a.value() == b.value());
  CHECK(max_abs_diff(copy->logits(), session->logits()) < 1e-6);

  testsupport::TempDir dir;
  REQUIRE(session->save_state_file(dir.path() / "state.bin").ok());
  auto from_file = make_session(8);
  REQUIRE(from_file->restore_state_file(dir.path() / "state.bin").ok());
  CHECK(max_abs_diff(from_file->logits(), session->logits()) == 0.0f);
  CHECK(from_file->restore_state_file(dir.path() / "missing.bin").code() == StatusCode::not_found);

  // Corrupt, truncated and foreign blobs are refused; the session is unchanged.
  std::vector<uint8_t> bad = blob.value();
  bad[0] = 'X';
  CHECK(copy->restore_state(bad).code() == StatusCode::invalid_argument);
  bad = blob.value();
  bad.resize(bad.size() - 5);
  CHECK(copy->restore_state(bad).code() == StatusCode::invalid_argument);
  bad = blob.value();
  bad[8] = 9;  // format version
  CHECK(copy->restore_state(bad).code() == StatusCode::invalid_argument);
  // A state from a build before version 2 (fingerprints over tensor names) says so, not "different model".
  bad[8] = 1;
  const Status old_format = copy->restore_state(bad);
  CHECK(old_format.code() == StatusCode::invalid_argument);
  CHECK(old_format.message().find("format version 1, this build reads 2") != std::string::npos);
  bad = blob.value();
  bad[16] ^= 1;  // fingerprint
  const Status foreign = copy->restore_state(bad);
  CHECK(foreign.code() == StatusCode::invalid_state);
  CHECK(foreign.message().find("different model") != std::string::npos);
  CHECK(copy->tokens().size() == prompt.size() + 20);
  SessionOptions small;
  small.context_length = 50;
  auto tiny_context = Session::create(tiny_a(), small);
  REQUIRE(tiny_context.ok());
  CHECK(tiny_context.value()->restore_state(blob.value()).code() == StatusCode::context_overflow);
}

TEST_CASE("memory report") {
  auto session = make_session(0);
  REQUIRE(session->append(random_tokens(10, 5)).ok());
  const Session::Memory memory = session->memory();
  CHECK(memory.kv_cache_bytes == session->kv_cache_bytes());
  CHECK(memory.scratch_bytes > 0);
  CHECK(memory.logits_bytes >= 1536 * sizeof(float));
}

TEST_CASE("fast numerics: a bf16 KV cache of half the size, logits near exact, state portable both ways") {
  const std::vector<TokenId> prompt = random_tokens(120, 6);
  SessionOptions options;
  options.max_batch_tokens = 16;
  options.rewind_tokens = 0;
  auto exact = Session::create(tiny_a(), options);
  options.numerics = Numerics::fast;
  auto fast = Session::create(tiny_a(), options);
  REQUIRE(exact.ok());
  REQUIRE(fast.ok());
  REQUIRE(exact.value()->append(prompt).ok());
  REQUIRE(fast.value()->append(prompt).ok());
  CHECK(fast.value()->kv_cache_bytes() * 2 == exact.value()->kv_cache_bytes());
  // tiny-a's fast logits sit about 3e-2 from exact ones (the golden suite's
  // --mode fast bound is 0.15); identical logits would mean bf16 never ran.
  const float moved = max_abs_diff(fast.value()->logits(), exact.value()->logits());
  CHECK(moved > 0.0f);
  CHECK(moved < 0.15f);

  // A fast session's state restores into an exact one exactly (bf16 widens
  // without loss) and continues as the fast session would, up to fp32 keys
  // for the positions appended afterwards.
  auto blob = fast.value()->save_state();
  REQUIRE(blob.ok());
  auto widened = make_session(0);
  REQUIRE(widened->restore_state(blob.value()).ok());
  CHECK(max_abs_diff(widened->logits(), fast.value()->logits()) == 0.0f);
  // An exact state restored into a fast session is rounded to bf16: it then
  // continues like the fast session that computed the same keys itself.
  auto exact_blob = exact.value()->save_state();
  REQUIRE(exact_blob.ok());
  auto rounded = Session::create(tiny_a(), options);
  REQUIRE(rounded.ok());
  REQUIRE(rounded.value()->restore_state(exact_blob.value()).ok());
  REQUIRE(rounded.value()->append(std::vector<TokenId>{7}).ok());
  REQUIRE(fast.value()->append(std::vector<TokenId>{7}).ok());
  CHECK(max_abs_diff(rounded.value()->logits(), fast.value()->logits()) < 0.15f);

  options.numerics = static_cast<Numerics>(7);
  CHECK(Session::create(tiny_a(), options).status().code() == StatusCode::invalid_argument);
}
