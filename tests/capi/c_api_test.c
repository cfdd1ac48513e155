/* Exercises the C ABI from C99: load, info, sessions, greedy generation on the
 * bundled tiny model, devices, and the failure contract (statuses, NULL
 * out-handles, messages, NULL-safe destroy). Exits non-zero on the first
 * failed check. */
#include <stdio.h>
#include <string.h>

#include "expect.h"
#include "ossrt.h"

/* Cancels once two chunks of a prefill are done. */
static int32_t stop_after_two_chunks(size_t processed, size_t total, void* user_data) {
  int* calls = (int*)user_data;
  (void)total;
  ++*calls;
  return processed >= 4 ? 1 : 0;
}

/* Harmony from C: builders and JSON render the same ids, stop sets, and a
 * lenient parser streams events for model output with a tool call. */
static void test_harmony(void) {
  ossrt_tokenizer* tokenizer = NULL;
  ossrt_conversation* built = NULL;
  ossrt_conversation* from_json = NULL;
  ossrt_harmony_parser* parser = NULL;
  ossrt_render_options render_options;
  ossrt_harmony_event event;
  int32_t ids_built[256], ids_json[256], stops[4], output[128];
  size_t n_built = 0, n_json = 0, n_stops = 0, n_output = 0, n_messages = 0, i;
  char json[4096], reasoning[64], arguments[64];
  size_t n_text = 0, n_reasoning = 0, n_arguments = 0;
  int starts = 0, ends = 0, calls = 0, anomalies = 0;
  const char* conversation_json =
      "[{\"role\":\"system\",\"content\":[{\"type\":\"system_content\",\"model_identity\":\"You are ChatGPT, a large "
      "language model trained by OpenAI.\",\"reasoning_effort\":\"Low\",\"tools\":null,\"conversation_start_date\":"
      "null,\"knowledge_cutoff\":\"2024-06\",\"channel_config\":{\"valid_channels\":[\"analysis\",\"commentary\","
      "\"final\"],\"channel_required\":true}}]},"
      "{\"role\":\"developer\",\"content\":[{\"type\":\"developer_content\",\"instructions\":\"Be brief.\","
      "\"tools\":{\"functions\":{\"name\":\"functions\",\"description\":null,\"tools\":[{\"name\":\"get_weather\","
      "\"description\":\"Weather for a city.\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":"
      "{\"type\":\"string\"}},\"required\":[\"city\"]}}]}}}]},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in SF?\"}]}]";
  const char* output_text =
      "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary to=functions."
      "get_weather <|constrain|>json<|message|>{\"city\":\"SF\"}<|call|>";
  const char* bad_item_json = "[{\"role\":\"user\",\"content\":[{\"type\":7}]}]";
  ossrt_system_options system_options;
  ossrt_encode_options encode_options;

  EXPECT(ossrt_tokenizer_create(&tokenizer) == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_create(&built) == OSSRT_STATUS_OK);
  if (tokenizer == NULL || built == NULL) return;
  ossrt_system_options_init(&system_options);
  system_options.reasoning_effort = OSSRT_EFFORT_LOW;
  EXPECT(ossrt_conversation_add_system(built, &system_options) == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_add_developer(
             built, "Be brief.",
             "[{\"name\":\"get_weather\",\"description\":\"Weather for a city.\",\"parameters\":{\"type\":\"object\","
             "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}]") == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_add_message(built, OSSRT_ROLE_USER, NULL, NULL, NULL, NULL, "Weather in SF?", 14) ==
         OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_from_json(conversation_json, strlen(conversation_json), &from_json) == OSSRT_STATUS_OK);
  ossrt_render_options_init(&render_options);
  EXPECT(ossrt_harmony_render(tokenizer, built, &render_options, ids_built, 256, &n_built) == OSSRT_STATUS_OK);
  EXPECT(ossrt_harmony_render(tokenizer, from_json, NULL, ids_json, 256, &n_json) == OSSRT_STATUS_OK);
  EXPECT(n_built == n_json && n_built > 50 && memcmp(ids_built, ids_json, n_built * sizeof(int32_t)) == 0);
  EXPECT(ids_built[n_built - 2] == 200006); /* ends with <|start|>assistant */
  EXPECT(ossrt_harmony_render(tokenizer, built, NULL, ids_built, 3, &n_built) == OSSRT_STATUS_BUFFER_TOO_SMALL);
  EXPECT(n_built == n_json);
  EXPECT(ossrt_conversation_to_json(built, json, sizeof json, &n_text) == OSSRT_STATUS_OK);
  EXPECT(n_text > 0 && memcmp(json, "[{\"role\":\"system\"", 17) == 0);

  /* Bad input: statuses with messages that say where. */
  ossrt_conversation_destroy(from_json);
  from_json = NULL;
  EXPECT(ossrt_conversation_from_json(bad_item_json, strlen(bad_item_json), &from_json) ==
         OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(from_json == NULL && strstr(ossrt_last_error_message(), "messages[0].content[0]") != NULL);
  EXPECT(ossrt_conversation_from_json("{", 1, &from_json) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_conversation_add_message(built, 9, NULL, NULL, NULL, NULL, "x", 1) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_conversation_add_developer(built, NULL, "[{") == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_conversation_size(built, &n_messages) == OSSRT_STATUS_OK && n_messages == 3);
  EXPECT(ossrt_conversation_add_message(built, OSSRT_ROLE_TOOL, NULL, NULL, NULL, NULL, "r", 1) == OSSRT_STATUS_OK);
  EXPECT(ossrt_harmony_render(tokenizer, built, NULL, ids_built, 256, &n_built) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "messages[3]") != NULL);

  EXPECT(ossrt_harmony_stop_tokens(1, stops, 4, &n_stops) == OSSRT_STATUS_OK);
  EXPECT(n_stops == 2 && stops[0] == 200002 && stops[1] == 200012);
  EXPECT(ossrt_harmony_stop_tokens(0, stops, 4, &n_stops) == OSSRT_STATUS_OK && n_stops == 3);

  /* Parse model output token by token. */
  ossrt_encode_options_init(&encode_options);
  encode_options.specials = OSSRT_SPECIALS_ALL;
  EXPECT(ossrt_tokenizer_encode(tokenizer, output_text, strlen(output_text), &encode_options, output, 128, &n_output) ==
         OSSRT_STATUS_OK);
  EXPECT(ossrt_harmony_parser_create(tokenizer, OSSRT_ROLE_ASSISTANT, OSSRT_PARSE_LENIENT, &parser) == OSSRT_STATUS_OK);
  if (parser == NULL) return;
  for (i = 0; i < n_output; ++i) EXPECT(ossrt_harmony_parser_push(parser, output[i]) == OSSRT_STATUS_OK);
  EXPECT(ossrt_harmony_parser_push(parser, -7) == OSSRT_STATUS_OK); /* stray junk: lenient skips it */
  EXPECT(ossrt_harmony_parser_finish(parser) == OSSRT_STATUS_OK);

  /* An event the library cannot fill is refused loudly (-1, a message) and
   * nothing is taken: the first event is still the first below. */
  memset(&event, 0, sizeof event); /* struct_size 0: a forgotten _init */
  EXPECT(ossrt_harmony_parser_next_event(parser, &event) == -1);
  EXPECT(strstr(ossrt_last_error_message(), "event->struct_size is 0") != NULL);
  EXPECT(strstr(ossrt_last_error_message(), "_init") != NULL);
  event.struct_size = (uint32_t)offsetof(ossrt_harmony_event, position) + 4;
  EXPECT(ossrt_harmony_parser_next_event(parser, &event) == -1);
  EXPECT(strstr(ossrt_last_error_message(), "ends inside field 'position'") != NULL);
  /* NULL arguments answer 0 (ABI v1's promise: `while (next_event(...))` ends), with a message. */
  EXPECT(ossrt_harmony_parser_next_event(parser, NULL) == 0);
  EXPECT(strstr(ossrt_last_error_message(), "event is NULL") != NULL);
  EXPECT(ossrt_harmony_parser_next_event(NULL, &event) == 0);
  EXPECT(strstr(ossrt_last_error_message(), "parser is NULL") != NULL);
  /* A caller built against an older, shorter event gets what it has room for. */
  memset(&event, 0xab, sizeof event);
  event.struct_size = (uint32_t)offsetof(ossrt_harmony_event, position);
  EXPECT(ossrt_harmony_parser_next_event(parser, &event) == 1);
  EXPECT(event.kind == OSSRT_EVENT_MESSAGE_START && event.position == (size_t)-1 / 0xff * 0xab);
  starts = 1;

  ossrt_harmony_event_init(&event);
  EXPECT(event.struct_size == sizeof event && event.text == NULL && event.kind == 0);
  while (ossrt_harmony_parser_next_event(parser, &event) == 1) {
    starts += event.kind == OSSRT_EVENT_MESSAGE_START;
    ends += event.kind == OSSRT_EVENT_MESSAGE_END;
    anomalies += event.kind == OSSRT_EVENT_ANOMALY;
    if (event.kind == OSSRT_EVENT_CONTENT_DELTA) {
      /* Each delta names its message: the analysis, then the call to the tool. */
      const int call = event.message_index == 1;
      EXPECT(event.role == OSSRT_ROLE_ASSISTANT && event.channel != NULL);
      EXPECT(event.channel != NULL && strcmp(event.channel, call ? "commentary" : "analysis") == 0);
      EXPECT(call ? event.recipient != NULL && strcmp(event.recipient, "functions.get_weather") == 0
                  : event.recipient == NULL);
      {
        char* text = call ? arguments : reasoning;
        size_t* n = call ? &n_arguments : &n_reasoning;
        EXPECT(*n + event.text_len <= 64); /* both buffers hold 64 bytes */
        if (*n + event.text_len <= 64) memcpy(text + *n, event.text, event.text_len);
        *n += event.text_len;
      }
    }
    if (event.kind == OSSRT_EVENT_TOOL_CALL) {
      ++calls;
      EXPECT(strcmp(event.recipient, "functions.get_weather") == 0);
      EXPECT(strcmp(event.content_type, "<|constrain|>json") == 0);
      EXPECT(event.text_len == 13 && strcmp(event.text, "{\"city\":\"SF\"}") == 0);
      EXPECT(strcmp(event.channel, "commentary") == 0 && event.role == OSSRT_ROLE_ASSISTANT);
    }
  }
  EXPECT(starts == 2 && ends == 2 && calls == 1 && anomalies == 1);
  EXPECT(n_reasoning == 13 && memcmp(reasoning, "Need weather.", 13) == 0);
  EXPECT(n_arguments == 13 && memcmp(arguments, "{\"city\":\"SF\"}", 13) == 0);
  EXPECT(ossrt_harmony_parser_next_event(parser, &event) == 0); /* drained */
  EXPECT(ossrt_harmony_parser_messages_json(parser, json, sizeof json, &n_text) == OSSRT_STATUS_OK);
  EXPECT(strstr(json, "\"recipient\":\"functions.get_weather\"") != NULL);
  EXPECT(ossrt_harmony_parser_append_to(parser, from_json) == OSSRT_STATUS_INVALID_ARGUMENT); /* NULL conversation */
  ossrt_harmony_parser_destroy(parser);
  parser = NULL;

  /* Strict mode fails with harmony's message, and keeps failing. */
  EXPECT(ossrt_harmony_parser_create(tokenizer, OSSRT_ROLE_NONE, OSSRT_PARSE_STRICT, &parser) == OSSRT_STATUS_OK);
  EXPECT(ossrt_harmony_parser_push(parser, 12345) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "while expecting start token 200006") != NULL);
  EXPECT(ossrt_harmony_parser_push(parser, 200006) == OSSRT_STATUS_INVALID_ARGUMENT);
  ossrt_harmony_parser_destroy(parser);
  EXPECT(ossrt_harmony_parser_create(tokenizer, 17, OSSRT_PARSE_STRICT, &parser) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(parser == NULL);

  ossrt_harmony_parser_destroy(NULL);
  ossrt_conversation_destroy(NULL);
  ossrt_conversation_destroy(built);
  ossrt_tokenizer_destroy(tokenizer);
}

