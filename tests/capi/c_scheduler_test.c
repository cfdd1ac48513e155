/* The scheduler through the C ABI: sessions joining at different steps
 * generate what each generates alone; a cancel ends only its session; a
 * logits processor changes what is sampled or fails its generation; a
 * request reusing the prefix prefills only the rest; a joined session is
 * claimed; bad handles and structs return statuses. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "expect.h"
#include "ossrt.h"

enum { kSessions = 3, kMaxTokens = 6 };

static const int32_t kPrompt[12] = {5, 17, 300, 1200, 9, 77, 640, 1000, 3, 15, 801, 2};
static const size_t kPromptLength[kSessions] = {5, 2, 12};

typedef struct {
  int32_t tokens[16];
  size_t count;
  size_t stop_after; /* 0 = never */
} Stream;

static int32_t collect(int32_t token, void* user_data) {
  Stream* stream = (Stream*)user_data;
  if (stream->count < 16) stream->tokens[stream->count++] = token;
  return stream->stop_after > 0 && stream->count >= stream->stop_after ? 1 : 0;
}

static ossrt_session* new_session(ossrt_model* model) {
  ossrt_session* session = NULL;
  EXPECT(ossrt_session_create(model, NULL, &session) == OSSRT_STATUS_OK);
  return session;
}

/* A logits processor that refuses every id but `only`, and fails from its
 * fail_at-th call on (0 = never). */
typedef struct {
  int32_t only;
  size_t calls;
  size_t fail_at;
} Mask;

static ossrt_status mask_all_but_one(float* logits, size_t n_logits, void* user_data) {
  Mask* mask = (Mask*)user_data;
  size_t i;
  ++mask->calls;
  if (mask->fail_at > 0 && mask->calls >= mask->fail_at) return OSSRT_STATUS_OUT_OF_MEMORY;
  for (i = 0; i < n_logits; ++i)
    if ((int32_t)i != mask->only) logits[i] = -INFINITY;
  return OSSRT_STATUS_OK;
}

static void run_to_end(ossrt_scheduler* scheduler, size_t* decode_tokens, size_t* prompt_tokens) {
  ossrt_step_report report;
  size_t active = 1;
  int step;
  for (step = 0; step < 100 && active > 0; ++step) {
    ossrt_step_report_init(&report);
    EXPECT(ossrt_scheduler_step(scheduler, &report) == OSSRT_STATUS_OK);
    *decode_tokens += report.decode_tokens;
    *prompt_tokens += report.prompt_tokens;
    EXPECT(ossrt_scheduler_active_sessions(scheduler, &active) == OSSRT_STATUS_OK);
  }
  EXPECT(active == 0);
}

/* A processor masking all ids but one makes greedy draw it; one that fails
 * ends its generation as FAILED with its status. A session holding 7 tokens
 * of the 12-token prompt and 3 others keeps the 7 and generates what the
 * prompt alone does (`alone_full`). */
