/* A function-calling round trip through the C ABI on the scripted weather
 * model (argv[1], tests/support/scripted_checkpoint.hpp): the first turn ends
 * in the get_weather call and the result carries it; the tool result renders
 * as harmony's tool message; the next turn runs on the grown conversation,
 * reusing its cache, and answers. Also: content deltas name their channel,
 * and the output-struct rules of ossrt_chat_result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "ossrt.h"
#include "weather_question.h"
#include "weather_script.h"

#define TOOL_OUTPUT "{\"forecast\":\"sunny\"}"

/* Every content delta of a turn, with the header fields it carried. */
typedef struct {
  char text[256];
  size_t len;
  int deltas, deltas_off_channel, tool_call_events;
  const char* channel; /* the channel every delta must name */
  const char* recipient;
} delta_log;

static int32_t log_deltas(const ossrt_harmony_event* event, void* user_data) {
  delta_log* log = (delta_log*)user_data;
  if (event->kind == OSSRT_EVENT_TOOL_CALL) ++log->tool_call_events;
  if (event->kind != OSSRT_EVENT_CONTENT_DELTA) return 0;
  ++log->deltas;
  if (event->role != OSSRT_ROLE_ASSISTANT || event->channel == NULL || strcmp(event->channel, log->channel) != 0 ||
      (log->recipient == NULL) != (event->recipient == NULL) ||
      (log->recipient != NULL && strcmp(event->recipient, log->recipient) != 0)) {
    ++log->deltas_off_channel;
  }
  if (log->len + event->text_len < sizeof log->text) {
    memcpy(log->text + log->len, event->text, event->text_len);
    log->len += event->text_len;
    log->text[log->len] = '\0';
  }
  return 0;
}

static size_t encode(const ossrt_tokenizer* tokenizer, const char* text, int32_t* out, size_t cap) {
  ossrt_encode_options options;
  size_t n = 0;
  ossrt_encode_options_init(&options);
  options.specials = OSSRT_SPECIALS_ALL;
  EXPECT(ossrt_tokenizer_encode(tokenizer, text, strlen(text), &options, out, cap, &n) == OSSRT_STATUS_OK);
  return n;
}

static size_t render(const ossrt_tokenizer* tokenizer, const ossrt_conversation* conversation, ossrt_render_kind kind,
                     int32_t* out, size_t cap) {
  ossrt_render_options options;
  size_t n = 0;
  ossrt_render_options_init(&options);
  options.kind = kind;
  EXPECT(ossrt_harmony_render(tokenizer, conversation, &options, out, cap, &n) == OSSRT_STATUS_OK);
  return n;
}

static int ends_with(const int32_t* ids, size_t n, const int32_t* tail, size_t n_tail) {
  return n >= n_tail && memcmp(ids + n - n_tail, tail, n_tail * sizeof(int32_t)) == 0;
}

static ossrt_conversation* weather_question(void) {
  return weather_question_with_city("{\"type\":\"string\"}");
}

