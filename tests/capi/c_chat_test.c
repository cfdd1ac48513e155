/* The C ABI's generation surface on a tiny model with the full vocabulary
 * (argv[1], written by `ossrt make-checkpoint --preset tiny-chat`) and on a
 * second model (argv[2], tiny-a) for foreign state: runtime logging, load
 * progress, multi-turn chat with prefix reuse, determinism, cancel from another
 * thread, save/restore, memory, and handle misuse. Random weights produce
 * meaningless text: the checks are on structure, counts and statuses. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "ossrt.h"

/* ---- callbacks ------------------------------------------------------------ */

typedef struct {
  int messages;
  int saw_loaded;
} log_counts;

static void count_log(ossrt_log_level level, const char* message, size_t len, void* user_data) {
  log_counts* counts = (log_counts*)user_data;
  ++counts->messages;
  if (level == OSSRT_LOG_INFO && len == strlen(message) && strstr(message, "loaded") != NULL) counts->saw_loaded = 1;
}

typedef struct {
  int calls;
  uint64_t last_done, total;
  int cancel_at;
} load_progress;

static int32_t track_load(uint64_t done, uint64_t total, void* user_data) {
  load_progress* p = (load_progress*)user_data;
  ++p->calls;
  p->last_done = done;
  p->total = total;
  return p->cancel_at > 0 && p->calls >= p->cancel_at;
}

typedef struct {
  int events, starts, deltas, ends;
  size_t text_bytes;
} event_counts;

