/* Cancel latency through the C ABI: ossrt_session_cancel from another thread
 * stops a prefill, a decode loop and a chat turn within about one layer's
 * time, and ossrt_session_destroy of a session whose call is running cancels
 * that call, waits for it, and frees the session only afterwards (under ASan
 * a use-after-free would be reported). The bound asserted is generous (half
 * the uncancelled run, cancelled a quarter in; each step runs 12 layers), so
 * a loaded machine does not make it flaky; about one layer is typical.
 *
 *   ossrt-reliability-cancel MODEL_DIR   (tiny-chat shapes, 12 layers)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../capi/expect.h"

/* Under AddressSanitizer (about 5x slower) a third of the work: the runs are
 * still many layers long, and what ASan is there for (destroy racing a
 * running call) is the same. */
#if defined(__has_feature) /* clang says so here, GCC below */
#if __has_feature(address_sanitizer)
#define UNDER_ADDRESS_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(UNDER_ADDRESS_SANITIZER)
enum { kPrompt = 600, kDecode = 200 };
#else
enum { kPrompt = 1800, kDecode = 600 };
#endif

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_s(double seconds) {
  struct timespec t;
  t.tv_sec = (time_t)seconds;
  t.tv_nsec = (long)((seconds - (double)t.tv_sec) * 1e9);
  nanosleep(&t, NULL);
}

typedef enum { kPrefill, kDecodeLoop, kChat } operation;
static const char* const kNames[] = {"prefill", "decode", "chat"};

static const ossrt_model* model;
static int32_t prompt[kPrompt];

typedef struct {
  ossrt_session* session;
  double delay_s;   /* after the start */
  double cancel_at; /* when ossrt_session_cancel returned */
  int destroy;      /* destroy instead of cancel */
} canceller;

static void* cancel_later(void* arg) {
  canceller* c = (canceller*)arg;
  sleep_s(c->delay_s);
  c->cancel_at = now_s();
  if (c->destroy)
    ossrt_session_destroy(c->session);
  else
    ossrt_session_cancel(c->session);
  return NULL;
}

static ossrt_session* new_session(void) {
  ossrt_session_options options;
  ossrt_session* session = NULL;
  ossrt_session_options_init(&options);
  options.max_batch_tokens = kPrompt; /* one chunk: only the per-layer check can stop it */
  options.context_length = 2048;
  EXPECT(ossrt_session_create(model, &options, &session) == OSSRT_STATUS_OK);
  return session;
}

/* Runs `op` on a fresh session (destroyed here unless the canceller did it);
 * returns its status and the finish reason of a chat turn. */
static ossrt_status run(operation op, ossrt_session* session, int32_t* finish) {
  static int32_t out[kDecode];
  size_t n = 0;
  ossrt_status status = OSSRT_STATUS_OK;
  *finish = -1;
  if (op == kPrefill) return ossrt_session_append_tokens(session, prompt, kPrompt);
  if (op == kDecodeLoop) {
    status = ossrt_session_append_tokens(session, prompt, 8);
    if (status != OSSRT_STATUS_OK) return status;
    return ossrt_session_generate_greedy(session, kDecode, NULL, 0, out, kDecode, &n);
  }
  {
    ossrt_conversation* conversation = NULL;
    ossrt_sampler* sampler = NULL;
    ossrt_sampler_options sampling;
    ossrt_chat_options options;
    ossrt_chat_result result;
    const char* question = "Tell me a long story.";
    ossrt_sampler_options_init(&sampling);
    sampling.temperature = 1.0f;
    ossrt_sampler_create(&sampling, &sampler);
    ossrt_conversation_create(&conversation);
    ossrt_conversation_add_system(conversation, NULL);
    ossrt_conversation_add_message(conversation, OSSRT_ROLE_USER, NULL, NULL, NULL, NULL, question, strlen(question));
    ossrt_chat_options_init(&options);
    options.max_tokens = kDecode;
    memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    status = ossrt_chat_turn(session, conversation, sampler, &options, &result);
    *finish = result.finish_reason;
    ossrt_conversation_destroy(conversation);
    ossrt_sampler_destroy(sampler);
    return status;
  }
}

static int was_cancelled(operation op, ossrt_status status, int32_t finish) {
  return op == kChat ? status == OSSRT_STATUS_OK && finish == OSSRT_FINISH_CANCELLED : status == OSSRT_STATUS_CANCELLED;
}

