/* A harmony chat in pure C over the stable C ABI: one turn per question (given
 * as arguments, or one per line of standard input), streaming the final
 * channel as it is generated. Each turn reuses the session's cached history.
 *
 *   ossrt-example-c-chat MODEL_DIR [--max-tokens N] [QUESTION...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ossrt.h"

/* Tracks the channel of the message being streamed; prints the final channel. */
typedef struct {
  int in_final;
} printer;

static int32_t print_event(const ossrt_harmony_event* event, void* user_data) {
  printer* p = (printer*)user_data;
  if (event->kind == OSSRT_EVENT_MESSAGE_START) {
    p->in_final = event->channel == NULL || strcmp(event->channel, "final") == 0;
  } else if (event->kind == OSSRT_EVENT_CONTENT_DELTA && p->in_final) {
    fwrite(event->text, 1, event->text_len, stdout);
    fflush(stdout);
  } else if (event->kind == OSSRT_EVENT_TOOL_CALL) {
    printf("[tool call to %s: %s]\n", event->recipient, event->text);
  }
  return 0; /* non-zero would end the turn */
}

static int fail(const char* what, ossrt_status status) {
  fprintf(stderr, "%s: %s: %s\n", what, ossrt_status_string(status), ossrt_last_error_message());
  return 1;
}

static int ask(ossrt_session* session, ossrt_conversation* conversation, const ossrt_sampler* sampler,
               uint64_t max_tokens, const char* question) {
  ossrt_chat_options options;
  ossrt_chat_result result;
  printer p = {0};
  ossrt_status status =
      ossrt_conversation_add_message(conversation, OSSRT_ROLE_USER, NULL, NULL, NULL, NULL, question, strlen(question));
  if (status != OSSRT_STATUS_OK) return fail("add_message", status);
  ossrt_chat_options_init(&options);
  options.max_tokens = max_tokens;
  options.on_event = print_event;
  options.on_event_user_data = &p;
  ossrt_chat_result_init(&result);
  printf("> %s\n", question);
  status = ossrt_chat_turn(session, conversation, sampler, &options, &result);
  if (status != OSSRT_STATUS_OK) return fail("chat_turn", status);
  printf("\n[%s; prompt %llu tokens, %llu reused from the cache; generated %llu]\n",
         ossrt_finish_reason_string(result.finish_reason), (unsigned long long)result.prompt_tokens,
         (unsigned long long)result.reused_tokens, (unsigned long long)result.generated_tokens);
  return 0;
}

int main(int argc, char** argv) {
  ossrt_model* model = NULL;
  ossrt_session* session = NULL;
  ossrt_conversation* conversation = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_status status;
  char line[4096];
  int i, first_question = 2, rc = 0;
  uint64_t max_tokens = 1024;
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL_DIR [--max-tokens N] [QUESTION...]\n", argv[0]);
    return 2;
  }
  if (argc >= 4 && strcmp(argv[2], "--max-tokens") == 0) {
    max_tokens = strtoull(argv[3], NULL, 10);
    first_question = 4;
  }
  status = ossrt_model_load(argv[1], NULL, &model);
  if (status != OSSRT_STATUS_OK) return fail("model_load", status);
  status = ossrt_session_create(model, NULL, &session);
  ossrt_model_destroy(model); /* the session keeps it alive */
  if (status != OSSRT_STATUS_OK) return fail("session_create", status);
  if ((status = ossrt_sampler_create(NULL, &sampler)) != OSSRT_STATUS_OK ||
      (status = ossrt_conversation_create(&conversation)) != OSSRT_STATUS_OK ||
      (status = ossrt_conversation_add_system(conversation, NULL)) != OSSRT_STATUS_OK) {
    rc = fail("setup", status);
  }
  for (i = first_question; rc == 0 && i < argc; ++i) rc = ask(session, conversation, sampler, max_tokens, argv[i]);
  while (rc == 0 && first_question == argc && fgets(line, sizeof line, stdin) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] != '\0') rc = ask(session, conversation, sampler, max_tokens, line);
  }
  ossrt_conversation_destroy(conversation);
  ossrt_sampler_destroy(sampler);
  ossrt_session_destroy(session);
  return rc;
}