static void check_processor_and_reuse(ossrt_model* model, const int32_t* alone_full) {
  static const int32_t kOther[3] = {900, 901, 902};
  ossrt_scheduler* scheduler = NULL;
  ossrt_session* forced = new_session(model);
  ossrt_session* failing = new_session(model);
  ossrt_session* pooled = new_session(model);
  Mask force = {77, 0, 0}, fail = {77, 0, 3};
  ossrt_generation_request request;
  ossrt_generation_progress progress;
  int32_t got[16];
  size_t i, n = 0, decode_tokens = 0, prompt_tokens = 0;

  EXPECT(ossrt_scheduler_create(model, NULL, &scheduler) == OSSRT_STATUS_OK);
  if (scheduler == NULL) return;
  ossrt_generation_request_init(&request);
  EXPECT(request.logits_processor == NULL && request.reuse_prefix == 0);
  request.prompt = kPrompt;
  request.n_prompt = 5;
  request.max_tokens = 4;
  request.logits_processor = mask_all_but_one;
  request.logits_processor_user_data = &force;
  EXPECT(ossrt_scheduler_join(scheduler, forced, &request) == OSSRT_STATUS_OK);
  request.logits_processor_user_data = &fail;
  EXPECT(ossrt_scheduler_join(scheduler, failing, &request) == OSSRT_STATUS_OK);

  EXPECT(ossrt_session_append_tokens(pooled, kPrompt, 7) == OSSRT_STATUS_OK);
  EXPECT(ossrt_session_append_tokens(pooled, kOther, 3) == OSSRT_STATUS_OK);
  ossrt_generation_request_init(&request);
  request.prompt = kPrompt;
  request.n_prompt = 12;
  request.max_tokens = kMaxTokens;
  request.reuse_prefix = 1;
  EXPECT(ossrt_scheduler_join(scheduler, pooled, &request) == OSSRT_STATUS_OK);
  ossrt_generation_progress_init(&progress);
  EXPECT(ossrt_scheduler_progress(scheduler, pooled, &progress) == OSSRT_STATUS_OK);
  EXPECT(progress.reused_tokens == 7 && progress.prompt_left == 5);
  run_to_end(scheduler, &decode_tokens, &prompt_tokens);
  EXPECT(prompt_tokens == 5 + 5 + 5);

  EXPECT(ossrt_scheduler_get_tokens(scheduler, forced, got, 16, &n) == OSSRT_STATUS_OK && n == 4);
  for (i = 0; i < n; ++i) EXPECT(got[i] == 77);
  EXPECT(force.calls == 4);
  EXPECT(ossrt_scheduler_progress(scheduler, failing, &progress) == OSSRT_STATUS_OK);
  EXPECT(progress.end == OSSRT_GENERATION_FAILED && progress.status == OSSRT_STATUS_OUT_OF_MEMORY);
  EXPECT(progress.n_tokens == 2);
  EXPECT(ossrt_scheduler_get_tokens(scheduler, pooled, got, 16, &n) == OSSRT_STATUS_OK && n == kMaxTokens);
  EXPECT(memcmp(got, alone_full, kMaxTokens * sizeof *got) == 0);
  ossrt_scheduler_destroy(scheduler);
  ossrt_session_destroy(forced);
  ossrt_session_destroy(failing);
  ossrt_session_destroy(pooled);
}

