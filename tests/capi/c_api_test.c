/* Exercises the C ABI from C99: load, info, sessions, greedy generation on the
 * bundled tiny model, and the failure contract (statuses, NULL out-handles,
 * messages, NULL-safe destroy). Exits non-zero on the first failed check. */
#include <stdio.h>
#include <string.h>

#include "ossrt.h"

static int failures = 0;

/* Cancels once two chunks of a prefill are done. */
static int32_t stop_after_two_chunks(size_t processed, size_t total, void* user_data) {
  int* calls = (int*)user_data;
  (void)total;
  ++*calls;
  return processed >= 4 ? 1 : 0;
}
static int passes = 0;

#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (cond) {                                                                \
      ++passes;                                                                \
    } else {                                                                   \
      ++failures;                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

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

  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  EXPECT(ossrt_model_get_info(model, &info) == OSSRT_STATUS_OK);
  EXPECT(info.vocab_size == 1536 && info.num_hidden_layers == 4 && info.experts_per_token == 4);
  EXPECT(info.max_context_length == 2048);
  EXPECT(info.struct_size == sizeof info);

  ossrt_session_options_init(&session_options);
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

  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
