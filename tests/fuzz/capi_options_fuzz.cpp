// libFuzzer target for the C ABI's option structs: fuzzed bytes become the
// scalar fields and struct_size of each options struct (pointer fields stay
// NULL: a caller's pointers are trusted), and every entry point that takes
// one returns a status, never a crash or a read beyond struct_size.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ossrt.h"

namespace {

// Takes bytes from the input, zeros once it runs out.
struct Bytes {
  const uint8_t* data;
  size_t size;
  template <class T>
  T take() {
    T value{};
    const size_t n = size < sizeof(T) ? size : sizeof(T);
    std::memcpy(&value, data, n);
    data += n;
    size -= n;
    return value;
  }
};

// A struct_size near the real one: often valid, often cutting a field.
uint32_t fuzzed_size(Bytes& in, size_t real) {
  return static_cast<uint32_t>(in.take<uint8_t>() % (real + 16));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ossrt_model* model = [] {
    ossrt_model* loaded = nullptr;
    if (ossrt_model_load(OSSRT_TEST_DATA_DIR "/tiny-a", nullptr, &loaded) != OSSRT_STATUS_OK) std::abort();
    return loaded;
  }();
  Bytes in{data, size};

  ossrt_session_options session_options;
  ossrt_session_options_init(&session_options);
  session_options.struct_size = fuzzed_size(in, sizeof session_options);
  session_options.context_length = in.take<uint8_t>() % 2 ? in.take<uint64_t>() : in.take<uint8_t>();
  session_options.max_batch_tokens = in.take<uint8_t>() % 2 ? in.take<uint64_t>() : in.take<uint8_t>();
  session_options.rewind_tokens = in.take<uint64_t>();
  session_options.threads = in.take<uint8_t>() % 2 ? in.take<uint32_t>() : in.take<uint8_t>() % 4;
  session_options.numerics = in.take<int32_t>();
  ossrt_session* session = nullptr;
  if (ossrt_session_create(model, &session_options, &session) == OSSRT_STATUS_OK) {
    const int32_t prompt[] = {714, 1108, 958};
    (void)ossrt_session_append_tokens(session, prompt, 3);
  }

  ossrt_sampler_options sampler_options;
  ossrt_sampler_options_init(&sampler_options);
  sampler_options.struct_size = fuzzed_size(in, sizeof sampler_options);
  sampler_options.temperature = in.take<float>();
  sampler_options.top_k = in.take<uint64_t>();
  sampler_options.top_p = in.take<float>();
  sampler_options.min_p = in.take<float>();
  sampler_options.repetition_penalty = in.take<float>();
  sampler_options.presence_penalty = in.take<float>();
  sampler_options.frequency_penalty = in.take<float>();
  sampler_options.penalty_last_n = in.take<uint64_t>();
  sampler_options.seed = in.take<uint64_t>();
  ossrt_sampler* sampler = nullptr;
  if (ossrt_sampler_create(&sampler_options, &sampler) == OSSRT_STATUS_OK && session != nullptr) {
    int32_t token = 0;
    (void)ossrt_session_sample(session, sampler, &token);
  }

  ossrt_tokenizer* tokenizer = nullptr;
  static ossrt_tokenizer* shared_tokenizer = [] {
    ossrt_tokenizer* t = nullptr;
    if (ossrt_tokenizer_create(&t) != OSSRT_STATUS_OK) std::abort();
    return t;
  }();
  tokenizer = shared_tokenizer;
  ossrt_encode_options encode;
  ossrt_encode_options_init(&encode);
  encode.struct_size = fuzzed_size(in, sizeof encode);
  encode.specials = in.take<int32_t>();
  encode.raw_bytes = in.take<int32_t>();
  int32_t ids[64];
  size_t n = 0;
  (void)ossrt_tokenizer_encode(tokenizer, "hi <|start|>", 12, &encode, ids, 64, &n);

  ossrt_conversation* conversation = nullptr;
  if (ossrt_conversation_create(&conversation) == OSSRT_STATUS_OK) {
    ossrt_system_options system;
    ossrt_system_options_init(&system);
    system.struct_size = fuzzed_size(in, sizeof system);
    system.reasoning_effort = in.take<int32_t>();
    system.browser_tool = in.take<int32_t>();
    system.python_tool = in.take<int32_t>();
    (void)ossrt_conversation_add_system(conversation, &system);
    ossrt_render_options render;
    ossrt_render_options_init(&render);
    render.struct_size = fuzzed_size(in, sizeof render);
    render.kind = in.take<int32_t>();
    render.next_role = in.take<int32_t>();
    render.auto_drop_analysis = in.take<int32_t>();
    std::vector<int32_t> rendered(4096);
    (void)ossrt_harmony_render(tokenizer, conversation, &render, rendered.data(), rendered.size(), &n);
    if (session != nullptr && sampler != nullptr) {
      ossrt_chat_options chat;
      ossrt_chat_options_init(&chat);
      chat.struct_size = fuzzed_size(in, sizeof chat);
      chat.reasoning_effort = in.take<int32_t>();
      chat.max_tokens = in.take<uint8_t>() % 4;
      chat.reasoning_budget = in.take<uint64_t>();
      chat.auto_drop_analysis = in.take<int32_t>();
      ossrt_chat_result result;
      std::memset(&result, 0, sizeof result);
      result.struct_size = sizeof result;
      (void)ossrt_chat_turn(session, conversation, sampler, &chat, &result);
    }
    ossrt_conversation_destroy(conversation);
  }

  ossrt_model_options model_options;
  ossrt_model_options_init(&model_options);
  model_options.struct_size = fuzzed_size(in, offsetof(ossrt_model_options, backend));  // never reaches a pointer
  model_options.backend = nullptr;
  ossrt_model* reloaded = nullptr;
  if (in.take<uint8_t>() == 0 &&
      ossrt_model_load(OSSRT_TEST_DATA_DIR "/tiny-a", &model_options, &reloaded) == OSSRT_STATUS_OK)
    ossrt_model_destroy(reloaded);

  ossrt_sampler_destroy(sampler);
  ossrt_session_destroy(session);
  return 0;
}