static int32_t count_event(const ossrt_harmony_event* event, void* user_data) {
  event_counts* counts = (event_counts*)user_data;
  ++counts->events;
  if (event->kind == OSSRT_EVENT_MESSAGE_START) ++counts->starts;
  if (event->kind == OSSRT_EVENT_CONTENT_DELTA) {
    ++counts->deltas;
    counts->text_bytes += event->text_len;
  }
  if (event->kind == OSSRT_EVENT_MESSAGE_END) ++counts->ends;
  return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static ossrt_session* new_session(const ossrt_model* model, uint64_t chunk) {
  ossrt_session_options options;
  ossrt_session* session = NULL;
  ossrt_session_options_init(&options);
  options.max_batch_tokens = chunk;
  options.context_length = 2048;
  EXPECT(ossrt_session_create(model, &options, &session) == OSSRT_STATUS_OK);
  return session;
}

static ossrt_conversation* new_conversation(const char* question) {
  ossrt_conversation* conversation = NULL;
  ossrt_system_options system;
  ossrt_system_options_init(&system);
  system.reasoning_effort = OSSRT_EFFORT_LOW;
  EXPECT(ossrt_conversation_create(&conversation) == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_add_system(conversation, &system) == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_add_message(conversation, OSSRT_ROLE_USER, NULL, NULL, NULL, NULL, question,
                                        strlen(question)) == OSSRT_STATUS_OK);
  return conversation;
}

static ossrt_sampler* new_sampler(uint64_t seed) {
  ossrt_sampler_options options;
  ossrt_sampler* sampler = NULL;
  ossrt_sampler_options_init(&options);
  options.temperature = 1.0f;
  options.seed = seed;
  EXPECT(ossrt_sampler_create(&options, &sampler) == OSSRT_STATUS_OK);
  return sampler;
}

static int32_t* session_tokens(const ossrt_session* session, size_t* n) {
  int32_t* tokens;
  ossrt_status status;
  *n = 0;
  /* The size query: OK for an empty session, BUFFER_TOO_SMALL with the count otherwise. */
  status = ossrt_session_get_tokens(session, NULL, 0, n);
  EXPECT(status == (*n == 0 ? OSSRT_STATUS_OK : OSSRT_STATUS_BUFFER_TOO_SMALL));
  tokens = (int32_t*)malloc((*n + 1) * sizeof(int32_t));
  EXPECT(ossrt_session_get_tokens(session, tokens, *n, n) == OSSRT_STATUS_OK);
  return tokens;
}

static size_t common_prefix(const int32_t* a, size_t na, const int32_t* b, size_t nb) {
  size_t i = 0;
  while (i < na && i < nb && a[i] == b[i]) ++i;
  return i;
}

/* ---- tests ---------------------------------------------------------------- */

static ossrt_model* test_runtime_and_load(const char* directory, ossrt_runtime** runtime_out, log_counts* logs) {
  ossrt_model_options options;
  ossrt_model* model = NULL;
  load_progress progress;
  memset(&progress, 0, sizeof progress);
  EXPECT(ossrt_runtime_create(runtime_out) == OSSRT_STATUS_OK);
  EXPECT(ossrt_runtime_set_log_callback(*runtime_out, count_log, logs, 99) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_runtime_set_log_callback(*runtime_out, count_log, logs, OSSRT_LOG_INFO) == OSSRT_STATUS_OK);

  ossrt_model_options_init(&options);
  options.runtime = *runtime_out;
  options.preload = 1;
  options.progress = track_load;
  options.progress_user_data = &progress;
  progress.cancel_at = 3;
  EXPECT(ossrt_model_load(directory, &options, &model) == OSSRT_STATUS_CANCELLED && model == NULL);
  EXPECT(progress.calls == 3);

  memset(&progress, 0, sizeof progress);
  EXPECT(ossrt_model_load(directory, &options, &model) == OSSRT_STATUS_OK);
  EXPECT(progress.calls > 3 && progress.last_done == progress.total && progress.total > 0);
  EXPECT(logs->saw_loaded == 1);
  ossrt_model_destroy(model);

  options.struct_size = 2;
  EXPECT(ossrt_model_load(directory, &options, &model) == OSSRT_STATUS_INVALID_ARGUMENT && model == NULL);
  ossrt_model_options_init(&options);
  EXPECT(ossrt_model_load(directory, &options, &model) == OSSRT_STATUS_OK);
  return model;
}

/* Two chat turns: the second reuses every cached token its prompt shares. */
static void test_multi_turn_chat(const ossrt_model* model, const ossrt_tokenizer* tokenizer) {
  ossrt_session* session = new_session(model, 32);
  ossrt_conversation* conversation = new_conversation("What is the capital of France?");
  ossrt_sampler* sampler = new_sampler(7);
  ossrt_chat_options options;
  ossrt_chat_result first, second;
  event_counts events;
  size_t n_messages = 0, n_cached = 0, n_prompt = 0;
  int32_t* cached;
  int32_t prompt[4096];

  memset(&events, 0, sizeof events);
  ossrt_chat_options_init(&options);
  options.max_tokens = 24;
  options.on_event = count_event;
  options.on_event_user_data = &events;
  ossrt_chat_result_init(&first);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &first) == OSSRT_STATUS_OK);
  EXPECT(first.reused_tokens == 0 && first.prompt_tokens > 20);
  EXPECT(first.generated_tokens > 0 && first.generated_tokens <= 24);
  EXPECT(first.finish_reason >= OSSRT_FINISH_STOP && first.finish_reason <= OSSRT_FINISH_CONTEXT_FULL);
  EXPECT(strcmp(ossrt_finish_reason_string(first.finish_reason), "unknown_finish_reason") != 0);
  EXPECT(strcmp(ossrt_finish_reason_string(77), "unknown_finish_reason") == 0);
  EXPECT(events.events > 0);
  EXPECT(ossrt_conversation_size(conversation, &n_messages) == OSSRT_STATUS_OK);
  EXPECT(n_messages == 2 + first.messages_appended);

  /* The next turn's prompt, rendered independently, against what the session holds. */
  cached = session_tokens(session, &n_cached);
  EXPECT(n_cached == first.prompt_tokens + first.generated_tokens);
  EXPECT(ossrt_conversation_add_message(conversation, OSSRT_ROLE_USER, NULL, NULL, NULL, NULL, "And of Italy?", 13) ==
         OSSRT_STATUS_OK);
  EXPECT(ossrt_harmony_render(tokenizer, conversation, NULL, prompt, 4096, &n_prompt) == OSSRT_STATUS_OK);
  ossrt_chat_result_init(&second);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &second) == OSSRT_STATUS_OK);
  EXPECT(second.prompt_tokens == n_prompt);
  EXPECT(second.reused_tokens == common_prefix(cached, n_cached, prompt, n_prompt));
  EXPECT(second.reused_tokens >= first.prompt_tokens); /* the whole first prompt is history, not re-prefilled */
  printf("chat: turn 1 prompt %llu, generated %llu (%s); turn 2 prompt %llu, reused %llu\n",
         (unsigned long long)first.prompt_tokens, (unsigned long long)first.generated_tokens,
         ossrt_finish_reason_string(first.finish_reason), (unsigned long long)second.prompt_tokens,
         (unsigned long long)second.reused_tokens);

  /* An old-layout result struct gets only the fields it has room for. */
  {
    ossrt_chat_result old_result;
    memset(&old_result, 0xab, sizeof old_result);
    old_result.struct_size = (uint32_t)(sizeof(uint32_t) + sizeof(int32_t));
    EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &old_result) == OSSRT_STATUS_OK);
    EXPECT(old_result.prompt_tokens == 0xababababababababull);
    old_result.struct_size = 2;
    EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &old_result) == OSSRT_STATUS_INVALID_ARGUMENT);
  }
  free(cached);
  ossrt_sampler_destroy(sampler);
  ossrt_conversation_destroy(conversation);
  ossrt_session_destroy(session);
}