static void test_round_trip(const ossrt_model* model, const ossrt_tokenizer* tokenizer) {
  static int32_t ids[8192], expected[512];
  ossrt_session* session = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_conversation* conversation = weather_question();
  ossrt_chat_options options;
  ossrt_chat_result call, answer;
  delta_log log;
  size_t n_messages = 0, n_ids, n_expected, n_call;
  char json[8192];

  EXPECT(ossrt_session_create(model, NULL, &session) == OSSRT_STATUS_OK);
  EXPECT(ossrt_sampler_create(NULL, &sampler) == OSSRT_STATUS_OK); /* temperature 1: the script's margins hold */
  ossrt_chat_options_init(&options);
  options.max_tokens = 64;
  options.on_event = log_deltas;
  options.on_event_user_data = &log;

  /* Turn 1: the call, streamed on commentary to the tool, and carried by the result. */
  memset(&log, 0, sizeof log);
  log.channel = "commentary";
  log.recipient = OSSRT_WEATHER_TOOL;
  ossrt_chat_result_init(&call);
  EXPECT(call.struct_size == sizeof call && call.tool_call_recipient == NULL && call.finish_reason == 0);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &call) == OSSRT_STATUS_OK);
  EXPECT(call.finish_reason == OSSRT_FINISH_TOOL_CALL && call.messages_appended == 1 && call.anomalies == 0);
  EXPECT(call.tool_call_recipient != NULL && strcmp(call.tool_call_recipient, OSSRT_WEATHER_TOOL) == 0);
  EXPECT(call.tool_call_arguments != NULL && call.tool_call_arguments_len == strlen(OSSRT_WEATHER_ARGUMENTS));
  EXPECT(call.tool_call_arguments != NULL && strcmp(call.tool_call_arguments, OSSRT_WEATHER_ARGUMENTS) == 0);
  EXPECT(call.tool_call_channel != NULL && strcmp(call.tool_call_channel, "commentary") == 0);
  EXPECT(call.tool_call_content_type != NULL && strcmp(call.tool_call_content_type, "<|constrain|>json") == 0);
  EXPECT(log.deltas > 1 && log.deltas_off_channel == 0 && log.tool_call_events == 1);
  EXPECT(strcmp(log.text, OSSRT_WEATHER_ARGUMENTS) == 0);
  n_ids = render(tokenizer, conversation, OSSRT_RENDER_CONVERSATION, ids, 8192);
  n_call = encode(tokenizer,
                  "<|start|>assistant to=" OSSRT_WEATHER_TOOL
                  "<|channel|>commentary <|constrain|>json<|message|>" OSSRT_WEATHER_ARGUMENTS "<|call|>",
                  expected, 512);
  EXPECT(ends_with(ids, n_ids, expected, n_call)); /* history: harmony's canonical call */

  /* The tool result, by the call's recipient: harmony's tool message exactly. */
  EXPECT(ossrt_conversation_add_tool_result(conversation, call.tool_call_recipient, TOOL_OUTPUT, strlen(TOOL_OUTPUT)) ==
         OSSRT_STATUS_OK);
  n_ids = render(tokenizer, conversation, OSSRT_RENDER_CONVERSATION, ids, 8192);
  n_expected = encode(
      tokenizer, "<|start|>" OSSRT_WEATHER_TOOL " to=assistant<|channel|>commentary<|message|>" TOOL_OUTPUT "<|end|>",
      expected + n_call, 512 - n_call);
  EXPECT(ends_with(ids, n_ids, expected, n_call + n_expected));
  EXPECT(ossrt_conversation_size(conversation, &n_messages) == OSSRT_STATUS_OK && n_messages == 5);

  /* Turn 2 on the grown conversation: its whole history comes from the cache; the answer is final. */
  memset(&log, 0, sizeof log);
  log.channel = "final";
  n_ids = render(tokenizer, conversation, OSSRT_RENDER_COMPLETION, ids, 8192);
  ossrt_chat_result_init(&answer);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &answer) == OSSRT_STATUS_OK);
  EXPECT(answer.finish_reason == OSSRT_FINISH_STOP && answer.messages_appended == 1);
  EXPECT(answer.prompt_tokens == n_ids);
  EXPECT(answer.reused_tokens >= call.prompt_tokens + call.generated_tokens - 1);
  EXPECT(answer.tool_call_recipient == NULL && answer.tool_call_arguments == NULL &&
         answer.tool_call_arguments_len == 0 && answer.tool_call_channel == NULL &&
         answer.tool_call_content_type == NULL);
  EXPECT(log.deltas_off_channel == 0 && strcmp(log.text, OSSRT_WEATHER_ANSWER) == 0);
  EXPECT(ossrt_conversation_to_json(conversation, json, sizeof json, &n_ids) == OSSRT_STATUS_OK);
  EXPECT(n_ids < sizeof json && strstr(json, "\"channel\":\"final\"") != NULL);
  printf("round trip: call prompt %llu tokens; answer prompt %llu, %llu reused, generated %llu\n",
         (unsigned long long)call.prompt_tokens, (unsigned long long)answer.prompt_tokens,
         (unsigned long long)answer.reused_tokens, (unsigned long long)answer.generated_tokens);

  ossrt_conversation_destroy(conversation);
  ossrt_sampler_destroy(sampler);
  ossrt_session_destroy(session);
}

