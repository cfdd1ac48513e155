/* Concurrency through the C ABI, meant for ThreadSanitizer: 8 sessions on one
 * model from 8 threads give the tokens each gives alone; cancels racing with
 * turns finishing leave every session usable; two threads calling into one
 * session get statuses, never corruption.
 *
 *   ossrt-c-threads-test TINY_CHAT_DIR
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ossrt.h"

enum { kThreads = 8, kMaxTokens = 12, kMaxHeld = 512 };

static const ossrt_model* model;

typedef struct {
  int index;
  int32_t tokens[kMaxHeld];
  size_t n_tokens;
  int failures;
  int cancelled_turns;
  ossrt_session* session;
} worker;

static void fail(worker* w, const char* what, ossrt_status status) {
  ++w->failures;
  fprintf(stderr, "thread %d: %s: %s: %s\n", w->index, what, ossrt_status_string(status), ossrt_last_error_message());
}

/* Two chat turns with the thread's seed; records the session's tokens. */
static void chat_twice(worker* w, int expect_ok_finish) {
  ossrt_conversation* conversation = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_sampler_options sampling;
  ossrt_chat_options options;
  ossrt_chat_result result;
  ossrt_status status;
  int turn;
  ossrt_sampler_options_init(&sampling);
  sampling.seed = (uint64_t)(w->index % 4);
  if ((status = ossrt_sampler_create(&sampling, &sampler)) != OSSRT_STATUS_OK) fail(w, "sampler", status);
  if ((status = ossrt_conversation_create(&conversation)) != OSSRT_STATUS_OK) fail(w, "conversation", status);
  if ((status = ossrt_conversation_add_system(conversation, NULL)) != OSSRT_STATUS_OK) fail(w, "system", status);
  ossrt_chat_options_init(&options);
  options.max_tokens = kMaxTokens;
  for (turn = 0; turn < 2 && w->failures == 0; ++turn) {
    const char* question = turn == 0 ? "Hello from a thread" : "And once more";
    status = ossrt_conversation_add_message(conversation, OSSRT_ROLE_USER, NULL, NULL, NULL, NULL, question,
                                            strlen(question));
    if (status != OSSRT_STATUS_OK) fail(w, "user message", status);
    memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    status = ossrt_chat_turn(w->session, conversation, sampler, &options, &result);
    if (status != OSSRT_STATUS_OK) fail(w, "chat_turn", status);
    if (result.finish_reason == OSSRT_FINISH_CANCELLED) ++w->cancelled_turns;
    if (expect_ok_finish && result.finish_reason != OSSRT_FINISH_LENGTH && result.finish_reason != OSSRT_FINISH_STOP) {
      fail(w, ossrt_finish_reason_string(result.finish_reason), OSSRT_STATUS_OK);
    }
  }
  status = ossrt_session_get_tokens(w->session, w->tokens, kMaxHeld, &w->n_tokens);
  if (status != OSSRT_STATUS_OK) fail(w, "get_tokens", status);
  ossrt_conversation_destroy(conversation);
  ossrt_sampler_destroy(sampler);
}

static void* run_worker(void* arg) {
  worker* w = (worker*)arg;
  chat_twice(w, 1);
  return NULL;
}

static int stop_cancelling = 0;
static pthread_mutex_t stop_mutex = PTHREAD_MUTEX_INITIALIZER;

static void* cancel_storm(void* arg) {
  worker* workers = (worker*)arg;
  int round = 0, done = 0;
  while (!done) {
    ossrt_session_cancel(workers[round % kThreads].session);
    ++round;
    pthread_mutex_lock(&stop_mutex);
    done = stop_cancelling;
    pthread_mutex_unlock(&stop_mutex);
  }
  return NULL;
}

static void* run_worker_under_cancels(void* arg) {
  worker* w = (worker*)arg;
  const int32_t one = 42;
  ossrt_status status;
  chat_twice(w, 0);
  /* Whatever the cancels cut short, the session still works. */
  status = ossrt_session_append_tokens(w->session, &one, 1);
  if (status != OSSRT_STATUS_OK && status != OSSRT_STATUS_CANCELLED) fail(w, "append after cancels", status);
  return NULL;
}

typedef struct {
  ossrt_session* session;
  int ok, busy, other;
} contender;