/* Whether the text of the session's tokens contains `needle`. */
static int session_says(const ossrt_session* session, const ossrt_tokenizer* tokenizer, const char* needle) {
  static char text[65536];
  size_t n = 0, n_text = 0;
  int32_t* tokens = session_tokens(session, &n);
  EXPECT(ossrt_tokenizer_decode(tokenizer, tokens, n, 1, text, sizeof text - 1, &n_text) == OSSRT_STATUS_OK);
  text[n_text < sizeof text ? n_text : 0] = '\0';
  free(tokens);
  return strstr(text, needle) != NULL;
}

/* The one reasoning-effort knob lives in the conversation; the deprecated
 * per-turn field still works for old callers: it changes that turn's prompt
 * only, and does nothing without a system message. */
static void test_reasoning_effort(const ossrt_model* model, const ossrt_tokenizer* tokenizer) {
  ossrt_session* session = new_session(model, 64);
  ossrt_conversation* conversation = new_conversation("Hi"); /* system: low */
  ossrt_conversation* bare = NULL;
  ossrt_sampler* sampler = new_sampler(2);
  ossrt_chat_options options;
  ossrt_chat_result result;
  size_t n_messages = 0;
  char json[8192];
  ossrt_chat_options_init(&options);
  EXPECT(options.reasoning_effort == -1);
  options.max_tokens = 1;
  ossrt_chat_result_init(&result);

  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &result) == OSSRT_STATUS_OK);
  EXPECT(session_says(session, tokenizer, "Reasoning: low") && !session_says(session, tokenizer, "Reasoning: high"));
  EXPECT(ossrt_conversation_set_reasoning_effort(conversation, OSSRT_EFFORT_MEDIUM) == OSSRT_STATUS_OK);
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &result) == OSSRT_STATUS_OK);
  EXPECT(session_says(session, tokenizer, "Reasoning: medium"));
  EXPECT(ossrt_conversation_set_reasoning_effort(conversation, 3) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_conversation_set_reasoning_effort(NULL, OSSRT_EFFORT_LOW) == OSSRT_STATUS_INVALID_ARGUMENT);

  /* Deprecated: ossrt_chat_options.reasoning_effort, for this turn only. */
  options.reasoning_effort = OSSRT_EFFORT_HIGH;
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &result) == OSSRT_STATUS_OK);
  EXPECT(session_says(session, tokenizer, "Reasoning: high") && !session_says(session, tokenizer, "Reasoning: medium"));
  EXPECT(ossrt_conversation_to_json(conversation, json, sizeof json, &n_messages) == OSSRT_STATUS_OK);
  EXPECT(n_messages < sizeof json && strstr(json, "\"reasoning_effort\":\"Medium\"") != NULL);
  EXPECT(ossrt_conversation_create(&bare) == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_add_user(bare, "Hi", 2) == OSSRT_STATUS_OK);
  EXPECT(ossrt_chat_turn(session, bare, sampler, &options, &result) == OSSRT_STATUS_OK);
  EXPECT(!session_says(session, tokenizer, "Reasoning:"));
  EXPECT(ossrt_conversation_size(bare, &n_messages) == OSSRT_STATUS_OK && n_messages == 1 + result.messages_appended);
  options.reasoning_effort = 5;
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &result) == OSSRT_STATUS_INVALID_ARGUMENT);

  /* set_reasoning_effort gives a conversation without one a default system message. */
  EXPECT(ossrt_conversation_set_reasoning_effort(bare, OSSRT_EFFORT_HIGH) == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_size(bare, &n_messages) == OSSRT_STATUS_OK && n_messages == 2 + result.messages_appended);
  EXPECT(ossrt_conversation_to_json(bare, json, sizeof json, &n_messages) == OSSRT_STATUS_OK);
  EXPECT(n_messages < sizeof json && memcmp(json, "[{\"role\":\"system\"", 17) == 0);
  EXPECT(strstr(json, "\"reasoning_effort\":\"High\"") != NULL);
  ossrt_conversation_destroy(bare);
  ossrt_sampler_destroy(sampler);
  ossrt_conversation_destroy(conversation);
  ossrt_session_destroy(session);
}