int main(int argc, char** argv) {
  const char* directory = argv[1];
  ossrt_model* model = NULL;
  ossrt_scheduler* scheduler = NULL;
  ossrt_scheduler_options options;
  ossrt_generation_request request;
  ossrt_generation_progress progress;
  ossrt_session* sessions[kSessions];
  Stream streams[kSessions];
  int32_t alone[kSessions][kMaxTokens], got[16];
  size_t i, n = 0, decode_tokens = 0, prompt_tokens = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL_DIRECTORY (tiny-a)\n", argv[0]);
    return 2;
  }
  if (ossrt_model_load(directory, NULL, &model) != OSSRT_STATUS_OK) {
    fprintf(stderr, "cannot load %s: %s\n", directory, ossrt_last_error_message());
    return 1;
  }
  /* Each session alone. */
  for (i = 0; i < kSessions; ++i) {
    ossrt_session* session = new_session(model);
    EXPECT(ossrt_session_append_tokens(session, kPrompt, kPromptLength[i]) == OSSRT_STATUS_OK);
    EXPECT(ossrt_session_generate_greedy(session, kMaxTokens, NULL, 0, alone[i], kMaxTokens, &n) == OSSRT_STATUS_OK);
    ossrt_session_destroy(session);
  }

  ossrt_scheduler_options_init(&options);
  EXPECT(options.max_sessions == 8 && options.max_step_tokens == 64);
  options.max_sessions = kSessions;
  options.max_step_tokens = 8; /* the 12-token prompt takes two steps */
  EXPECT(ossrt_scheduler_create(NULL, &options, &scheduler) == OSSRT_STATUS_INVALID_ARGUMENT && scheduler == NULL);
  options.struct_size = 0;
  EXPECT(ossrt_scheduler_create(model, &options, &scheduler) == OSSRT_STATUS_INVALID_ARGUMENT);
  options.struct_size = sizeof options;
  options.max_step_tokens = 2; /* below max_sessions */
  EXPECT(ossrt_scheduler_create(model, &options, &scheduler) == OSSRT_STATUS_INVALID_ARGUMENT);
  options.max_step_tokens = 8;
  EXPECT(ossrt_scheduler_create(model, &options, &scheduler) == OSSRT_STATUS_OK && scheduler != NULL);
  if (scheduler == NULL) return 1;

  /* Sessions 0 and 1 join now, 2 after two steps. */
  memset(streams, 0, sizeof streams);
  for (i = 0; i < kSessions; ++i) {
    sessions[i] = new_session(model);
    ossrt_generation_request_init(&request);
    EXPECT(request.max_tokens == 256 && request.sampler == NULL);
    request.prompt = kPrompt;
    request.n_prompt = kPromptLength[i];
    request.max_tokens = kMaxTokens;
    request.on_token = collect;
    request.on_token_user_data = &streams[i];
    if (i == 2) {
      ossrt_step_report report;
      ossrt_step_report_init(&report);
      EXPECT(ossrt_scheduler_step(scheduler, &report) == OSSRT_STATUS_OK);
      EXPECT(report.prompt_tokens == 7 && report.decode_tokens == 0);
      EXPECT(ossrt_scheduler_step(scheduler, NULL) == OSSRT_STATUS_OK);
    }
    EXPECT(ossrt_scheduler_join(scheduler, sessions[i], &request) == OSSRT_STATUS_OK);
  }
  /* A joined session is the scheduler's: other calls on it are refused. */
  EXPECT(ossrt_session_append_tokens(sessions[0], kPrompt, 1) == OSSRT_STATUS_INVALID_STATE);
  EXPECT(ossrt_scheduler_join(scheduler, sessions[0], &request) == OSSRT_STATUS_INVALID_STATE);
  EXPECT(strstr(ossrt_last_error_message(), "already joined") != NULL);
  run_to_end(scheduler, &decode_tokens, &prompt_tokens);
  EXPECT(prompt_tokens == 12);
  for (i = 0; i < kSessions; ++i) {
    ossrt_generation_progress_init(&progress);
    EXPECT(ossrt_scheduler_progress(scheduler, sessions[i], &progress) == OSSRT_STATUS_OK);
    EXPECT(progress.end == OSSRT_GENERATION_MAX_TOKENS && progress.status == OSSRT_STATUS_OK);
    EXPECT(progress.n_tokens == kMaxTokens && progress.prompt_left == 0);
    EXPECT(ossrt_scheduler_get_tokens(scheduler, sessions[i], got, 16, &n) == OSSRT_STATUS_OK && n == kMaxTokens);
    EXPECT(memcmp(got, alone[i], sizeof alone[i]) == 0);
    EXPECT(streams[i].count == kMaxTokens && memcmp(streams[i].tokens, alone[i], sizeof alone[i]) == 0);
  }
  EXPECT(ossrt_scheduler_get_tokens(scheduler, sessions[0], got, 2, &n) == OSSRT_STATUS_BUFFER_TOO_SMALL &&
         n == kMaxTokens);
  for (i = 0; i < kSessions; ++i) EXPECT(ossrt_scheduler_leave(scheduler, sessions[i]) == OSSRT_STATUS_OK);
  /* Left: the session is its owner's again. */
  EXPECT(ossrt_session_get_num_tokens(sessions[0], &n) == OSSRT_STATUS_OK && n == kPromptLength[0] + kMaxTokens);
  EXPECT(ossrt_scheduler_leave(scheduler, sessions[0]) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "has not joined") != NULL);

  /* A cancel ends one session; a callback returning non-zero ends another;
   * the third runs to its end unchanged. */
  for (i = 0; i < kSessions; ++i) {
    ossrt_session_reset(sessions[i]);
    memset(&streams[i], 0, sizeof streams[i]);
    ossrt_generation_request_init(&request);
    request.prompt = kPrompt;
    request.n_prompt = kPromptLength[i];
    request.max_tokens = kMaxTokens;
    request.on_token = collect;
    request.on_token_user_data = &streams[i];
    streams[i].stop_after = i == 1 ? 2 : 0;
    EXPECT(ossrt_scheduler_join(scheduler, sessions[i], &request) == OSSRT_STATUS_OK);
  }
  EXPECT(ossrt_scheduler_step(scheduler, NULL) == OSSRT_STATUS_OK);
  EXPECT(ossrt_scheduler_cancel(scheduler, sessions[0]) == OSSRT_STATUS_OK);
  decode_tokens = prompt_tokens = 0;
  run_to_end(scheduler, &decode_tokens, &prompt_tokens);
  ossrt_generation_progress_init(&progress);
  EXPECT(ossrt_scheduler_progress(scheduler, sessions[0], &progress) == OSSRT_STATUS_OK);
  EXPECT(progress.end == OSSRT_GENERATION_CANCELLED && progress.n_tokens < kMaxTokens);
  EXPECT(ossrt_scheduler_progress(scheduler, sessions[1], &progress) == OSSRT_STATUS_OK);
  EXPECT(progress.end == OSSRT_GENERATION_CANCELLED && progress.n_tokens == 2);
  EXPECT(ossrt_scheduler_get_tokens(scheduler, sessions[2], got, 16, &n) == OSSRT_STATUS_OK && n == kMaxTokens);
  EXPECT(memcmp(got, alone[2], sizeof alone[2]) == 0);

  /* Bad arguments. */
  progress.struct_size = 4; /* no room for `end` */
  EXPECT(ossrt_scheduler_progress(scheduler, sessions[0], &progress) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_scheduler_progress(scheduler, sessions[0], NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_scheduler_get_tokens(scheduler, sessions[0], NULL, 0, NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_scheduler_step(NULL, NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_scheduler_active_sessions(scheduler, NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_scheduler_cancel(scheduler, NULL) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(ossrt_scheduler_leave(NULL, sessions[0]) == OSSRT_STATUS_INVALID_ARGUMENT);
  {
    ossrt_session* other = new_session(model);
    ossrt_generation_request_init(&request);
    request.struct_size = 0;
    EXPECT(ossrt_scheduler_join(scheduler, other, &request) == OSSRT_STATUS_INVALID_ARGUMENT);
    ossrt_generation_request_init(&request);
    request.n_prompt = 3; /* NULL prompt */
    EXPECT(ossrt_scheduler_join(scheduler, other, &request) == OSSRT_STATUS_INVALID_ARGUMENT);
    EXPECT(ossrt_scheduler_join(scheduler, other, NULL) == OSSRT_STATUS_INVALID_STATE); /* 3 of 3 joined */
    EXPECT(ossrt_scheduler_leave(scheduler, sessions[2]) == OSSRT_STATUS_OK);
    EXPECT(ossrt_scheduler_join(scheduler, other, NULL) == OSSRT_STATUS_INVALID_ARGUMENT); /* empty prompt, no logits */
    EXPECT(strstr(ossrt_last_error_message(), "empty prompt") != NULL);
    /* Destroyed while joined, on the thread that joined it: freed at the leave. */
    request.prompt = kPrompt;
    EXPECT(ossrt_scheduler_join(scheduler, other, &request) == OSSRT_STATUS_OK);
    ossrt_session_destroy(other);
    EXPECT(ossrt_scheduler_step(scheduler, NULL) == OSSRT_STATUS_OK);
    EXPECT(ossrt_scheduler_leave(scheduler, other) == OSSRT_STATUS_OK);
  }
  check_processor_and_reuse(model, alone[2]);
  /* Destroying the scheduler releases the sessions still joined. */
  ossrt_scheduler_destroy(scheduler);
  ossrt_scheduler_destroy(NULL);
  EXPECT(ossrt_session_append_tokens(sessions[0], kPrompt, 1) == OSSRT_STATUS_OK);
  for (i = 0; i < kSessions; ++i) ossrt_session_destroy(sessions[i]);
  ossrt_model_destroy(model);
  printf("%d checks passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