/* The uncancelled run's time, then a run cancelled (or destroyed) a quarter
 * of the way in: it must stop within half the full time after the cancel. */
static void test_latency(operation op, int destroy) {
  double full, latency = 0;
  int attempt, cancelled = 0;
  int32_t finish;
  ossrt_session* session = new_session();
  double start = now_s();
  EXPECT(run(op, session, &finish) == OSSRT_STATUS_OK);
  full = now_s() - start;
  ossrt_session_destroy(session);
  for (attempt = 0; attempt < 3 && !cancelled; ++attempt) {
    canceller c;
    pthread_t thread;
    ossrt_status status;
    memset(&c, 0, sizeof c);
    c.session = new_session();
    c.delay_s = full / (4 << attempt); /* earlier on a retry: the run may have been faster this time */
    c.destroy = destroy;
    EXPECT(pthread_create(&thread, NULL, cancel_later, &c) == 0);
    status = run(op, c.session, &finish);
    latency = now_s() - (c.cancel_at > 0 ? c.cancel_at : now_s());
    pthread_join(thread, NULL);
    cancelled = was_cancelled(op, status, finish);
    if (!cancelled) EXPECT(status == OSSRT_STATUS_OK); /* it finished before the cancel */
    if (!destroy) ossrt_session_destroy(c.session);
  }
  printf("%s%s: full run %.3f s, stopped %.4f s after the %s\n", kNames[op], destroy ? " (destroy)" : "", full, latency,
         destroy ? "destroy" : "cancel");
  EXPECT(cancelled);
  EXPECT(latency < full / 2);
}

/* The prefill callback destroys the session it is called from: the turn ends
 * (cancelled) and the handle is released when the call returns, not under its feet. */
static ossrt_session* destroy_target;
static int32_t destroy_from_callback(size_t processed, size_t total, void* user_data) {
  (void)processed;
  (void)total;
  (void)user_data;
  if (destroy_target != NULL) ossrt_session_destroy(destroy_target);
  destroy_target = NULL;
  return 0;
}

static void test_destroy_from_callback(void) {
  ossrt_conversation* conversation = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_chat_options options;
  ossrt_chat_result result;
  ossrt_session_options session_options;
  ossrt_session* session = NULL;
  size_t n = 0;
  ossrt_session_options_init(&session_options);
  session_options.max_batch_tokens = 8;
  session_options.prefill_progress = destroy_from_callback;
  EXPECT(ossrt_session_create(model, &session_options, &session) == OSSRT_STATUS_OK);
  ossrt_sampler_create(NULL, &sampler);
  ossrt_conversation_create(&conversation);
  ossrt_conversation_add_system(conversation, NULL);
  ossrt_conversation_add_message(conversation, OSSRT_ROLE_USER, NULL, NULL, NULL, NULL, "Hi", 2);
  ossrt_chat_options_init(&options);
  options.max_tokens = kDecode;
  memset(&result, 0, sizeof result);
  result.struct_size = sizeof result;
  destroy_target = session;
  EXPECT(ossrt_chat_turn(session, conversation, sampler, &options, &result) == OSSRT_STATUS_OK);
  EXPECT(result.finish_reason == OSSRT_FINISH_CANCELLED);
  EXPECT(result.generated_tokens == 0);
  EXPECT(ossrt_session_get_num_tokens(session, &n) == OSSRT_STATUS_INVALID_ARGUMENT); /* released */
  ossrt_conversation_destroy(conversation);
  ossrt_sampler_destroy(sampler);
}

int main(int argc, char** argv) {
  ossrt_model* loaded = NULL;
  int i;
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL_DIR\n", argv[0]);
    return 2;
  }
  for (i = 0; i < kPrompt; ++i) prompt[i] = (int32_t)(1000 + (i * 7919) % 50000);
  EXPECT(ossrt_model_load(argv[1], NULL, &loaded) == OSSRT_STATUS_OK);
  if (loaded == NULL) return 1;
  model = loaded;
  test_latency(kPrefill, 0);
  test_latency(kDecodeLoop, 0);
  test_latency(kChat, 0);
  test_latency(kChat, 1);
  test_latency(kPrefill, 1);
  test_destroy_from_callback();
  ossrt_model_destroy(loaded);
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