/* The same seed and conversation give the same tokens; sample + append by
 * hand gives what generate gives. */
static void test_determinism(const ossrt_model* model) {
  int32_t* tokens[2];
  size_t n[2];
  int i;
  for (i = 0; i < 2; ++i) {
    ossrt_session* session = new_session(model, i == 0 ? 16 : 64);
    ossrt_conversation* conversation = new_conversation("Tell me a story.");
    ossrt_sampler* sampler = new_sampler(42);
    ossrt_chat_options options;
    ossrt_chat_result result;
    EXPECT(ossrt_conversation_set_reasoning_effort(conversation, OSSRT_EFFORT_HIGH) == OSSRT_STATUS_OK);
    ossrt_chat_options_init(&options);
    options.max_tokens = 16;
    ossrt_chat_result_init(&result);
    EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &result) == OSSRT_STATUS_OK);
    tokens[i] = session_tokens(session, &n[i]);
    ossrt_sampler_destroy(sampler);
    ossrt_conversation_destroy(conversation);
    ossrt_session_destroy(session);
  }
  EXPECT(n[0] == n[1] && memcmp(tokens[0], tokens[1], n[0] * sizeof(int32_t)) == 0);

  {
    ossrt_session* a = new_session(model, 8);
    ossrt_session* b = new_session(model, 8);
    ossrt_sampler* sampler = new_sampler(3);
    int32_t generated[6], by_hand[6];
    size_t n_generated = 0, k;
    EXPECT(ossrt_session_sample(a, sampler, &by_hand[0]) == OSSRT_STATUS_INVALID_STATE);
    EXPECT(ossrt_session_append_tokens(a, tokens[0], 10) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_append_tokens(b, tokens[0], 10) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_generate(a, sampler, 6, NULL, 0, generated, 6, &n_generated) == OSSRT_STATUS_OK);
    for (k = 0; k < 6; ++k) {
      EXPECT(ossrt_session_sample(b, sampler, &by_hand[k]) == OSSRT_STATUS_OK);
      EXPECT(ossrt_session_append_tokens(b, &by_hand[k], 1) == OSSRT_STATUS_OK);
    }
    EXPECT(n_generated == 6 && memcmp(generated, by_hand, sizeof generated) == 0);
    ossrt_sampler_destroy(sampler);
    ossrt_session_destroy(a);
    ossrt_session_destroy(b);
  }
  free(tokens[0]);
  free(tokens[1]);
}

typedef struct {
  pthread_mutex_t mutex;
  pthread_cond_t started;
  int chunks;
  int busy_status;
  ossrt_session* session;
} prefill_watch;

