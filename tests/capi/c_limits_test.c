/* Hostile option values through the C ABI: struct sizes that are no version
 * of a struct, size options that would overflow the cache's arithmetic, thread
 * counts OpenMP cannot start. Each gets a status; none crashes or silently
 * computes something else.
 *
 *   ossrt-c-limits-test TINY_A_DIR
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "expect.h"

static const int32_t prompt[] = {714, 1108, 958, 985, 112, 7, 300, 12, 9, 41};
enum { kPrompt = sizeof prompt / sizeof prompt[0] };

/* Appends the prompt and copies the logits; returns the vocabulary size (0 on failure). */
static size_t run_prompt(const ossrt_model* model, const ossrt_session_options* options, float* logits, size_t cap) {
  ossrt_session* session = NULL;
  const float* view = NULL;
  size_t vocab = 0;
  if (ossrt_session_create(model, options, &session) != OSSRT_STATUS_OK) return 0;
  if (ossrt_session_append_tokens(session, prompt, kPrompt) == OSSRT_STATUS_OK &&
      ossrt_session_get_logits(session, &view, &vocab) == OSSRT_STATUS_OK && vocab <= cap) {
    memcpy(logits, view, vocab * sizeof(float));
  } else {
    vocab = 0;
  }
  ossrt_session_destroy(session);
  return vocab;
}

/* Issue 25 item 2: huge rewind_tokens / max_batch_tokens neither divide by
 * zero nor give other logits than the defaults. */
static void test_size_options(const ossrt_model* model) {
  static float expected[4096], got[4096];
  ossrt_session_options options;
  ossrt_model_info info;
  size_t vocab, i, j;
  const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 1, UINT64_MAX / 2 + 1, 0};
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  EXPECT(ossrt_model_get_info(model, &info) == OSSRT_STATUS_OK);
  vocab = run_prompt(model, NULL, expected, 4096);
  EXPECT(vocab > 0);
  for (i = 0; i < sizeof huge / sizeof huge[0]; ++i) {
    ossrt_session_options_init(&options);
    /* The last entry: a sum (window + chunk - 1 + rewind) that wraps to exactly 0. */
    options.rewind_tokens = huge[i] != 0 ? huge[i] : (uint64_t)0 - ((uint64_t)info.sliding_window + 512 - 1);
    EXPECT(run_prompt(model, &options, got, 4096) == vocab);
    for (j = 0; j < vocab; ++j)
      if (got[j] != expected[j]) break;
    EXPECT(j == vocab);
    ossrt_session_options_init(&options);
    options.max_batch_tokens = huge[i] != 0 ? huge[i] : 1;
    EXPECT(run_prompt(model, &options, got, 4096) == vocab);
    for (j = 0; j < vocab; ++j)
      if (fabsf(got[j] - expected[j]) > 1e-4f) break;
    EXPECT(j == vocab);
  }
  ossrt_session_options_init(&options);
  options.context_length = UINT64_MAX;
  EXPECT(run_prompt(model, &options, got, 4096) == 0);
  EXPECT(strstr(ossrt_last_error_message(), "context_length") != NULL);
}

/* Item 4: thread counts OpenMP cannot start are refused, a sane one works. */
static void test_threads(const ossrt_model* model) {
  static float logits[4096];
  ossrt_session_options options;
  ossrt_session* session = NULL;
  const uint32_t refused[] = {257, 1024, 100000, UINT32_MAX};
  size_t i;
  for (i = 0; i < sizeof refused / sizeof refused[0]; ++i) {
    ossrt_session_options_init(&options);
    options.threads = refused[i];
    EXPECT(ossrt_session_create(model, &options, &session) == OSSRT_STATUS_INVALID_ARGUMENT && session == NULL);
    EXPECT(strstr(ossrt_last_error_message(), "threads") != NULL);
  }
  ossrt_session_options_init(&options);
  options.threads = 2;
  EXPECT(run_prompt(model, &options, logits, 4096) > 0);
}

/* Item 5 and 10: a struct_size that cuts a field, or cannot even hold
 * struct_size, is refused with a message that says so; sizes ending on a
 * field boundary (an older header's struct) are accepted. */
