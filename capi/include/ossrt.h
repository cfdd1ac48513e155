/*
 * ossrt.h: the stable C ABI of ossrt.
 *
 * Pure C99; includes only <stddef.h> and <stdint.h>.
 *
 * Conventions (they hold for every function below):
 * - Every fallible call returns an ossrt_status (OSSRT_STATUS_OK = 0) and
 *   writes its results through out-parameters. On failure, out-handles are set
 *   to NULL and other outputs are left unchanged unless stated otherwise.
 * - ossrt_last_error_message() gives the message of the last failed call on
 *   the calling thread (naming the file, tensor, key or argument involved).
 * - Objects are created with *_create / *_load and freed with *_destroy;
 *   destroy(NULL) is a no-op. An object keeps alive what it depends on: a
 *   model may be destroyed while sessions created from it still exist.
 * - Option structs start with struct_size and are initialised by their
 *   *_init function; fields are only ever appended, so a caller built against
 *   an older header keeps working.
 * - No call aborts the process or lets a C++ exception escape.
 *
 * Thread rules:
 *   ossrt_model    immutable after load; every model call is thread-safe.
 *   ossrt_session  one thread at a time; different sessions run concurrently.
 */
#ifndef OSSRT_H
#define OSSRT_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(OSSRT_BUILDING_LIBRARY)
#define OSSRT_API __declspec(dllexport)
#else
#define OSSRT_API __declspec(dllimport)
#endif
#else
#define OSSRT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped only by an incompatible change; additions keep it. */
#define OSSRT_ABI_VERSION 1

typedef int32_t ossrt_status;
enum {
  OSSRT_STATUS_OK = 0,
  OSSRT_STATUS_INVALID_ARGUMENT = 1,   /* a caller-supplied value is out of range or null */
  OSSRT_STATUS_INVALID_STATE = 2,      /* the object cannot do this now */
  OSSRT_STATUS_NOT_FOUND = 3,          /* a file or directory does not exist */
  OSSRT_STATUS_IO_ERROR = 4,           /* open/read/mmap failed */
  OSSRT_STATUS_OUT_OF_MEMORY = 5,      /* an allocation failed */
  OSSRT_STATUS_UNSUPPORTED = 6,        /* not supported by this build or backend */
  OSSRT_STATUS_INVALID_CONFIG = 7,     /* config.json missing, malformed or invalid */
  OSSRT_STATUS_INVALID_CHECKPOINT = 8, /* a safetensors file is truncated or malformed */
  OSSRT_STATUS_UNSUPPORTED_DTYPE = 9,  /* a tensor has an unknown dtype */
  OSSRT_STATUS_TENSOR_MISMATCH = 10,   /* a tensor is missing, unexpected, or mis-shaped */
  OSSRT_STATUS_INVALID_TOKEN = 11,     /* a token id is outside the vocabulary */
  OSSRT_STATUS_CONTEXT_OVERFLOW = 12,  /* the session's context length would be exceeded */
  OSSRT_STATUS_CANCELLED = 13,         /* the caller cancelled the operation */
  OSSRT_STATUS_INTERNAL = 14,          /* a bug in ossrt; the message says where */
  OSSRT_STATUS_BUFFER_TOO_SMALL = 15   /* a caller buffer is too small; the size needed is reported */
};

typedef struct ossrt_model ossrt_model;
typedef struct ossrt_session ossrt_session;

/* ---- library ---------------------------------------------------------- */

/* OSSRT_ABI_VERSION of the linked library. Never fails; any thread. */
OSSRT_API int32_t ossrt_abi_version(void);
/* "MAJOR.MINOR.PATCH"; static storage, never NULL. Any thread. */
OSSRT_API const char* ossrt_version_string(void);
/* Name of a status ("invalid_checkpoint"); static storage, never NULL
 * ("unknown_status" for values this version does not know). Any thread. */
OSSRT_API const char* ossrt_status_string(ossrt_status status);
/* Message of the last failed call on this thread, "" if none. Valid until the
 * next ossrt call on this thread; never NULL. */
OSSRT_API const char* ossrt_last_error_message(void);

/* ---- model ------------------------------------------------------------ */

typedef struct ossrt_model_options {
  uint32_t struct_size; /* sizeof(ossrt_model_options), set by _init */
  const char* backend;  /* backend name; NULL or "cpu" = the best CPU backend */
} ossrt_model_options;