/* Reports each chunk to the cancelling thread; also checks that the session
 * refuses a re-entrant call from inside its own callback. */
static int32_t watch_prefill(size_t processed, size_t total, void* user_data) {
  prefill_watch* w = (prefill_watch*)user_data;
  size_t n = 0;
  (void)processed;
  (void)total;
  pthread_mutex_lock(&w->mutex);
  if (w->chunks == 0) w->busy_status = ossrt_session_get_num_tokens(w->session, &n);
  ++w->chunks;
  pthread_cond_signal(&w->started);
  pthread_mutex_unlock(&w->mutex);
  return 0;
}

static void* cancel_when_started(void* user_data) {
  prefill_watch* w = (prefill_watch*)user_data;
  pthread_mutex_lock(&w->mutex);
  while (w->chunks < 2) pthread_cond_wait(&w->started, &w->mutex);
  pthread_mutex_unlock(&w->mutex);
  ossrt_session_cancel(w->session);
  return NULL;
}

/* A long prefill cancelled from another thread stops early, returns
 * CANCELLED, and leaves the session usable at a chunk boundary. */
static void test_cancel_from_another_thread(const ossrt_model* model) {
  enum { kPrompt = 1600, kChunk = 8 };
  static int32_t prompt[kPrompt];
  ossrt_session_options options;
  ossrt_session* session = NULL;
  prefill_watch watch;
  pthread_t canceller;
  size_t held = 0, vocab = 0, i;
  const float* logits = NULL;
  for (i = 0; i < kPrompt; ++i) prompt[i] = (int32_t)(1000 + (i * 7919) % 50000);
  memset(&watch, 0, sizeof watch);
  pthread_mutex_init(&watch.mutex, NULL);
  pthread_cond_init(&watch.started, NULL);
  ossrt_session_options_init(&options);
  options.max_batch_tokens = kChunk;
  options.prefill_progress = watch_prefill;
  options.prefill_progress_user_data = &watch;
  EXPECT(ossrt_session_create(model, &options, &session) == OSSRT_STATUS_OK);
  watch.session = session;
  EXPECT(pthread_create(&canceller, NULL, cancel_when_started, &watch) == 0);
  EXPECT(ossrt_session_append_tokens(session, prompt, kPrompt) == OSSRT_STATUS_CANCELLED);
  pthread_join(canceller, NULL);
  EXPECT(watch.busy_status == OSSRT_STATUS_INVALID_STATE);
  EXPECT(ossrt_session_get_num_tokens(session, &held) == OSSRT_STATUS_OK);
  EXPECT(held >= 2 * kChunk && held < kPrompt && held % kChunk == 0);
  printf("cancel: prefill of %d tokens stopped after %zu\n", kPrompt, held);
  /* Usable: continue from the last committed chunk. */
  EXPECT(ossrt_session_append_tokens(session, prompt + held, 4) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_get_logits(session, &logits, &vocab) == OSSRT_STATUS_OK && vocab == 201088);
  ossrt_session_destroy(session);
  pthread_cond_destroy(&watch.started);
  pthread_mutex_destroy(&watch.mutex);
}

