/* A pure-C program over the ossrt C ABI: load a checkpoint, prefill token ids
 * given on the command line, sample a continuation, print ids and text.
 *
 *   ossrt-example-c MODEL_DIR [ID ...]
 */
#include <stdio.h>
#include <stdlib.h>

#include "ossrt.h"

static int fail(const char* what, ossrt_status status) {
  fprintf(stderr, "%s: %s: %s\n", what, ossrt_status_string(status), ossrt_last_error_message());
  return 1;
}

int main(int argc, char** argv) {
  ossrt_model* model = NULL;
  ossrt_session* session = NULL;
  ossrt_tokenizer* tokenizer = NULL;
  ossrt_sampler* sampler = NULL;
  ossrt_sampler_options sampling;
  int32_t prompt[64], out[32];
  size_t n_prompt = 0, n_out = 0, n_text = 0, i;
  char text[1024];
  ossrt_status st;
  int rc = 1;

  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL_DIR [ID ...]\n", argv[0]);
    return 2;
  }
  for (i = 2; i < (size_t)argc && n_prompt < 64; ++i) prompt[n_prompt++] = (int32_t)strtol(argv[i], NULL, 10);
  if (n_prompt == 0) prompt[n_prompt++] = 0;

  if ((st = ossrt_model_load(argv[1], NULL, &model)) != OSSRT_STATUS_OK) return fail("load", st);
  if ((st = ossrt_session_create(model, NULL, &session)) != OSSRT_STATUS_OK) {
    rc = fail("session", st);
    goto done;
  }
  ossrt_sampler_options_init(&sampling);
  sampling.temperature = 0.8f;
  sampling.top_p = 0.95f;
  sampling.seed = 7;
  if ((st = ossrt_sampler_create(&sampling, &sampler)) != OSSRT_STATUS_OK ||
      (st = ossrt_session_append_tokens(session, prompt, n_prompt)) != OSSRT_STATUS_OK ||
      (st = ossrt_session_generate(session, sampler, 16, NULL, 0, out, 32, &n_out)) != OSSRT_STATUS_OK) {
    rc = fail("generate", st);
    goto done;
  }
  for (i = 0; i < n_out; ++i) printf("%s%d", i ? "," : "", out[i]);
  printf("\n");
  if (ossrt_model_get_tokenizer(model, &tokenizer) == OSSRT_STATUS_OK &&
      ossrt_tokenizer_decode(tokenizer, out, n_out, 1, text, sizeof text, &n_text) == OSSRT_STATUS_OK) {
    printf("%.*s\n", (int)n_text, text);
  }
  rc = 0;
done:
  ossrt_sampler_destroy(sampler);
  ossrt_tokenizer_destroy(tokenizer);
  ossrt_session_destroy(session);
  ossrt_model_destroy(model);
  return rc;
}