/* Loads tiny-a on `backend` and checks the status: DEVICE_ERROR naming the
 * backend where no GPU is listed, a model where one is. */
static void expect_gpu_load(const char* backend, size_t devices, ossrt_status where_listed) {
  ossrt_model_options options;
  ossrt_model* model = NULL;
  ossrt_status status;
  ossrt_model_options_init(&options);
  options.backend = backend;
  status = ossrt_model_load(OSSRT_TEST_DATA_DIR "/tiny-a", &options, &model);
  if (devices == 0) {
    EXPECT(status == OSSRT_STATUS_DEVICE_ERROR && model == NULL);
    EXPECT(strstr(ossrt_last_error_message(), backend) != NULL);
  } else {
    EXPECT(status == where_listed && (model != NULL) == (status == OSSRT_STATUS_OK));
  }
  ossrt_model_destroy(model);
}

/* Devices: a count that never fails (0 without a GPU), info per index within
 * it, refusals outside it, and GPU backends that fail loudly where none is. */
static void test_devices(void) {
  ossrt_device_info info;
  size_t count = 99, i;

  EXPECT(ossrt_device_count(&count) == OSSRT_STATUS_OK && count != 99);
  EXPECT(ossrt_device_count(NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "count_out") != NULL);
  EXPECT(strcmp(ossrt_status_string(OSSRT_STATUS_DEVICE_ERROR), "device_error") == 0);

  memset(&info, 0x5a, sizeof info);
  ossrt_device_info_init(&info);
  EXPECT(info.struct_size == sizeof info && info.backend[0] == '\0' && info.memory_bytes == 0);
  ossrt_device_info_init(NULL);
  for (i = 0; i < count; ++i) {
    EXPECT(ossrt_device_get_info(i, &info) == OSSRT_STATUS_OK);
    EXPECT(strncmp(info.backend, "cuda:", 5) == 0 && strlen(info.description) > 0);
    EXPECT(info.memory_bytes > 0 && info.free_bytes <= info.memory_bytes && info.struct_size == sizeof info);
  }
  /* Past the end (index 0 where there is none): refused, info unchanged. */
  info.memory_bytes = 7;
  EXPECT(ossrt_device_get_info(count, &info) == OSSRT_STATUS_INVALID_ARGUMENT && info.memory_bytes == 7);
  EXPECT(strstr(ossrt_last_error_message(), "index") != NULL);
  EXPECT(ossrt_device_get_info(0, NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
  info.struct_size = 0;
  EXPECT(ossrt_device_get_info(0, &info) == OSSRT_STATUS_INVALID_ARGUMENT);
  info.struct_size = (uint32_t)offsetof(ossrt_device_info, backend) + 4;
  EXPECT(ossrt_device_get_info(0, &info) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "'backend'") != NULL);

  /* "cuda" is GPU 0; a malformed device number is a device error too. */
  expect_gpu_load("cuda", count, OSSRT_STATUS_OK);
  expect_gpu_load("cuda:0", count, OSSRT_STATUS_OK);
  expect_gpu_load("cuda:x", count, OSSRT_STATUS_DEVICE_ERROR);
}

int main(void) {
  ossrt_model* model = NULL;
  ossrt_session* session = NULL;
  ossrt_model_options model_options;
  ossrt_session_options session_options;
  ossrt_model_info info;
  const int32_t prompt[5] = {714, 1108, 958, 985, 112};
  const int32_t expected[4] = {35, 515, 341, 570};
  const int32_t bad[2] = {1, 1536};
  int32_t out[8];
  size_t n_out = 0, n_tokens = 0, vocab = 0;
  const float* logits = NULL;

  EXPECT(ossrt_abi_version() == OSSRT_ABI_VERSION);
  EXPECT(strlen(ossrt_version_string()) >= 5);
  EXPECT(strcmp(ossrt_status_string(OSSRT_STATUS_TENSOR_MISMATCH), "tensor_mismatch") == 0);
  EXPECT(strcmp(ossrt_status_string(999), "unknown_status") == 0);

  /* Failure contract: status, NULL out-handle, message naming the path. */
  model = (ossrt_model*)&passes; /* garbage that must be overwritten */
  EXPECT(ossrt_model_load("/nonexistent/ossrt-model", NULL, &model) == OSSRT_STATUS_NOT_FOUND);
  EXPECT(model == NULL);
  EXPECT(strstr(ossrt_last_error_message(), "/nonexistent/ossrt-model") != NULL);
  EXPECT(ossrt_model_load(NULL, NULL, &model) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_model_load(OSSRT_TEST_DATA_DIR "/tiny-a", NULL, NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
  ossrt_model_options_init(&model_options);
  model_options.backend = "no-such-backend";
  EXPECT(ossrt_model_load(OSSRT_TEST_DATA_DIR "/tiny-a", &model_options, &model) == OSSRT_STATUS_INVALID_ARGUMENT);
  ossrt_model_destroy(NULL);
  ossrt_session_destroy(NULL);

  ossrt_model_options_init(&model_options);
  EXPECT(ossrt_model_load(OSSRT_TEST_DATA_DIR "/tiny-a", &model_options, &model) == OSSRT_STATUS_OK);
  if (model == NULL) return 1;

  /* The memory estimate from the headers: the loaded model's weights, refusals. */
  {
    ossrt_memory_estimate estimate;
    ossrt_session_options estimate_session;
    ossrt_memory_estimate_init(&estimate);
    ossrt_session_options_init(&estimate_session);
    estimate_session.context_length = 300;
    EXPECT(ossrt_model_estimate(OSSRT_TEST_DATA_DIR "/tiny-a", NULL, &estimate_session, &estimate) == OSSRT_STATUS_OK);
    EXPECT(estimate.weight_bytes > 0 && estimate.kv_bytes_per_token == 2 * 2 * 128 * 4);
    EXPECT(estimate.total_bytes == estimate.weight_bytes + estimate.session_bytes);
    EXPECT(ossrt_model_estimate("/nonexistent/ossrt-model", NULL, NULL, &estimate) == OSSRT_STATUS_NOT_FOUND);
    EXPECT(ossrt_model_estimate(OSSRT_TEST_DATA_DIR "/tiny-a", NULL, NULL, NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
    estimate_session.context_length = (uint64_t)1 << 40;
    EXPECT(ossrt_model_estimate(OSSRT_TEST_DATA_DIR "/tiny-a", NULL, &estimate_session, &estimate) ==
           OSSRT_STATUS_INVALID_ARGUMENT);
  }

  /* Expert offload: two layers' experts on the CPU, reported in the info. */
  {
    ossrt_model* offloaded = NULL;
    ossrt_model_options_init(&model_options);
    EXPECT(model_options.cpu_expert_layers == 0);
    model_options.cpu_expert_layers = 2;
    EXPECT(ossrt_model_load(OSSRT_TEST_DATA_DIR "/tiny-a", &model_options, &offloaded) == OSSRT_STATUS_OK);
    ossrt_model_info_init(&info);
    EXPECT(offloaded != NULL && ossrt_model_get_info(offloaded, &info) == OSSRT_STATUS_OK);
    EXPECT(info.cpu_expert_layers == 2 && info.host_expert_bytes > 0);
    EXPECT(strcmp(info.layout, "original") == 0 && strcmp(info.dense_format, "bf16") == 0);
    EXPECT(info.converted_bytes == 0);
    EXPECT(info.tiled_expert_matrices == 0); /* experts offloaded beside a device stay plain */
    ossrt_model_destroy(offloaded);
  }

  memset(&info, 0x5a, sizeof info);
  ossrt_model_info_init(&info);
  EXPECT(info.struct_size == sizeof info && info.vocab_size == 0 && info.weight_bytes == 0);
  info.struct_size = (uint32_t)offsetof(ossrt_model_info, max_context_length) + 4;
  EXPECT(ossrt_model_get_info(model, &info) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "ends inside field 'max_context_length'") != NULL);
  info.struct_size = 4;
  EXPECT(ossrt_model_get_info(model, &info) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "'num_hidden_layers'") != NULL);
  info.struct_size = sizeof info;
  EXPECT(ossrt_model_get_info(model, &info) == OSSRT_STATUS_OK);
  EXPECT(info.vocab_size == 1536 && info.num_hidden_layers == 4 && info.experts_per_token == 4);
  EXPECT(info.max_context_length == 2048);
  EXPECT(info.struct_size == sizeof info);

  ossrt_session_options_init(&session_options);
  EXPECT(session_options.numerics == OSSRT_NUMERICS_EXACT);
  session_options.numerics = 5;
  EXPECT(ossrt_session_create(model, &session_options, &session) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(session == NULL && strstr(ossrt_last_error_message(), "numerics") != NULL);
  {
    /* Fast numerics: a bf16 KV cache, half the bytes of the exact one. */
    ossrt_session* fast = NULL;
    ossrt_session* exact = NULL;
    ossrt_session_memory fast_memory, exact_memory;
    ossrt_session_memory_init(&fast_memory);
    ossrt_session_memory_init(&exact_memory);
    session_options.numerics = OSSRT_NUMERICS_FAST;
    EXPECT(ossrt_session_create(model, &session_options, &fast) == OSSRT_STATUS_OK);
    session_options.numerics = OSSRT_NUMERICS_EXACT;
    EXPECT(ossrt_session_create(model, &session_options, &exact) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_append_tokens(fast, prompt, 5) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_append_tokens(exact, prompt, 5) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_get_memory(fast, &fast_memory) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_get_memory(exact, &exact_memory) == OSSRT_STATUS_OK);
    EXPECT(fast_memory.kv_cache_bytes > 0 && 2 * fast_memory.kv_cache_bytes == exact_memory.kv_cache_bytes);
    ossrt_session_destroy(fast);
    ossrt_session_destroy(exact);
  }
  {
    /* Two sessions decoded together: the step appends each token; a session
     * given twice is busy in the step; another numerics is refused. */
    ossrt_batch_decoder* decoder = NULL;
    ossrt_session* rows[2] = {NULL, NULL};
    ossrt_session* fast = NULL;
    const int32_t next[2] = {7, 9};
    size_t held = 0;
    EXPECT(ossrt_batch_decoder_create(model, 0, &decoder) == OSSRT_STATUS_INVALID_ARGUMENT && decoder == NULL);
    EXPECT(ossrt_batch_decoder_create(model, 2, &decoder) == OSSRT_STATUS_OK && decoder != NULL);
    EXPECT(ossrt_session_create(model, &session_options, &rows[0]) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_create(model, &session_options, &rows[1]) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_append_tokens(rows[0], prompt, 5) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_append_tokens(rows[1], prompt, 2) == OSSRT_STATUS_OK);
    EXPECT(ossrt_batch_decoder_step(decoder, rows, next, 2) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_get_num_tokens(rows[0], &held) == OSSRT_STATUS_OK && held == 6);
    EXPECT(ossrt_session_get_num_tokens(rows[1], &held) == OSSRT_STATUS_OK && held == 3);
    {
      ossrt_session* twice[2] = {rows[0], rows[0]};
      EXPECT(ossrt_batch_decoder_step(decoder, twice, next, 2) == OSSRT_STATUS_INVALID_STATE);
    }
    session_options.numerics = OSSRT_NUMERICS_FAST;
    EXPECT(ossrt_session_create(model, &session_options, &fast) == OSSRT_STATUS_OK);
    session_options.numerics = OSSRT_NUMERICS_EXACT;
    EXPECT(ossrt_session_append_tokens(fast, prompt, 1) == OSSRT_STATUS_OK);
    {
      ossrt_session* mixed[2] = {rows[0], fast};
      EXPECT(ossrt_batch_decoder_step(decoder, mixed, next, 2) == OSSRT_STATUS_INVALID_ARGUMENT);
      EXPECT(strstr(ossrt_last_error_message(), "other numerics") != NULL);
    }
    ossrt_batch_decoder_cancel(decoder);
    EXPECT(ossrt_batch_decoder_step(decoder, rows, next, 2) == OSSRT_STATUS_CANCELLED);
    EXPECT(ossrt_session_get_num_tokens(rows[0], &held) == OSSRT_STATUS_OK && held == 6);
    EXPECT(ossrt_batch_decoder_step(NULL, rows, next, 2) == OSSRT_STATUS_INVALID_ARGUMENT);
    ossrt_batch_decoder_destroy(decoder);
    ossrt_batch_decoder_destroy(NULL);
    ossrt_session_destroy(fast);
    ossrt_session_destroy(rows[0]);
    ossrt_session_destroy(rows[1]);
  }
  session_options.max_batch_tokens = 2;
  EXPECT(ossrt_session_create(model, &session_options, &session) == OSSRT_STATUS_OK);
  ossrt_model_destroy(model); /* the session keeps the model alive */
  if (session == NULL) return 1;

  EXPECT(ossrt_session_get_logits(session, &logits, &vocab) == OSSRT_STATUS_INVALID_STATE);
  EXPECT(ossrt_session_append_tokens(session, bad, 2) == OSSRT_STATUS_INVALID_TOKEN);
  EXPECT(strstr(ossrt_last_error_message(), "1536") != NULL);
  EXPECT(ossrt_session_append_tokens(session, prompt, 5) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_get_logits(session, &logits, &vocab) == OSSRT_STATUS_OK);
  EXPECT(vocab == 1536 && logits != NULL);
  EXPECT(ossrt_session_generate_greedy(session, 4, NULL, 0, out, 8, &n_out) == OSSRT_STATUS_OK);
  EXPECT(n_out == 4 && memcmp(out, expected, sizeof expected) == 0);
  EXPECT(ossrt_session_get_num_tokens(session, &n_tokens) == OSSRT_STATUS_OK && n_tokens == 9);
  EXPECT(ossrt_session_generate_greedy(session, 4, NULL, 0, out, 2, &n_out) == OSSRT_STATUS_INVALID_ARGUMENT);
  {
    ossrt_sampler_options so;
    ossrt_sampler* sampler = NULL;
    int32_t first[6], second[6];
    size_t n1 = 0, n2 = 0;
    ossrt_sampler_options_init(&so);
    so.top_p = 2.0f;
    EXPECT(ossrt_sampler_create(&so, &sampler) == OSSRT_STATUS_INVALID_ARGUMENT && sampler == NULL);
    EXPECT(strstr(ossrt_last_error_message(), "top_p") != NULL);
    ossrt_sampler_options_init(&so);
    so.temperature = 0.9f;
    so.seed = 5;
    EXPECT(ossrt_sampler_create(&so, &sampler) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_generate(session, NULL, 6, NULL, 0, first, 6, &n1) == OSSRT_STATUS_INVALID_ARGUMENT);
    /* The same seed from the same state gives the same tokens. */
    EXPECT(ossrt_session_reset(session) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_append_tokens(session, prompt, 5) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_generate(session, sampler, 6, NULL, 0, first, 6, &n1) == OSSRT_STATUS_OK && n1 == 6);
    EXPECT(ossrt_session_reset(session) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_append_tokens(session, prompt, 5) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_generate(session, sampler, 6, NULL, 0, second, 6, &n2) == OSSRT_STATUS_OK && n2 == 6);
    EXPECT(memcmp(first, second, sizeof first) == 0);
    ossrt_sampler_destroy(sampler);
    ossrt_sampler_destroy(NULL);
  }
  EXPECT(ossrt_session_reset(session) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_get_num_tokens(session, &n_tokens) == OSSRT_STATUS_OK && n_tokens == 0);
  {
    ossrt_session* copy = NULL;
    int32_t a[3], b[3];
    size_t na = 0, nb = 0;
    EXPECT(ossrt_session_fork(NULL, &copy) == OSSRT_STATUS_INVALID_ARGUMENT && copy == NULL);
    EXPECT(ossrt_session_append_tokens(session, prompt, 5) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_fork(session, &copy) == OSSRT_STATUS_OK && copy != NULL);
    EXPECT(ossrt_session_generate_greedy(session, 3, NULL, 0, a, 3, &na) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_generate_greedy(copy, 3, NULL, 0, b, 3, &nb) == OSSRT_STATUS_OK);
    EXPECT(na == 3 && nb == 3 && memcmp(a, b, sizeof a) == 0 && a[0] == expected[0]);
    ossrt_session_destroy(copy);
    EXPECT(ossrt_session_reset(session) == OSSRT_STATUS_OK);
  }
  ossrt_session_cancel(session); /* nothing running: the next call is not affected */
  EXPECT(ossrt_session_append_tokens(session, prompt, 5) == OSSRT_STATUS_OK);
  ossrt_session_cancel(NULL);
  ossrt_session_destroy(session);

  /* A progress callback that cancels: the session keeps the committed chunks. */
  {
    ossrt_model* again = NULL;
    int calls = 0;
    EXPECT(ossrt_model_load(OSSRT_TEST_DATA_DIR "/tiny-a", NULL, &again) == OSSRT_STATUS_OK);
    ossrt_session_options_init(&session_options);
    session_options.max_batch_tokens = 2;
    session_options.prefill_progress = stop_after_two_chunks;
    session_options.prefill_progress_user_data = &calls;
    session = NULL;
    EXPECT(ossrt_session_create(again, &session_options, &session) == OSSRT_STATUS_OK);
    ossrt_model_destroy(again);
    if (session == NULL) return 1;
    EXPECT(ossrt_session_append_tokens(session, prompt, 5) == OSSRT_STATUS_CANCELLED);
    EXPECT(calls == 2);
    EXPECT(ossrt_session_get_num_tokens(session, &n_tokens) == OSSRT_STATUS_OK && n_tokens == 4);
    EXPECT(ossrt_session_get_logits(session, &logits, &vocab) == OSSRT_STATUS_INVALID_STATE);
    ossrt_session_destroy(session);
  }

  /* Tokenizer: required-size idiom, specials, decode contracts, streaming. */
  {
    ossrt_tokenizer* tok = NULL;
    ossrt_encode_options eo;
    ossrt_detok_stream* stream = NULL;
    int32_t ids[16], id = 0;
    char text[64];
    const char* view = NULL;
    size_t n = 0, len = 0, total = 0, i = 0;
    const int32_t hello[4] = {13225, 11, 2375, 0};
    const int32_t with_bad[2] = {13225, -3};
    const char* emoji = "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb!"; /* woman technologist */

    EXPECT(ossrt_tokenizer_create(&tok) == OSSRT_STATUS_OK);
    if (tok == NULL) return 1;
    EXPECT(ossrt_tokenizer_vocab_size(tok, &n) == OSSRT_STATUS_OK && n == 201088);
    EXPECT(ossrt_tokenizer_encode(tok, "Hello, world!", 13, NULL, ids, 2, &n) == OSSRT_STATUS_BUFFER_TOO_SMALL);
    EXPECT(n == 4);
    EXPECT(ossrt_tokenizer_encode(tok, "Hello, world!", 13, NULL, ids, 16, &n) == OSSRT_STATUS_OK);
    EXPECT(n == 4 && memcmp(ids, hello, sizeof hello) == 0);
    ossrt_encode_options_init(&eo);
    eo.specials = OSSRT_SPECIALS_ALL;
    EXPECT(ossrt_tokenizer_encode(tok, "<|start|>user", 13, &eo, ids, 16, &n) == OSSRT_STATUS_OK);
    EXPECT(n == 2 && ids[0] == 200006 && ids[1] == 1428);
    eo.specials = 7;
    EXPECT(ossrt_tokenizer_encode(tok, "x", 1, &eo, ids, 16, &n) == OSSRT_STATUS_INVALID_ARGUMENT);
    EXPECT(ossrt_tokenizer_encode(tok, NULL, 0, NULL, NULL, 0, &n) == OSSRT_STATUS_OK && n == 0);
    EXPECT(ossrt_tokenizer_encode(tok, "\xff\xfe", 2, NULL, ids, 16, &n) == OSSRT_STATUS_OK && n >= 1);

    EXPECT(ossrt_tokenizer_decode(tok, hello, 4, 0, text, 5, &n) == OSSRT_STATUS_BUFFER_TOO_SMALL && n == 13);
    EXPECT(ossrt_tokenizer_decode(tok, hello, 4, 0, text, sizeof text, &n) == OSSRT_STATUS_OK);
    EXPECT(n == 13 && memcmp(text, "Hello, world!", 13) == 0);
    EXPECT(ossrt_tokenizer_decode(tok, with_bad, 2, 0, text, sizeof text, &n) == OSSRT_STATUS_INVALID_TOKEN);
    EXPECT(ossrt_tokenizer_decode(tok, with_bad, 2, 1, text, sizeof text, &n) == OSSRT_STATUS_OK);
    EXPECT(n == 8 && memcmp(text, "Hello\xef\xbf\xbd", 8) == 0);
    EXPECT(ossrt_tokenizer_token_bytes(tok, 200005, &view, &len) == OSSRT_STATUS_OK);
    EXPECT(len == 11 && memcmp(view, "<|channel|>", 11) == 0);
    EXPECT(ossrt_tokenizer_token_bytes(tok, 201088, &view, &len) == OSSRT_STATUS_INVALID_TOKEN);
    EXPECT(ossrt_tokenizer_special_id(tok, OSSRT_SPECIAL_START, &id) == OSSRT_STATUS_OK && id == 200006);
    EXPECT(ossrt_tokenizer_special_id(tok, 42, &id) == OSSRT_STATUS_INVALID_ARGUMENT);
    EXPECT(ossrt_tokenizer_find_special(tok, "<|endofprompt|>", 15, &id) == OSSRT_STATUS_OK && id == 200018);
    EXPECT(ossrt_tokenizer_find_special(tok, "hello", 5, &id) == OSSRT_STATUS_INVALID_ARGUMENT);

    /* Streaming: output is only ever complete characters, and adds up to the text. */
    EXPECT(ossrt_tokenizer_encode(tok, emoji, strlen(emoji), NULL, ids, 16, &n) == OSSRT_STATUS_OK);
    EXPECT(ossrt_detok_stream_create(tok, &stream) == OSSRT_STATUS_OK);
    if (stream == NULL) return 1;
    for (i = 0; i < n; ++i) {
      size_t got = 0;
      const ossrt_status first = ossrt_detok_stream_push(stream, ids[i], text + total, 0, &got);
      EXPECT(first == OSSRT_STATUS_OK || first == OSSRT_STATUS_BUFFER_TOO_SMALL);
      if (first == OSSRT_STATUS_BUFFER_TOO_SMALL) { /* the stream is unchanged: push again with room */
        EXPECT(ossrt_detok_stream_push(stream, ids[i], text + total, sizeof text - total, &got) == OSSRT_STATUS_OK);
      }
      total += got;
    }
    EXPECT(ossrt_detok_stream_finish(stream, text + total, sizeof text - total, &len) == OSSRT_STATUS_OK);
    total += len;
    EXPECT(total == strlen(emoji) && memcmp(text, emoji, total) == 0);
    EXPECT(ossrt_detok_stream_push(stream, -1, text, sizeof text, &len) == OSSRT_STATUS_INVALID_TOKEN);
    ossrt_detok_stream_destroy(stream);
    ossrt_detok_stream_destroy(NULL);
    ossrt_tokenizer_destroy(tok);
    ossrt_tokenizer_destroy(NULL);
  }

  test_harmony();
  test_devices();
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