static void* contend(void* arg) {
  contender* c = (contender*)arg;
  const int32_t ids[4] = {100, 200, 300, 400};
  int i;
  for (i = 0; i < 20; ++i) {
    const ossrt_status status = ossrt_session_append_tokens(c->session, ids, 4);
    if (status == OSSRT_STATUS_OK) {
      ++c->ok;
    } else if (status == OSSRT_STATUS_INVALID_STATE) {
      ++c->busy;
    } else {
      ++c->other;
    }
  }
  return NULL;
}

int main(int argc, char** argv) {
  static worker workers[kThreads], alone[kThreads];
  pthread_t threads[kThreads], canceller;
  ossrt_model* loaded = NULL;
  int i, failures = 0, passes = 0;
  if (argc != 2) {
    fprintf(stderr, "usage: ossrt-c-threads-test TINY_CHAT_DIR\n");
    return 2;
  }
  if (ossrt_model_load(argv[1], NULL, &loaded) != OSSRT_STATUS_OK) {
    fprintf(stderr, "load: %s\n", ossrt_last_error_message());
    return 1;
  }
  model = loaded;

  /* Each seed alone, one at a time: the reference. */
  for (i = 0; i < kThreads; ++i) {
    alone[i].index = i;
    if (ossrt_session_create(model, NULL, &alone[i].session) != OSSRT_STATUS_OK) return 1;
    chat_twice(&alone[i], 1);
    ossrt_session_destroy(alone[i].session);
    failures += alone[i].failures;
  }
  /* All at once, from 8 threads. */
  for (i = 0; i < kThreads; ++i) {
    workers[i].index = i;
    if (ossrt_session_create(model, NULL, &workers[i].session) != OSSRT_STATUS_OK) return 1;
  }
  for (i = 0; i < kThreads; ++i) pthread_create(&threads[i], NULL, run_worker, &workers[i]);
  for (i = 0; i < kThreads; ++i) pthread_join(threads[i], NULL);
  for (i = 0; i < kThreads; ++i) {
    failures += workers[i].failures;
    if (workers[i].n_tokens == alone[i].n_tokens &&
        memcmp(workers[i].tokens, alone[i].tokens, alone[i].n_tokens * sizeof(int32_t)) == 0) {
      ++passes;
    } else {
      ++failures;
      fprintf(stderr, "thread %d: tokens differ from the single-threaded run\n", i);
    }
  }

  /* Cancels racing with turns starting and finishing. */
  for (i = 0; i < kThreads; ++i) {
    workers[i].failures = 0;
    ossrt_session_reset(workers[i].session);
  }
  pthread_create(&canceller, NULL, cancel_storm, workers);
  for (i = 0; i < kThreads; ++i) pthread_create(&threads[i], NULL, run_worker_under_cancels, &workers[i]);
  for (i = 0; i < kThreads; ++i) pthread_join(threads[i], NULL);
  pthread_mutex_lock(&stop_mutex);
  stop_cancelling = 1;
  pthread_mutex_unlock(&stop_mutex);
  pthread_join(canceller, NULL);
  for (i = 0; i < kThreads; ++i) {
    failures += workers[i].failures;
    passes += workers[i].failures == 0;
  }

  /* Two threads on one session: each call succeeds or is refused as busy. */
  {
    contender a, b;
    pthread_t ta, tb;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.session = b.session = workers[0].session;
    ossrt_session_reset(workers[0].session);
    pthread_create(&ta, NULL, contend, &a);
    pthread_create(&tb, NULL, contend, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    if (a.other + b.other == 0 && a.ok + b.ok >= 1) {
      size_t held = 0;
      ossrt_session_get_num_tokens(workers[0].session, &held);
      if (held == (size_t)(4 * (a.ok + b.ok))) {
        ++passes;
      } else {
        ++failures;
        fprintf(stderr, "shared session holds %zu tokens after %d successful appends\n", held, a.ok + b.ok);
      }
    } else {
      ++failures;
      fprintf(stderr, "shared session: %d ok, %d busy, %d other\n", a.ok + b.ok, a.busy + b.busy, a.other + b.other);
    }
    printf("shared session: %d appends ran, %d were refused as busy\n", a.ok + b.ok, a.busy + b.busy);
  }
  for (i = 0; i < kThreads; ++i) ossrt_session_destroy(workers[i].session);
  ossrt_model_destroy(loaded);
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