/* A caller built against the first ossrt_chat_result (no tool_call_* fields)
 * gets what it has room for; a struct_size cutting a field is refused. */
static void test_result_sizes(const ossrt_model* model) {
  ossrt_session* session = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_conversation* conversation = weather_question();
  ossrt_chat_result result;
  EXPECT(ossrt_session_create(model, NULL, &session) == OSSRT_STATUS_OK);
  EXPECT(ossrt_sampler_create(NULL, &sampler) == OSSRT_STATUS_OK);
  memset(&result, 0xab, sizeof result);
  result.struct_size = (uint32_t)offsetof(ossrt_chat_result, tool_call_recipient);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, NULL, &result) == OSSRT_STATUS_OK);
  EXPECT(result.finish_reason == OSSRT_FINISH_TOOL_CALL && result.anomalies == 0);
  {
    /* Beyond its struct_size nothing is written. */
    const unsigned char* bytes = (const unsigned char*)&result;
    size_t i = offsetof(ossrt_chat_result, tool_call_recipient);
    while (i < sizeof result && bytes[i] == 0xab) ++i;
    EXPECT(i == sizeof result);
  }
  result.struct_size = (uint32_t)offsetof(ossrt_chat_result, tool_call_arguments_len) + 4;
  EXPECT(ossrt_chat_turn(session, conversation, sampler, NULL, &result) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "ends inside field 'tool_call_arguments_len'") != NULL);
  result.struct_size = 4;
  EXPECT(ossrt_chat_turn(session, conversation, sampler, NULL, &result) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "'finish_reason'") != NULL);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, NULL, NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
  ossrt_conversation_destroy(conversation);
  ossrt_sampler_destroy(sampler);
  ossrt_session_destroy(session);
}

/* <|call|> that ends no addressed message (forced as the first token): the
 * turn finishes TOOL_CALL with nothing to answer. */
static void test_call_without_recipient(const ossrt_model* model) {
  const int32_t call_id = 200012;
  const float bias = 1e4f;
  ossrt_session* session = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_sampler_options sampling;
  ossrt_conversation* conversation = weather_question();
  ossrt_chat_result result;
  ossrt_sampler_options_init(&sampling);
  sampling.bias_ids = &call_id;
  sampling.bias_values = &bias;
  sampling.n_bias = 1;
  EXPECT(ossrt_session_create(model, NULL, &session) == OSSRT_STATUS_OK);
  EXPECT(ossrt_sampler_create(&sampling, &sampler) == OSSRT_STATUS_OK);
  ossrt_chat_result_init(&result);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, NULL, &result) == OSSRT_STATUS_OK);
  EXPECT(result.finish_reason == OSSRT_FINISH_TOOL_CALL && result.generated_tokens == 1);
  EXPECT(result.tool_call_recipient == NULL && result.tool_call_arguments == NULL &&
         result.tool_call_arguments_len == 0);
  ossrt_conversation_destroy(conversation);
  ossrt_sampler_destroy(sampler);
  ossrt_session_destroy(session);
}

int main(int argc, char** argv) {
  ossrt_model* model = NULL;
  ossrt_tokenizer* tokenizer = NULL;
  if (argc != 2) {
    fprintf(stderr, "usage: %s WEATHER_MODEL_DIR\n", argv[0]);
    return 2;
  }
  EXPECT(ossrt_model_load(argv[1], NULL, &model) == OSSRT_STATUS_OK);
  if (model == NULL) return 1;
  EXPECT(ossrt_model_get_tokenizer(model, &tokenizer) == OSSRT_STATUS_OK);
  test_round_trip(model, tokenizer);
  test_result_sizes(model);
  test_call_without_recipient(model);
  ossrt_tokenizer_destroy(tokenizer);
  ossrt_model_destroy(model);
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