/* State round-trips to identical logits; foreign and broken blobs are refused. */
static void test_state(const ossrt_model* model, const char* foreign_directory) {
  ossrt_session* session = new_session(model, 16);
  ossrt_session* restored = new_session(model, 16);
  ossrt_model* foreign_model = NULL;
  ossrt_session* foreign = NULL;
  ossrt_session_memory memory;
  int32_t prompt[40];
  uint8_t* blob;
  size_t size = 0, n = 0, vocab_a = 0, vocab_b = 0, reused = 0, i;
  const float *logits_a = NULL, *logits_b = NULL;
  const char* path = "ossrt-c-chat-test.state";
  for (i = 0; i < 40; ++i) prompt[i] = (int32_t)(500 + 37 * i);

  EXPECT(ossrt_session_append_tokens(session, prompt, 40) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_state_size(session, &size) == OSSRT_STATUS_OK && size > 40 * 4);
  EXPECT(ossrt_session_save_state(session, NULL, 0, &n) == OSSRT_STATUS_BUFFER_TOO_SMALL && n == size);
  blob = (uint8_t*)malloc(size);
  EXPECT(ossrt_session_save_state(session, blob, size, &n) == OSSRT_STATUS_OK && n == size);
  EXPECT(memcmp(blob, "OSSRTSES", 8) == 0);
  EXPECT(ossrt_session_restore_state(restored, blob, size) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_get_logits(session, &logits_a, &vocab_a) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_get_logits(restored, &logits_b, &vocab_b) == OSSRT_STATUS_OK);
  EXPECT(vocab_a == vocab_b && memcmp(logits_a, logits_b, vocab_a * sizeof(float)) == 0);

  /* Continuing both gives the same logits (the KV cache came across too). */
  EXPECT(ossrt_session_append_tokens(session, prompt, 3) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_append_tokens(restored, prompt, 3) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_get_logits(session, &logits_a, &vocab_a) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_get_logits(restored, &logits_b, &vocab_b) == OSSRT_STATUS_OK);
  EXPECT(memcmp(logits_a, logits_b, vocab_a * sizeof(float)) == 0);

  EXPECT(ossrt_session_save_state_file(session, path) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_reset(restored) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_restore_state_file(restored, path) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_get_num_tokens(restored, &n) == OSSRT_STATUS_OK && n == 43);
  EXPECT(ossrt_session_restore_state_file(restored, "/nonexistent/state") == OSSRT_STATUS_NOT_FOUND);
  remove(path);

  blob[0] = 'X';
  EXPECT(ossrt_session_restore_state(restored, blob, size) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_session_restore_state(restored, blob, 5) == OSSRT_STATUS_INVALID_ARGUMENT);
  blob[0] = 'O';
  EXPECT(ossrt_model_load(foreign_directory, NULL, &foreign_model) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_create(foreign_model, NULL, &foreign) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_restore_state(foreign, blob, size) == OSSRT_STATUS_INVALID_STATE);
  EXPECT(strstr(ossrt_last_error_message(), "different model") != NULL);
  ossrt_session_destroy(foreign);
  ossrt_model_destroy(foreign_model);
  free(blob);

  /* Prefix reuse and truncation. */
  EXPECT(ossrt_session_sync_prefix(session, prompt, 30, &reused) == OSSRT_STATUS_OK && reused == 29);
  EXPECT(ossrt_session_truncate(session, 10) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_truncate(session, 11) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_session_sync_prefix(session, prompt, 12, &reused) == OSSRT_STATUS_OK && reused == 10);

  ossrt_session_memory_init(&memory);
  EXPECT(ossrt_session_get_memory(session, &memory) == OSSRT_STATUS_OK);
  EXPECT(memory.kv_cache_bytes > 0 && memory.scratch_bytes > 0 && memory.logits_bytes == 201088 * 4);
  EXPECT(memory.context_length == 2048);
  memory.struct_size = 4;
  EXPECT(ossrt_session_get_memory(session, &memory) == OSSRT_STATUS_INVALID_ARGUMENT);
  memory.struct_size = (uint32_t)offsetof(ossrt_session_memory, scratch_bytes) + 4;
  EXPECT(ossrt_session_get_memory(session, &memory) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "ends inside field 'scratch_bytes'") != NULL);
  ossrt_session_destroy(restored);
  ossrt_session_destroy(session);
}