static void test_struct_sizes(const char* directory) {
  ossrt_model_options model_options;
  ossrt_session_options session_options;
  ossrt_sampler_options sampler_options;
  ossrt_model* model = NULL;
  ossrt_sampler* sampler = NULL;
  uint32_t size;
  for (size = 1; size < 4; ++size) {
    ossrt_model_options_init(&model_options);
    model_options.struct_size = size;
    EXPECT(ossrt_model_load(directory, &model_options, &model) == OSSRT_STATUS_INVALID_ARGUMENT && model == NULL);
    EXPECT(strstr(ossrt_last_error_message(), "too small to hold struct_size") != NULL);
  }
  /* Garbage where the cut pointer would be read from. */
  memset(&model_options, 0xA5, sizeof model_options);
  for (size = 5; size < (uint32_t)offsetof(ossrt_model_options, runtime) + 8; ++size) {
    const int boundary = size == offsetof(ossrt_model_options, backend) + 8 || size <= 8;
    model_options.struct_size = size;
    if (boundary) continue; /* would read the garbage pointer: skip */
    EXPECT(ossrt_model_load(directory, &model_options, &model) == OSSRT_STATUS_INVALID_ARGUMENT && model == NULL);
    EXPECT(strstr(ossrt_last_error_message(), "ends inside field") != NULL);
  }
  model_options.struct_size = 12;
  EXPECT(ossrt_model_load(directory, &model_options, &model) == OSSRT_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(ossrt_last_error_message(), "'backend'") != NULL);
  /* An older caller's struct: just struct_size (then all defaults), or up to backend. */
  ossrt_model_options_init(&model_options);
  model_options.struct_size = 4;
  EXPECT(ossrt_model_load(directory, &model_options, &model) == OSSRT_STATUS_OK);
  ossrt_model_destroy(model);
  model = NULL;
  model_options.struct_size = (uint32_t)(offsetof(ossrt_model_options, backend) + sizeof(const char*));
  EXPECT(ossrt_model_load(directory, &model_options, &model) == OSSRT_STATUS_OK);
  /* A newer caller's bigger struct reads what this library knows. */
  model_options.struct_size = (uint32_t)sizeof model_options + 64;
  {
    ossrt_model* again = NULL;
    EXPECT(ossrt_model_load(directory, &model_options, &again) == OSSRT_STATUS_OK);
    ossrt_model_destroy(again);
  }
  ossrt_session_options_init(&session_options);
  session_options.struct_size = (uint32_t)offsetof(ossrt_session_options, context_length) + 3;
  {
    ossrt_session* session = NULL;
    EXPECT(ossrt_session_create(model, &session_options, &session) == OSSRT_STATUS_INVALID_ARGUMENT);
    EXPECT(strstr(ossrt_last_error_message(), "'context_length'") != NULL);
  }
  ossrt_sampler_options_init(&sampler_options);
  sampler_options.struct_size = (uint32_t)offsetof(ossrt_sampler_options, bias_ids) + 4;
  EXPECT(ossrt_sampler_create(&sampler_options, &sampler) == OSSRT_STATUS_INVALID_ARGUMENT && sampler == NULL);
  sampler_options.struct_size = (uint32_t)offsetof(ossrt_sampler_options, bias_ids);
  EXPECT(ossrt_sampler_create(&sampler_options, &sampler) == OSSRT_STATUS_OK);
  ossrt_sampler_destroy(sampler);
  ossrt_model_destroy(model);
}

/* Item 3 and 8 through the ABI: the in-memory and validating loads of an
 * intact model give the mapped load's logits, up to the order of the expert
 * products' sums where the CPU backend tiles experts in memory (AVX512-VNNI
 * and VBMI; a few 1e-6 on tiny-a). */
static void test_load_modes(const ossrt_model* mapped, const char* directory) {
  static float expected[4096], got[4096];
  ossrt_model_options options;
  ossrt_model* model = NULL;
  size_t vocab = run_prompt(mapped, NULL, expected, 4096), j;
  ossrt_model_options_init(&options);
  EXPECT(options.weights_in_memory == 0 && options.validate_weights == 0);
  options.weights_in_memory = 1;
  options.validate_weights = 1;
  EXPECT(ossrt_model_load(directory, &options, &model) == OSSRT_STATUS_OK);
  if (model == NULL) return;
  EXPECT(run_prompt(model, NULL, got, 4096) == vocab);
  for (j = 0; j < vocab; ++j)
    if (fabsf(got[j] - expected[j]) > 1e-4f) break;
  EXPECT(j == vocab);
  ossrt_model_destroy(model);
}

int main(int argc, char** argv) {
  ossrt_model* model = NULL;
  if (argc != 2) {
    fprintf(stderr, "usage: %s TINY_A_DIR\n", argv[0]);
    return 2;
  }
  EXPECT(ossrt_model_load(argv[1], NULL, &model) == OSSRT_STATUS_OK);
  if (model == NULL) return 1;
  test_size_options(model);
  test_threads(model);
  test_struct_sizes(argv[1]);
  test_load_modes(model, argv[1]);
  ossrt_model_destroy(model);
  printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