/* Sets defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_model_options_init(ossrt_model_options* options);

/* Loads a checkpoint directory (config.json + *.safetensors, original gpt-oss
 * layout), memory-mapped. options may be NULL (defaults).
 * Success: OSSRT_STATUS_OK, *model_out owns the model.
 * Failure: NOT_FOUND, IO_ERROR, INVALID_CONFIG, INVALID_CHECKPOINT,
 * UNSUPPORTED_DTYPE, TENSOR_MISMATCH, OUT_OF_MEMORY, INVALID_ARGUMENT (NULL
 * path or model_out, unknown backend, struct_size too small); *model_out =
 * NULL. Thread-safe. */
OSSRT_API ossrt_status ossrt_model_load(const char* directory, const ossrt_model_options* options,
                                        ossrt_model** model_out);
/* Releases the caller's handle; sessions keep the model alive. NULL is a no-op. */
OSSRT_API void ossrt_model_destroy(ossrt_model* model);

typedef struct ossrt_model_info {
  uint32_t struct_size; /* set by the caller to sizeof(ossrt_model_info) */
  int32_t num_hidden_layers;
  int32_t num_experts;
  int32_t experts_per_token;
  int32_t vocab_size;
  int32_t hidden_size;
  int32_t intermediate_size;
  int32_t head_dim;
  int32_t num_attention_heads;
  int32_t num_key_value_heads;
  int32_t sliding_window;
  uint64_t max_context_length;
  uint64_t parameter_count;
  uint64_t weight_bytes;
} ossrt_model_info;

/* Fills the first min(info->struct_size, sizeof(ossrt_model_info)) bytes.
 * Failure: INVALID_ARGUMENT (NULL model or info, struct_size smaller than
 * the first field set). Thread-safe. */
OSSRT_API ossrt_status ossrt_model_get_info(const ossrt_model* model, ossrt_model_info* info);

/* ---- session ---------------------------------------------------------- */

typedef struct ossrt_session_options {
  uint32_t struct_size;      /* sizeof(ossrt_session_options), set by _init */
  uint64_t context_length;   /* 0 = the model's maximum */
  uint64_t max_batch_tokens; /* prompt tokens per forward chunk; default 128 */
} ossrt_session_options;

/* Sets defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_session_options_init(ossrt_session_options* options);

/* Creates a session (token history + KV cache) over model. options may be NULL.
 * Failure: INVALID_ARGUMENT (NULL model/session_out, context_length above the
 * model maximum, max_batch_tokens 0), OUT_OF_MEMORY; *session_out = NULL.
 * Thread-safe with respect to the model. */
OSSRT_API ossrt_status ossrt_session_create(const ossrt_model* model, const ossrt_session_options* options,
                                            ossrt_session** session_out);
/* NULL is a no-op. */
OSSRT_API void ossrt_session_destroy(ossrt_session* session);

/* Appends n tokens and runs them through the model; afterwards
 * ossrt_session_get_logits gives the next-token logits.
 * Failure: INVALID_ARGUMENT (NULL session, NULL tokens with n > 0),
 * INVALID_TOKEN or CONTEXT_OVERFLOW (nothing appended), OUT_OF_MEMORY. */
OSSRT_API ossrt_status ossrt_session_append_tokens(ossrt_session* session, const int32_t* tokens, size_t n);

/* Library-owned view of vocab_size logits, valid until the next non-const call
 * on this session. Failure: INVALID_ARGUMENT (NULL argument), INVALID_STATE
 * (nothing appended yet); outputs unchanged. */
OSSRT_API ossrt_status ossrt_session_get_logits(const ossrt_session* session, const float** logits, size_t* vocab_size);

/* Number of tokens the session holds. Failure: INVALID_ARGUMENT. */
OSSRT_API ossrt_status ossrt_session_get_num_tokens(const ossrt_session* session, size_t* n_tokens);

/* Greedy decoding (arg-max, lowest id on ties) of up to max_tokens tokens,
 * stopping after any id in stop[0..n_stop). The generated ids are appended to
 * the session and written to out (capacity cap >= max_tokens); *n_out = how
 * many. Failure: INVALID_ARGUMENT (NULL pointers, cap < max_tokens),
 * INVALID_STATE (nothing appended yet), CONTEXT_OVERFLOW, OUT_OF_MEMORY; on
 * failure *n_out and out still report the tokens generated before it. */
OSSRT_API ossrt_status ossrt_session_generate_greedy(ossrt_session* session, size_t max_tokens, const int32_t* stop,
                                                     size_t n_stop, int32_t* out, size_t cap, size_t* n_out);

/* Drops every token. Failure: INVALID_ARGUMENT (NULL session). */
OSSRT_API ossrt_status ossrt_session_reset(ossrt_session* session);

#ifdef __cplusplus
}
#endif

#endif /* OSSRT_H */