/* Released handles, wrong handle types and bad struct sizes give statuses. */
static void test_misuse(const ossrt_model* model) {
  ossrt_session* session = new_session(model, 16);
  ossrt_sampler* sampler = new_sampler(1);
  ossrt_session_options options;
  ossrt_session* other = NULL;
  int32_t token = 0;
  size_t n = 0;
  const int32_t one = 100;

  EXPECT(ossrt_session_append_tokens(session, &one, 1) == OSSRT_STATUS_OK);
  ossrt_sampler_destroy(sampler);
  EXPECT(ossrt_session_sample(session, sampler, &token) == OSSRT_STATUS_INVALID_ARGUMENT);
  ossrt_sampler_destroy(sampler); /* a second destroy is ignored */
  /* A handle of another type is not a session. */
  EXPECT(ossrt_session_get_num_tokens((const ossrt_session*)model, &n) == OSSRT_STATUS_INVALID_ARGUMENT);
  ossrt_session_destroy((ossrt_session*)model); /* ignored: not a session */
  ossrt_session_options_init(&options);
  options.struct_size = 0;
  EXPECT(ossrt_session_create(model, &options, &other) == OSSRT_STATUS_INVALID_ARGUMENT && other == NULL);
  {
    /* A zeroed options struct (a forgotten _init) is refused everywhere. */
    ossrt_sampler_options sampling;
    ossrt_render_options render;
    ossrt_system_options system;
    ossrt_encode_options encode;
    ossrt_chat_options chat;
    ossrt_chat_result result;
    ossrt_conversation* conversation = NULL;
    ossrt_tokenizer* tokenizer = NULL;
    ossrt_sampler* zeroed = NULL;
    int32_t ids[64];
    memset(&sampling, 0, sizeof sampling);
    memset(&render, 0, sizeof render);
    memset(&system, 0, sizeof system);
    memset(&encode, 0, sizeof encode);
    memset(&chat, 0, sizeof chat);
    ossrt_chat_result_init(&result);
    EXPECT(ossrt_sampler_create(&sampling, &zeroed) == OSSRT_STATUS_INVALID_ARGUMENT && zeroed == NULL);
    EXPECT(strstr(ossrt_last_error_message(), "_init") != NULL);
    EXPECT(ossrt_conversation_create(&conversation) == OSSRT_STATUS_OK);
    EXPECT(ossrt_conversation_add_system(conversation, &system) == OSSRT_STATUS_INVALID_ARGUMENT);
    EXPECT(ossrt_tokenizer_create(&tokenizer) == OSSRT_STATUS_OK);
    EXPECT(ossrt_harmony_render(tokenizer, conversation, &render, ids, 64, &n) == OSSRT_STATUS_INVALID_ARGUMENT);
    EXPECT(ossrt_tokenizer_encode(tokenizer, "hi", 2, &encode, ids, 64, &n) == OSSRT_STATUS_INVALID_ARGUMENT);
    sampler = new_sampler(1);
    EXPECT(ossrt_chat_turn(session, conversation, sampler, &chat, &result) == OSSRT_STATUS_INVALID_ARGUMENT);
    ossrt_sampler_destroy(sampler);
    ossrt_tokenizer_destroy(tokenizer);
    ossrt_conversation_destroy(conversation);
  }
  ossrt_session_destroy(session);
  EXPECT(ossrt_session_append_tokens(session, &one, 1) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "released") != NULL);
  ossrt_session_cancel(session); /* a no-op on a released handle */
  ossrt_session_destroy(session);
}

int main(int argc, char** argv) {
  ossrt_runtime* runtime = NULL;
  ossrt_tokenizer* tokenizer = NULL;
  ossrt_model* model;
  log_counts logs;
  if (argc != 3) {
    fprintf(stderr, "usage: ossrt-c-chat-test TINY_CHAT_DIR OTHER_MODEL_DIR\n");
    return 2;
  }
  memset(&logs, 0, sizeof logs);
  model = test_runtime_and_load(argv[1], &runtime, &logs);
  if (model == NULL) return 1;
  EXPECT(ossrt_model_get_tokenizer(model, &tokenizer) == OSSRT_STATUS_OK);
  test_multi_turn_chat(model, tokenizer);
  test_reasoning_effort(model, tokenizer);
  test_determinism(model);
  test_cancel_from_another_thread(model);
  test_state(model, argv[2]);
  test_misuse(model);
  ossrt_tokenizer_destroy(tokenizer);
  ossrt_model_destroy(model);
  /* After removal the callback is never called again. */
  EXPECT(ossrt_runtime_set_log_callback(runtime, NULL, NULL, OSSRT_LOG_DEBUG) == OSSRT_STATUS_OK);
  ossrt_runtime_destroy(runtime);
  ossrt_runtime_destroy(runtime);
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
