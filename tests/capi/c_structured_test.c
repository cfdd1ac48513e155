/* Structured output through the C ABI on the scripted weather model
 * (argv[1]): a strict get_weather whose schema refuses the script's city
 * gets arguments that follow the schema, the answer turn follows the
 * response format, an unsupported schema is INVALID_ARGUMENT naming the
 * byte, and a caller built before the structured-output fields (a shorter
 * struct_size) gets today's unconstrained turn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "ossrt.h"
#include "weather_question.h"
#include "weather_script.h"

static ossrt_conversation* weather_question(void) {
  return weather_question_with_city("{\"enum\":[\"Rome\",\"Oslo\"]}");
}

static void test_constrained_turns(const ossrt_model* model) {
  static const char* const strict[] = {"get_weather"};
  ossrt_session* session = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_conversation* conversation = weather_question();
  ossrt_chat_options options;
  ossrt_chat_result call, answer;
  char json[8192];
  size_t n = 0;
  EXPECT(ossrt_session_create(model, NULL, &session) == OSSRT_STATUS_OK);
  EXPECT(ossrt_sampler_create(NULL, &sampler) == OSSRT_STATUS_OK);
  ossrt_chat_options_init(&options);
  EXPECT(options.response_format == NULL && options.strict_tools == NULL && options.n_strict_tools == 0);
  options.max_tokens = 200;
  options.strict_tools = strict;
  options.n_strict_tools = 1;
  options.response_format =
      "{\"type\":\"object\",\"properties\":{\"sunny\":{\"type\":\"boolean\"}},\"required\":[\"sunny\"]}";
  options.response_format_name = "forecast";

  ossrt_chat_result_init(&call);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &call) == OSSRT_STATUS_OK);
  EXPECT(call.finish_reason == OSSRT_FINISH_TOOL_CALL && call.constrained_tokens > 0);
  EXPECT(call.tool_call_arguments != NULL && (strcmp(call.tool_call_arguments, "{\"city\":\"Rome\"}") == 0 ||
                                              strcmp(call.tool_call_arguments, "{\"city\":\"Oslo\"}") == 0));
  if (call.tool_call_arguments != NULL) printf("strict arguments: %s\n", call.tool_call_arguments);
  EXPECT(ossrt_conversation_add_tool_result(conversation, call.tool_call_recipient, "{}", 2) == OSSRT_STATUS_OK);

  ossrt_chat_result_init(&answer);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &answer) == OSSRT_STATUS_OK);
  EXPECT(answer.finish_reason == OSSRT_FINISH_STOP && answer.constrained_tokens > 0);
  EXPECT(ossrt_conversation_to_json(conversation, json, sizeof json, &n) == OSSRT_STATUS_OK);
  EXPECT(n < sizeof json);
  json[n < sizeof json ? n : sizeof json - 1] = '\0';
  EXPECT(strstr(json, "{\\\"sunny\\\":true}\"") != NULL || strstr(json, "{\\\"sunny\\\":false}\"") != NULL);
  /* The format is rendered for the model, not stored in the conversation. */
  EXPECT(strstr(json, "Response Formats") == NULL);

  options.response_format = "{\"type\":\"object\",\"minProperties\":1}";
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &answer) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "response_format: ") != NULL &&
         strstr(ossrt_last_error_message(), "byte") != NULL);
  options.response_format = NULL;
  options.strict_tools = NULL;
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &answer) == OSSRT_STATUS_INVALID_ARGUMENT);
  options.n_strict_tools = 0;
  ossrt_conversation_destroy(conversation);
  ossrt_sampler_destroy(sampler);
  ossrt_session_destroy(session);
}

/* Options from before the structured-output fields: the script's call, unconstrained. */
static void test_old_options(const ossrt_model* model) {
  ossrt_session* session = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_conversation* conversation = weather_question();
  ossrt_chat_options options;
  ossrt_chat_result call;
  EXPECT(ossrt_session_create(model, NULL, &session) == OSSRT_STATUS_OK);
  EXPECT(ossrt_sampler_create(NULL, &sampler) == OSSRT_STATUS_OK);
  ossrt_chat_options_init(&options);
  options.max_tokens = 64;
  options.response_format = "{\"type\":\"null\"}"; /* beyond struct_size: never read */
  options.struct_size = (uint32_t)offsetof(ossrt_chat_options, response_format);
  ossrt_chat_result_init(&call);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &call) == OSSRT_STATUS_OK);
  EXPECT(call.finish_reason == OSSRT_FINISH_TOOL_CALL && call.constrained_tokens == 0);
  EXPECT(call.tool_call_arguments != NULL && strcmp(call.tool_call_arguments, OSSRT_WEATHER_ARGUMENTS) == 0);
  ossrt_conversation_destroy(conversation);
  ossrt_sampler_destroy(sampler);
  ossrt_session_destroy(session);
}

int main(int argc, char** argv) {
  ossrt_model* model = NULL;
  if (argc != 2) {
    fprintf(stderr, "usage: %s WEATHER_MODEL_DIR\n", argv[0]);
    return 2;
  }
  EXPECT(ossrt_model_load(argv[1], NULL, &model) == OSSRT_STATUS_OK);
  if (model == NULL) return 1;
  test_constrained_turns(model);
  test_old_options(model);
  ossrt_model_destroy(model);
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
