/* Function calling in pure C over the stable C ABI: the model is offered a
 * get_weather tool; when a turn ends in a call, the program runs the tool
 * (a local fake here) with the model's arguments, hands the result back and
 * lets the model continue, until it answers (at most kMaxRounds turns).
 *
 *   ossrt-example-c-tools MODEL_DIR [QUESTION]
 */
#include <stdio.h>
#include <string.h>

#include "ossrt.h"

enum { kMaxRounds = 4 };

static const char* const kTools =
    "[{\"name\":\"get_weather\",\"description\":\"Current weather for a city.\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}]";

/* Streams the final answer: each content delta names its channel. */
static int32_t print_final(const ossrt_harmony_event* event, void* user_data) {
  (void)user_data;
  if (event->kind == OSSRT_EVENT_CONTENT_DELTA && event->channel != NULL && strcmp(event->channel, "final") == 0) {
    fwrite(event->text, 1, event->text_len, stdout);
    fflush(stdout);
  }
  return 0; /* non-zero would end the turn */
}

/* Copies the string value of "key" in a flat JSON object into out (a real
 * program would use a JSON library). 1 if found. */
static int json_string_field(const char* json, size_t len, const char* key, char* out, size_t cap) {
  char quoted[64];
  const char *p, *end = json + len, *value;
  size_t n;
  snprintf(quoted, sizeof quoted, "\"%s\"", key);
  for (p = json; p + strlen(quoted) <= end; ++p) {
    if (memcmp(p, quoted, strlen(quoted)) != 0) continue;
    p += strlen(quoted);
    while (p < end && (*p == ' ' || *p == ':')) ++p;
    if (p >= end || *p != '"') return 0;
    value = ++p;
    while (p < end && *p != '"') ++p;
    n = (size_t)(p - value) < cap - 1 ? (size_t)(p - value) : cap - 1;
    memcpy(out, value, n);
    out[n] = '\0';
    return p < end;
  }
  return 0;
}

/* The tool: a fake forecast for the city the model asked about. An unknown
 * tool or bad arguments get an error result, which the model can read. */
static size_t run_tool(const char* name, const char* arguments, size_t len, char* out, size_t cap) {
  char city[64];
  int n;
  if (strcmp(name, "functions.get_weather") != 0) {
    n = snprintf(out, cap, "{\"error\":\"unknown tool %s\"}", name);
  } else if (!json_string_field(arguments, len, "city", city, sizeof city)) {
    n = snprintf(out, cap, "{\"error\":\"arguments need a \\\"city\\\" string\"}");
  } else {
    n = snprintf(out, cap, "{\"city\":\"%s\",\"forecast\":\"sunny\",\"temperature_c\":21}", city);
  }
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static int fail(const char* what, ossrt_status status) {
  fprintf(stderr, "%s: %s: %s\n", what, ossrt_status_string(status), ossrt_last_error_message());
  return 1;
}

/* Chat turns until the model answers instead of calling a tool. */
static int converse(ossrt_session* session, ossrt_conversation* conversation, const ossrt_sampler* sampler) {
  ossrt_chat_options options;
  ossrt_chat_result result;
  char output[256];
  int round;
  ossrt_chat_options_init(&options);
  options.max_tokens = 512;
  options.on_event = print_final;
  for (round = 0; round < kMaxRounds; ++round) {
    ossrt_status status;
    size_t n_output;
    ossrt_chat_result_init(&result);
    status = ossrt_chat_turn(session, conversation, sampler, &options, &result);
    if (status != OSSRT_STATUS_OK) return fail("chat_turn", status);
    if (result.finish_reason != OSSRT_FINISH_TOOL_CALL) {
      printf("\n[%s; prompt %llu tokens, %llu reused; generated %llu]\n",
             ossrt_finish_reason_string(result.finish_reason), (unsigned long long)result.prompt_tokens,
             (unsigned long long)result.reused_tokens, (unsigned long long)result.generated_tokens);
      return 0;
    }
    /* The call's strings live until the next chat turn: use them now. */
    n_output = run_tool(result.tool_call_recipient, result.tool_call_arguments, result.tool_call_arguments_len, output,
                        sizeof output);
    printf("[tool call: %s(%.*s) -> %s]\n", result.tool_call_recipient, (int)result.tool_call_arguments_len,
           result.tool_call_arguments, output);
    status = ossrt_conversation_add_tool_result(conversation, result.tool_call_recipient, output, n_output);
    if (status != OSSRT_STATUS_OK) return fail("add_tool_result", status);
  }
  fprintf(stderr, "no answer after %d tool calls\n", kMaxRounds);
  return 1;
}

int main(int argc, char** argv) {
  const char* question = argc >= 3 ? argv[2] : "What is the weather in Paris?";
  ossrt_conversation* conversation = NULL;
  ossrt_model* model = NULL;
  ossrt_session* session = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_status status;
  int rc = 1;
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL_DIR [QUESTION]\n", argv[0]);
    return 2;
  }
  /* The conversation needs no model. Setting the effort adds harmony's
   * default system message; the developer message offers the tool. */
  if ((status = ossrt_conversation_create(&conversation)) != OSSRT_STATUS_OK ||
      (status = ossrt_conversation_set_reasoning_effort(conversation, OSSRT_EFFORT_LOW)) != OSSRT_STATUS_OK ||
      (status = ossrt_conversation_add_developer(conversation, "Use get_weather for weather questions.", kTools)) !=
          OSSRT_STATUS_OK ||
      (status = ossrt_conversation_add_user(conversation, question, strlen(question))) != OSSRT_STATUS_OK) {
    rc = fail("conversation", status);
  } else if ((status = ossrt_model_load(argv[1], NULL, &model)) != OSSRT_STATUS_OK) {
    rc = fail("model_load", status);
  } else if ((status = ossrt_session_create(model, NULL, &session)) != OSSRT_STATUS_OK) {
    rc = fail("session_create", status);
  } else if ((status = ossrt_sampler_create(NULL, &sampler)) != OSSRT_STATUS_OK) {
    rc = fail("sampler_create", status);
  } else {
    printf("> %s\n", question);
    rc = converse(session, conversation, sampler);
  }
  ossrt_sampler_destroy(sampler); /* destroy(NULL) is a no-op */
  ossrt_session_destroy(session);
  ossrt_model_destroy(model);
  ossrt_conversation_destroy(conversation);
  return rc;
}
