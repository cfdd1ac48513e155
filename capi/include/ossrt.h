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
 *   an older header keeps working. A struct_size below 4 or ending inside a
 *   field (the size of no version of the struct) is refused with
 *   INVALID_ARGUMENT; a larger one (a newer header) reads the fields known here.
 * - Output structs (filled by the library: ossrt_device_info,
 *   ossrt_model_info, ossrt_session_memory, ossrt_harmony_event,
 *   ossrt_chat_result) follow the same rules: they start with struct_size,
 *   their *_init function zeroes them and sets it, and the library writes
 *   only the first struct_size bytes.
 *   A struct_size too small for the fields every caller reads (named per
 *   function) or ending inside a field is refused with INVALID_ARGUMENT.
 * - No call aborts the process or lets a C++ exception escape.
 *
 * - Calls that fill a caller buffer return OSSRT_STATUS_BUFFER_TOO_SMALL when
 *   it is too small, with the size needed in the count out-parameter and the
 *   buffer's contents unspecified; nothing is truncated silently.
 *
 * Thread rules:
 *   ossrt_model         immutable after load; every model call is thread-safe.
 *   ossrt_tokenizer     immutable; every tokenizer call is thread-safe.
 *   ossrt_session       one thread at a time; different sessions run concurrently.
 *   ossrt_detok_stream  one thread at a time.
 *   ossrt_sampler       immutable; usable by several sessions and threads at once.
 *   ossrt_conversation  one thread at a time (plain data being built).
 *   ossrt_harmony_parser one thread at a time (one per output stream).
 *   ossrt_runtime       every call is thread-safe.
 *   devices             every call is thread-safe (no handle).
 *
 * Handles: every entry point checks that a handle argument is one *_create
 * handed out and *_destroy has not released (INVALID_ARGUMENT otherwise), and
 * a session refuses a second call while one runs (INVALID_STATE), so misuse
 * from two threads or from inside a callback is reported, not undefined.
 * (Best effort: a released handle whose address a new handle of the same type
 * reuses cannot be told apart.)
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
  OSSRT_STATUS_BUFFER_TOO_SMALL = 15,  /* a caller buffer is too small; the size needed is reported */
  OSSRT_STATUS_PERMISSION_DENIED = 16, /* a file or directory exists but may not be read */
  OSSRT_STATUS_DEVICE_ERROR = 17       /* a GPU is absent, unusable, or failed during a call */
};

typedef struct ossrt_model ossrt_model;
typedef struct ossrt_session ossrt_session;
typedef struct ossrt_tokenizer ossrt_tokenizer;
typedef struct ossrt_detok_stream ossrt_detok_stream;
typedef struct ossrt_sampler ossrt_sampler;
typedef struct ossrt_conversation ossrt_conversation;
typedef struct ossrt_harmony_parser ossrt_harmony_parser;
typedef struct ossrt_runtime ossrt_runtime;

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

/* ---- runtime: the log sink, per instance (no global state) -------------- */

typedef int32_t ossrt_log_level;
enum { OSSRT_LOG_DEBUG = 0, OSSRT_LOG_INFO = 1, OSSRT_LOG_WARNING = 2, OSSRT_LOG_ERROR = 3 };

/* One complete message (len bytes, also NUL-terminated, no trailing newline),
 * called on the thread that logs; calls are serialised per runtime. Must not
 * call ossrt_runtime_set_log_callback. */
typedef void (*ossrt_log_callback)(ossrt_log_level level, const char* message, size_t len, void* user_data);

/* A runtime with no log callback. Failure: INVALID_ARGUMENT (NULL out),
 * OUT_OF_MEMORY; *runtime_out = NULL. Any thread. */
OSSRT_API ossrt_status ossrt_runtime_create(ossrt_runtime** runtime_out);
/* Releases the caller's handle; models loaded with it keep it alive. NULL is a no-op. */
OSSRT_API void ossrt_runtime_destroy(ossrt_runtime* runtime);
/* Sets (callback NULL: removes) the log callback; messages below min_level
 * are dropped. On return the previous callback is not running and is never
 * called again, so its user_data may be freed. Failure: INVALID_ARGUMENT
 * (released runtime, bad level). Any thread. */
OSSRT_API ossrt_status ossrt_runtime_set_log_callback(ossrt_runtime* runtime, ossrt_log_callback callback,
                                                      void* user_data, ossrt_log_level min_level);

/* ---- devices: the GPUs a model can be loaded on ------------------------- */

/* One GPU. The CPU is not listed: it is always there. */
typedef struct ossrt_device_info {
  uint32_t struct_size;  /* sizeof(ossrt_device_info), set by _init */
  char backend[32];      /* the ossrt_model_options.backend name that selects it, e.g. "cuda:0"; NUL-terminated */
  char description[128]; /* e.g. "NVIDIA H200, compute capability 9.0"; NUL-terminated */
  uint64_t memory_bytes; /* total device memory */
  uint64_t free_bytes;   /* free when this call listed it (other processes and models use the rest) */
} ossrt_device_info;

/* Zeroes *info and sets struct_size. Does nothing if info is NULL. */
OSSRT_API void ossrt_device_info_init(ossrt_device_info* info);
/* How many GPUs this build and machine offer, in *count_out. A build without
 * CUDA, or a machine without a driver or GPU, has 0: that is a success, never
 * an error. Failure: INVALID_ARGUMENT (NULL count_out). Thread-safe. */
OSSRT_API ossrt_status ossrt_device_count(size_t* count_out);
/* Fills the first min(info->struct_size, sizeof(ossrt_device_info)) bytes
 * with GPU `index`, 0 to count - 1 (each call lists the devices again, so
 * free_bytes is current). Failure: INVALID_ARGUMENT (index not below
 * ossrt_device_count's count, so any index where it is 0; NULL info;
 * struct_size not covering backend or ending inside a field); *info
 * unchanged. Thread-safe. */
OSSRT_API ossrt_status ossrt_device_get_info(size_t index, ossrt_device_info* info);

/* ---- model ------------------------------------------------------------ */

/* Load progress: called on the loading thread after each weight tensor with
 * (bytes done, bytes in total, user_data); return non-zero to cancel. */
typedef int32_t (*ossrt_load_progress_callback)(uint64_t done, uint64_t total, void* user_data);

typedef struct ossrt_model_options {
  uint32_t struct_size; /* sizeof(ossrt_model_options), set by _init */
  /* Where the arithmetic runs. NULL or "cpu": the best CPU level ("cpu-avx512", else "cpu-avx2", else
   * "cpu-reference"; OSSRT_CPU_ISA may lower it); one of those names: that level (a level this CPU lacks is
   * INVALID_ARGUMENT). "cuda" (GPU 0) or "cuda:N" (GPU N, ossrt_device_get_info's backend names): an NVIDIA
   * GPU; where no GPU can serve it (a build without CUDA, no driver, no such device) the load fails with
   * OSSRT_STATUS_DEVICE_ERROR, never falling back to the CPU. */
  const char* backend;
  ossrt_runtime* runtime; /* where the model and its sessions log; NULL = nowhere */
  int32_t preload;        /* non-zero: read every weight page during load (first tokens not slowed by page faults);
                             the embedding table stays on demand (one row per token) */
  ossrt_load_progress_callback progress; /* NULL = none */
  void* progress_user_data;
  /* Non-zero: read every checkpoint file into private memory during load
   * (weight bytes of RAM, a full read) instead of mapping it. Default 0: the
   * files are memory-mapped and must stay as they are while the model lives;
   * each append checks them (size, modification time) and fails with
   * INVALID_STATE once one was truncated or written (the model stays
   * unusable), but a truncation during a running call raises SIGBUS, as with
   * any memory-mapped file. Use 1 when files may change under the process,
   * or for steady speed where RAM allows: that memory asks for 2 MiB pages
   * (gpt-oss-20b, 2-core Zen 4: 10.1-10.8 tok/s; mapped, 7.8-8.0 while the
   * page cache holds the files from being written, 10.0-10.2 once read).
   * On CPUs with AVX512-VNNI and VBMI the experts are then also reordered
   * into the CPU backend's tiles (ossrt_model_info.tiled_expert_matrices),
   * whose products add up in another order than mapped weights': logits
   * within float rounding of a mapped load's. */
  int32_t weights_in_memory;
  /* Non-zero: scan every weight during load (a full read); a NaN or infinity,
   * or an MXFP4 scale of 255, fails the load with INVALID_CHECKPOINT naming
   * the tensor. Either way, non-finite logits fail the append that computed
   * them with INVALID_CHECKPOINT. */
  int32_t validate_weights;
  /* Expert offload: the MXFP4 experts of the first N layers stay in host
   * memory and run on the CPU while the rest runs on `backend` (how a model
   * larger than a GPU's memory runs on it). 0 (default): none; the layer
   * count or more: all. ossrt_model_info reports what was kept on the host. */
  uint64_t cpu_expert_layers;
  /* Non-zero: the load fails up front with OUT_OF_MEMORY (before any weight
   * is placed or validated) when the weights need more bytes of the backend's memory than
   * this (a GPU's device memory, or host memory for a CPU backend; see
   * ossrt_model_estimate's backend_weight_bytes and weight_bytes). */
  uint64_t memory_budget_bytes;
} ossrt_model_options;

/* Sets defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_model_options_init(ossrt_model_options* options);

/* Loads a checkpoint directory, memory-mapped, as it is: the original gpt-oss
 * layout (config.json + *.safetensors) or the Hugging Face layout (the Hub
 * repository's root: transformers' config.json + the shards that
 * model.safetensors.index.json names, or one model.safetensors). A root that
 * holds both (original/ with config.json and *.safetensors) loads original/.
 * A llama.cpp GGUF file of gpt-oss loads by its path, or by a directory that
 * holds only it (no config.json): Q8_0 / BF16 dense matrices in place, MXFP4
 * experts repacked once into private memory (about the file's size).
 * options may be NULL (defaults).
 * Success: OSSRT_STATUS_OK, *model_out owns the model.
 * Failure: NOT_FOUND (also a shard the index names), PERMISSION_DENIED,
 * IO_ERROR, INVALID_CONFIG (a Hugging Face config value ossrt does not
 * compute is named by its key), INVALID_CHECKPOINT (also: bytes of a data
 * section no tensor covers; an index and shards that disagree; with
 * validate_weights, a damaged tensor; a GGUF vocabulary other than
 * o200k_harmony), UNSUPPORTED_DTYPE (also a GGUF tensor in a type such as
 * Q4_K, named with it), UNSUPPORTED (dequantized BF16 expert weights; another
 * GGUF architecture; Q8_0 weights on a backend without Q8_0 kernels), TENSOR_MISMATCH, OUT_OF_MEMORY, CANCELLED
 * (the progress callback returned non-zero), DEVICE_ERROR (a "cuda" or
 * "cuda:..." backend that no GPU of this build and machine can serve, also
 * a malformed device number; the message names the backend),
 * INVALID_ARGUMENT (NULL path or model_out, unknown backend, a CPU level
 * this CPU lacks, OSSRT_CPU_ISA naming no level, released runtime, bad
 * struct_size, config.json or a *.safetensors that is a directory, FIFO or
 * device: refused without blocking); *model_out = NULL.
 * Messages name tensors as the layout does. Thread-safe. */
OSSRT_API ossrt_status ossrt_model_load(const char* directory, const ossrt_model_options* options,
                                        ossrt_model** model_out);
/* Releases the caller's handle; sessions keep the model alive. NULL is a no-op. */
OSSRT_API void ossrt_model_destroy(ossrt_model* model);

typedef struct ossrt_model_info {
  uint32_t struct_size; /* sizeof(ossrt_model_info), set by _init */
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
  uint64_t cpu_expert_layers; /* layers whose experts run on the CPU (options, capped at the layer count) */
  uint64_t host_expert_bytes; /* their weight bytes, kept in host memory */
  /* The checkpoint's layout: "original", "Hugging Face" or "GGUF"; the dense
   * matrices' format: "bf16", "Q8_0" or "Q8_0 + bf16". Static strings. */
  const char* layout;
  const char* dense_format;
  uint64_t converted_bytes; /* weights converted at load into private memory (GGUF: experts repacked) */
  /* Expert matrices (two a layer) the backend reordered in place at load
   * into its own faster layout: the AVX-512 CPU backend's tiles, where the
   * CPU has AVX512-VNNI and VBMI and the weights are the model's own memory
   * (weights_in_memory, or a GGUF's converted experts). Their products add
   * up in another order: logits within float rounding of another load's. */
  uint64_t tiled_expert_matrices;
} ossrt_model_info;

/* Zeroes *info and sets struct_size. Does nothing if info is NULL. */
OSSRT_API void ossrt_model_info_init(ossrt_model_info* info);
/* Fills the first min(info->struct_size, sizeof(ossrt_model_info)) bytes.
 * Failure: INVALID_ARGUMENT (NULL model or info, struct_size not covering
 * num_hidden_layers or ending inside a field); *info unchanged. Thread-safe. */
OSSRT_API ossrt_status ossrt_model_get_info(const ossrt_model* model, ossrt_model_info* info);

/* ---- tokenizer (o200k_harmony, compiled in, no files or network) ------- */

/* Special tokens by meaning. */
typedef int32_t ossrt_special_token;
enum {
  OSSRT_SPECIAL_STARTOFTEXT = 0,
  OSSRT_SPECIAL_ENDOFTEXT = 1,
  OSSRT_SPECIAL_RETURN = 2,
  OSSRT_SPECIAL_CONSTRAIN = 3,
  OSSRT_SPECIAL_CHANNEL = 4,
  OSSRT_SPECIAL_START = 5,
  OSSRT_SPECIAL_END = 6,
  OSSRT_SPECIAL_MESSAGE = 7,
  OSSRT_SPECIAL_CALL = 8
};

/* Which special-token texts encode to special ids. */
enum {
  OSSRT_SPECIALS_NONE = 0,   /* special-token text is ordinary text */
  OSSRT_SPECIALS_ALL = 1,    /* every special text (both names of 200018) */
  OSSRT_SPECIALS_ALLOWED = 2 /* only the ids in allowed_ids */
};

typedef struct ossrt_encode_options {
  uint32_t struct_size;       /* sizeof(ossrt_encode_options), set by _init */
  int32_t specials;           /* OSSRT_SPECIALS_*; default NONE */
  const int32_t* allowed_ids; /* for OSSRT_SPECIALS_ALLOWED */
  size_t n_allowed;
  int32_t raw_bytes; /* non-zero: input is raw bytes, decoded as WHATWG
                        UTF-8 (leading BOM dropped); 0: UTF-8 text.
                        Either way invalid sequences become U+FFFD. */
} ossrt_encode_options;

/* Sets defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_encode_options_init(ossrt_encode_options* options);

/* The built-in o200k_harmony tokenizer (a handle to one shared instance).
 * Failure: INVALID_ARGUMENT (NULL out), OUT_OF_MEMORY; *tokenizer_out = NULL. */
OSSRT_API ossrt_status ossrt_tokenizer_create(ossrt_tokenizer** tokenizer_out);
/* The tokenizer of a model (the same o200k_harmony instance). Failure as above. */
OSSRT_API ossrt_status ossrt_model_get_tokenizer(const ossrt_model* model, ossrt_tokenizer** tokenizer_out);
/* NULL is a no-op. */
OSSRT_API void ossrt_tokenizer_destroy(ossrt_tokenizer* tokenizer);

/* Encodes text[0..len) into out[0..cap). options may be NULL (defaults).
 * Success: *n_out = number of ids written. BUFFER_TOO_SMALL: *n_out = ids
 * needed. Failure: INVALID_ARGUMENT (NULL tokenizer/n_out, NULL text with
 * len > 0, NULL out with cap > 0, bad specials value), OUT_OF_MEMORY. */
OSSRT_API ossrt_status ossrt_tokenizer_encode(const ossrt_tokenizer* tokenizer, const char* text, size_t len,
                                              const ossrt_encode_options* options, int32_t* out, size_t cap,
                                              size_t* n_out);

/* Decodes ids into out[0..cap) bytes (not NUL-terminated); special ids give
 * their text. lossy = 0: an id outside the vocabulary fails with INVALID_TOKEN.
 * lossy != 0: output is valid UTF-8, invalid bytes and unknown ids become
 * U+FFFD. Success: *n_out = bytes written. BUFFER_TOO_SMALL: *n_out = bytes
 * needed. Failure: INVALID_ARGUMENT, INVALID_TOKEN, OUT_OF_MEMORY. */
OSSRT_API ossrt_status ossrt_tokenizer_decode(const ossrt_tokenizer* tokenizer, const int32_t* ids, size_t n,
                                              int32_t lossy, char* out, size_t cap, size_t* n_out);

/* Library-owned view of one token's bytes, valid while the library is loaded.
 * Failure: INVALID_ARGUMENT (NULL pointers), INVALID_TOKEN; outputs unchanged. */
OSSRT_API ossrt_status ossrt_tokenizer_token_bytes(const ossrt_tokenizer* tokenizer, int32_t id, const char** bytes,
                                                   size_t* len);

/* Id of a special token by meaning. Failure: INVALID_ARGUMENT (NULL pointers,
 * unknown ossrt_special_token value). */
OSSRT_API ossrt_status ossrt_tokenizer_special_id(const ossrt_tokenizer* tokenizer, ossrt_special_token token,
                                                  int32_t* id);
/* Id of a special token by its text ("<|channel|>"). Failure:
 * INVALID_ARGUMENT (NULL pointers, not a special token's text). */
OSSRT_API ossrt_status ossrt_tokenizer_find_special(const ossrt_tokenizer* tokenizer, const char* text, size_t len,
                                                    int32_t* id);
/* 201,088 ids (199,998 ordinary + 1,090 special). Failure: INVALID_ARGUMENT. */
OSSRT_API ossrt_status ossrt_tokenizer_vocab_size(const ossrt_tokenizer* tokenizer, size_t* vocab_size);

/* Streaming decoder: each push gives only complete UTF-8, holding partial
 * characters across tokens. Failure: INVALID_ARGUMENT, OUT_OF_MEMORY. */
OSSRT_API ossrt_status ossrt_detok_stream_create(const ossrt_tokenizer* tokenizer, ossrt_detok_stream** stream_out);
/* NULL is a no-op. */
OSSRT_API void ossrt_detok_stream_destroy(ossrt_detok_stream* stream);
/* Pushes one id; writes the completed text to out[0..cap). BUFFER_TOO_SMALL:
 * *n_out = bytes needed and the stream is unchanged (push the id again with a
 * larger buffer). Failure: INVALID_ARGUMENT, INVALID_TOKEN (stream unchanged). */
OSSRT_API ossrt_status ossrt_detok_stream_push(ossrt_detok_stream* stream, int32_t id, char* out, size_t cap,
                                               size_t* n_out);
/* Flushes held bytes (as U+FFFD) and resets the stream. BUFFER_TOO_SMALL as
 * for push (at most 3 bytes are ever held, so cap >= 3 always suffices). */
OSSRT_API ossrt_status ossrt_detok_stream_finish(ossrt_detok_stream* stream, char* out, size_t cap, size_t* n_out);

/* ---- session ---------------------------------------------------------- */

/* Called on the session's thread after each prefill chunk with (tokens
 * processed, tokens in the call, user_data); return non-zero to cancel the
 * rest. Must not call back into the session. */
typedef int32_t (*ossrt_progress_callback)(size_t processed, size_t total, void* user_data);

/* How a session trades accuracy for speed and memory (ossrt::Numerics). */
typedef enum ossrt_numerics {
  OSSRT_NUMERICS_EXACT = 0, /* fp32 activations and KV cache; logits within 1e-3 of the fp32 reference */
  OSSRT_NUMERICS_FAST = 1   /* bf16 KV cache (half the KV memory), the experts' inputs as 15-bit
                               integers per 32 elements (faster experts) and, where the CPU multiplies
                               bf16 natively (AMX, AVX512-BF16), bf16 inputs to prefill's projections
                               and experts; logits move up to ~6e-2 on the test model */
} ossrt_numerics;

typedef struct ossrt_session_options {
  uint32_t struct_size;                     /* sizeof(ossrt_session_options), set by _init */
  uint64_t context_length;                  /* 0 = the model's maximum */
  uint64_t max_batch_tokens;                /* prompt tokens per forward chunk; default 512 */
  ossrt_progress_callback prefill_progress; /* NULL = none */
  void* prefill_progress_user_data;
  uint64_t rewind_tokens; /* extra positions the sliding-window layers keep so that truncate / sync_prefix can
                             drop up to max_batch_tokens + rewind_tokens recent tokens without recomputing;
                             default 4096 (4 KiB per position per sliding layer on gpt-oss) */
  uint32_t threads;       /* threads of this session's forward passes; 0 = OpenMP's default (one per core);
                             at most 256 */
  int32_t numerics;       /* an ossrt_numerics value; default OSSRT_NUMERICS_EXACT */
} ossrt_session_options;

/* Sets defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_session_options_init(ossrt_session_options* options);

/* What loading `directory` with model_options and one session with
 * session_options (at its whole context_length; 0 = the model's maximum)
 * would take, from the checkpoint's headers alone: nothing is loaded and no
 * backend is started (a GPU's figures need no GPU). Bytes: */
typedef struct ossrt_memory_estimate {
  uint32_t struct_size;          /* sizeof(ossrt_memory_estimate), set by _init */
  uint64_t weight_bytes;         /* every weight tensor */
  uint64_t backend_weight_bytes; /* copied to a GPU backend's memory (0 on the CPU: the files are mapped) */
  uint64_t host_weight_bytes;    /* read from host memory (all on the CPU; offloaded experts on a GPU) */
  uint64_t kv_bytes_per_token;   /* one position of every dense layer, at the session's numerics */
  uint64_t kv_ring_bytes;        /* the sliding-window layers' rings (fixed) */
  uint64_t kv_bytes;             /* the whole cache at context_length */
  uint64_t scratch_bytes;        /* activations for one chunk and one row of logits */
  uint64_t session_bytes;        /* kv_bytes + scratch_bytes, on the backend */
  uint64_t backend_bytes;        /* backend_weight_bytes + session_bytes */
  uint64_t total_bytes;          /* weight_bytes + session_bytes */
} ossrt_memory_estimate;

/* Zeroes *estimate and sets struct_size. NULL does nothing. */
OSSRT_API void ossrt_memory_estimate_init(ossrt_memory_estimate* estimate);
/* Success: OK and *estimate filled (as far as its struct_size reaches).
 * Failure: INVALID_ARGUMENT (NULL directory or estimate, a struct_size that
 * is 0 or ends inside a field, session options ossrt_session_create would
 * refuse such as a context_length above the model's maximum), and
 * ossrt_model_load's for the files and config (NOT_FOUND, INVALID_CONFIG,
 * ...); *estimate is then unchanged. Thread-safe. */
OSSRT_API ossrt_status ossrt_model_estimate(const char* directory, const ossrt_model_options* model_options,
                                            const ossrt_session_options* session_options,
                                            ossrt_memory_estimate* estimate);

/* Creates a session (token history + KV cache) over model. options may be NULL.
 * Failure: INVALID_ARGUMENT (NULL model/session_out, context_length above the
 * model maximum, max_batch_tokens 0, threads above 256, numerics not an
 * ossrt_numerics value), OUT_OF_MEMORY; *session_out = NULL.
 * max_batch_tokens and rewind_tokens above the context length count as the
 * context length (so no size option can overflow the cache's arithmetic).
 * Thread-safe with respect to the model. */
OSSRT_API ossrt_status ossrt_session_create(const ossrt_model* model, const ossrt_session_options* options,
                                            ossrt_session** session_out);
/* Releases the session. NULL or an already released handle is a no-op.
 * Safe while a call on the session runs on another thread (the "cancel, then
 * destroy" pattern, or destroy alone): the handle is released at once (new
 * calls get INVALID_ARGUMENT), the running call is cancelled, and destroy
 * waits for it to return before freeing anything (about one layer's time).
 * From inside a callback of the session's own running call, destroy cancels
 * that call and returns at once; the session is freed when the call returns.
 * Thread-safe. */
OSSRT_API void ossrt_session_destroy(ossrt_session* session);

/* Appends n tokens and runs them through the model; afterwards
 * ossrt_session_get_logits gives the next-token logits.
 * Failure: INVALID_ARGUMENT (NULL session, NULL tokens with n > 0),
 * INVALID_TOKEN or CONTEXT_OVERFLOW (nothing appended), CANCELLED (the session
 * keeps the chunks that completed; if any did, there are no logits until the
 * next append), OUT_OF_MEMORY, INVALID_CHECKPOINT (the logits came out NaN or
 * infinite: damaged weights; no logits), INVALID_STATE (a mapped checkpoint
 * file was truncated or written since load; see weights_in_memory). */
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

/* ---- sampler ------------------------------------------------------------ */

/* The chain, in order: logit bias -> repetition / presence / frequency
 * penalties over the last penalty_last_n tokens -> temperature (a divisor;
 * 0 = arg-max, lowest id on ties) -> top-k -> top-p -> min-p -> a draw keyed
 * by (seed, position), so the same seed and inputs give the same tokens on
 * every run and thread count. */
typedef struct ossrt_sampler_options {
  uint32_t struct_size;     /* sizeof(ossrt_sampler_options), set by _init */
  float temperature;        /* >= 0; default 1 */
  uint64_t top_k;           /* 0 = off (default) */
  float top_p;              /* (0, 1]; 1 = off (default) */
  float min_p;              /* [0, 1]; 0 = off (default) */
  float repetition_penalty; /* > 0; 1 = off (default) */
  float presence_penalty;   /* default 0 */
  float frequency_penalty;  /* default 0 */
  uint64_t penalty_last_n;  /* default 64; 0 = the whole session */
  const int32_t* bias_ids;  /* n_bias ids whose logits get bias_values added */
  const float* bias_values;
  size_t n_bias;
  uint64_t seed; /* default 0 */
} ossrt_sampler_options;

/* Sets defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_sampler_options_init(ossrt_sampler_options* options);
/* options may be NULL (defaults); the bias arrays are copied. Failure:
 * INVALID_ARGUMENT (an option out of range, named in the message),
 * OUT_OF_MEMORY; *sampler_out = NULL. Thread-safe. */
OSSRT_API ossrt_status ossrt_sampler_create(const ossrt_sampler_options* options, ossrt_sampler** sampler_out);
/* NULL is a no-op. */
OSSRT_API void ossrt_sampler_destroy(ossrt_sampler* sampler);

/* As ossrt_session_generate_greedy, drawing each token with sampler (its draw
 * keyed by the token's position in the session). Failure: as greedy, plus
 * INVALID_ARGUMENT for a NULL sampler or a bias id outside the vocabulary. */
OSSRT_API ossrt_status ossrt_session_generate(ossrt_session* session, const ossrt_sampler* sampler, size_t max_tokens,
                                              const int32_t* stop, size_t n_stop, int32_t* out, size_t cap,
                                              size_t* n_out);

/* A new, independent session with a copy of session's tokens, logits and KV
 * cache (same options). Failure: INVALID_ARGUMENT (NULL argument),
 * OUT_OF_MEMORY; *session_out = NULL. */
OSSRT_API ossrt_status ossrt_session_fork(const ossrt_session* session, ossrt_session** session_out);

/* Asks the call in progress on session (append, generate, sync_prefix,
 * truncate, chat_turn: prefill, decode or between tokens) to stop at its next
 * layer boundary; that call returns CANCELLED (a chat turn: OK with finish
 * reason CANCELLED) and the session stays valid at its last committed chunk
 * or token. Callable from any thread (and from a signal handler), at any
 * time, even racing with ossrt_session_destroy; a call that starts afterwards
 * is not affected. NULL or a released handle is a no-op. */
OSSRT_API void ossrt_session_cancel(ossrt_session* session);

/* Drops every token. Failure: INVALID_ARGUMENT (NULL session). */
OSSRT_API ossrt_status ossrt_session_reset(ossrt_session* session);

/* ---- Batched decode: several sessions of one model, one forward pass per token ---- */

typedef struct ossrt_batch_decoder ossrt_batch_decoder;

/* A decoder advancing up to max_sessions sessions of `model` together: each
 * step reads every weight once for all of them, where separate appends read
 * it once each (decode is bound by those reads).
 * Success: OK, *decoder_out owns it (ossrt_batch_decoder_destroy).
 * Failure: INVALID_ARGUMENT (NULL/released model, NULL decoder_out,
 * max_sessions 0 or over 4096), OUT_OF_MEMORY; *decoder_out = NULL.
 * Thread-safe. */
OSSRT_API ossrt_status ossrt_batch_decoder_create(const ossrt_model* model, size_t max_sessions,
                                                  ossrt_batch_decoder** decoder_out);
/* Releases the decoder. Must not race a step on it. NULL is a no-op. */
OSSRT_API void ossrt_batch_decoder_destroy(ossrt_batch_decoder* decoder);

/* Appends tokens[i] to sessions[i] for i < count in one forward pass. On
 * success each session is as if ossrt_session_append_tokens(sessions[i],
 * &tokens[i], 1) had run alone (logits within 1e-5 in exact numerics, the
 * same greedy tokens). The sessions must be distinct, of the decoder's model,
 * of one numerics mode, each with room for one more token.
 * Failure (no session changed): INVALID_ARGUMENT (NULL arrays with count > 0,
 * count 0 or above max_sessions, a NULL/released/foreign session, mixed
 * numerics), INVALID_STATE (a session busy in another call, or given twice;
 * the decoder running a step on another thread),
 * INVALID_TOKEN, CONTEXT_OVERFLOW, CANCELLED (ossrt_batch_decoder_cancel),
 * OUT_OF_MEMORY. INVALID_CHECKPOINT when a row's logits are not finite (every
 * token appended; that session has no logits).
 * Thread rules: one step at a time per decoder; the sessions are claimed for
 * the step (another call on one of them meanwhile gets INVALID_STATE).
 * ossrt_session_cancel does not stop a step: cancel the decoder. */
OSSRT_API ossrt_status ossrt_batch_decoder_step(ossrt_batch_decoder* decoder, ossrt_session* const* sessions,
                                                const int32_t* tokens, size_t count);

/* Stops the decoder's running step at the next layer boundary, or its next
 * step if none runs; that step returns CANCELLED and changes no session.
 * Any thread. NULL or a released handle is a no-op. */
OSSRT_API void ossrt_batch_decoder_cancel(ossrt_batch_decoder* decoder);

/* ---- Scheduler: generations of several sessions, one forward pass per step ---- */

/* Sessions join with a prompt still to prefill and leave between steps; each
 * ossrt_scheduler_step is one forward pass in which every generating session
 * appends its sampled token and joining sessions append a chunk of their
 * prompt (a long prompt is prefilled over several steps while the others keep
 * decoding). Each session ends as ossrt_session_generate would leave it: the
 * same sampled tokens (greedy ones identical, logits within 1e-5 in exact
 * numerics), every sampled token appended.
 * Thread rules: one step at a time (a concurrent step gets INVALID_STATE);
 * join, leave, cancel, progress and get_tokens from any thread, also during
 * a step, taking effect between steps. A joined session is claimed by the
 * scheduler until it leaves: other calls on it get INVALID_STATE, and
 * ossrt_session_destroy waits for the leave (called on the thread that
 * joined it, it frees the session at the leave instead). */
typedef struct ossrt_scheduler ossrt_scheduler;

typedef struct ossrt_scheduler_options {
  uint32_t struct_size;     /* sizeof(ossrt_scheduler_options), set by _init */
  uint64_t max_sessions;    /* sessions joined at once (ended ones count until they leave); default 8, 1 to 4096 */
  uint64_t max_step_tokens; /* tokens per step: a decode each first, then prompt chunks (each at most the
                               session's max_batch_tokens) in join order; default 64, max_sessions to 65536 */
} ossrt_scheduler_options;

/* Sets defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_scheduler_options_init(ossrt_scheduler_options* options);

/* Called on the stepping thread with each sampled token (before the next
 * step appends it); return non-zero to end the generation (CANCELLED; the
 * token is not appended). May call ossrt_scheduler_join, _leave (also of its
 * own session), _cancel, _progress and _get_tokens; not _step. */
typedef int32_t (*ossrt_token_callback)(int32_t token, void* user_data);

/* Called on the stepping thread before each token of the generation is
 * sampled, with a copy of the session's logits (n_logits = the vocabulary
 * size) that it may change in place: the token is drawn from what it leaves
 * (-INFINITY refuses an id; a grammar's mask, say). A status other than
 * OSSRT_STATUS_OK ends the generation as FAILED with that status (an unknown
 * value as INTERNAL); nothing is sampled. May call ossrt_scheduler_join,
 * _cancel, _progress and _get_tokens; not _step or _leave. */
typedef ossrt_status (*ossrt_logits_callback)(float* logits, size_t n_logits, void* user_data);

typedef struct ossrt_generation_request {
  uint32_t struct_size;         /* sizeof(ossrt_generation_request), set by _init */
  const int32_t* prompt;        /* appended before the first token is sampled; copied by join */
  size_t n_prompt;              /* 0: the session's logits already predict the first token */
  const ossrt_sampler* sampler; /* copied by join; NULL = greedy (arg-max) */
  uint64_t max_tokens;          /* sampled tokens at most, the stop token included; default 256, at least 1 */
  const int32_t* stop_tokens;   /* ids that end the generation (included and appended); copied by join */
  size_t n_stop_tokens;
  ossrt_token_callback on_token; /* NULL = none */
  void* on_token_user_data;
  ossrt_logits_callback logits_processor; /* NULL = none */
  void* logits_processor_user_data;
  /* Non-zero: `prompt` is all the session should hold (a conversation's full
   * prompt, for a pool of sessions): join keeps the longest prefix the session
   * shares with it that ossrt_session_sync_prefix would keep (dropping held
   * tokens without recomputing anything) and only the rest is prefilled, in
   * steps; progress.reused_tokens says how many were kept. 0 (default): the
   * prompt follows what the session holds. */
  int32_t reuse_prefix;
} ossrt_generation_request;

/* Sets defaults. Does nothing if request is NULL. */
OSSRT_API void ossrt_generation_request_init(ossrt_generation_request* request);

/* Why a generation ended (ossrt::GenerationEnd). */
typedef enum ossrt_generation_end {
  OSSRT_GENERATION_RUNNING = 0,      /* not ended: prefilling or generating */
  OSSRT_GENERATION_STOP_TOKEN = 1,   /* sampled one of its stop tokens */
  OSSRT_GENERATION_MAX_TOKENS = 2,   /* sampled max_tokens tokens */
  OSSRT_GENERATION_CONTEXT_FULL = 3, /* the session holds its whole context */
  OSSRT_GENERATION_CANCELLED = 4,    /* ossrt_scheduler_cancel, or on_token returned non-zero */
  OSSRT_GENERATION_FAILED = 5        /* a sampler, logits_processor or forward-pass failure: status says which */
} ossrt_generation_end;

typedef struct ossrt_generation_progress {
  uint32_t struct_size;   /* sizeof(ossrt_generation_progress), set by _init */
  int32_t end;            /* an ossrt_generation_end value */
  ossrt_status status;    /* FAILED: the failure's status; otherwise OK */
  uint64_t prompt_left;   /* prompt tokens not yet appended */
  uint64_t n_tokens;      /* tokens sampled so far (ossrt_scheduler_get_tokens) */
  uint64_t reused_tokens; /* held tokens kept by the request's reuse_prefix */
} ossrt_generation_progress;

/* Zeroes *progress and sets struct_size. Does nothing if progress is NULL. */
OSSRT_API void ossrt_generation_progress_init(ossrt_generation_progress* progress);

typedef struct ossrt_step_report {
  uint32_t struct_size;    /* sizeof(ossrt_step_report), set by _init */
  uint64_t decode_tokens;  /* sessions that appended their sampled token */
  uint64_t prompt_tokens;  /* prompt tokens appended */
  uint64_t sessions_ended; /* generations that ended in this step */
} ossrt_step_report;

/* Zeroes *report and sets struct_size. Does nothing if report is NULL. */
OSSRT_API void ossrt_step_report_init(ossrt_step_report* report);

/* A scheduler over `model` (options NULL = defaults).
 * Success: OK, *scheduler_out owns it (ossrt_scheduler_destroy).
 * Failure: INVALID_ARGUMENT (NULL/released model, NULL scheduler_out, bad
 * struct_size, max_sessions or max_step_tokens out of range), OUT_OF_MEMORY;
 * *scheduler_out = NULL. Thread-safe. */
OSSRT_API ossrt_status ossrt_scheduler_create(const ossrt_model* model, const ossrt_scheduler_options* options,
                                              ossrt_scheduler** scheduler_out);
/* Releases the scheduler and every session it holds (they keep what was
 * appended). Must not race another call on it. NULL is a no-op. */
OSSRT_API void ossrt_scheduler_destroy(ossrt_scheduler* scheduler);

/* Adds `session` with `request` (NULL = defaults: an empty prompt); it takes
 * part from the next step. Failure (nothing joined): INVALID_ARGUMENT
 * (NULL/released scheduler, session or sampler, bad struct_size, NULL arrays
 * with counts, a session of another model or of other numerics than those
 * joined, max_tokens 0, an empty prompt on a session without logits),
 * INVALID_STATE (the session already joined, busy in another call, or
 * max_sessions joined), INVALID_TOKEN, CONTEXT_OVERFLOW (the prompt does not
 * fit), OUT_OF_MEMORY. */
OSSRT_API ossrt_status ossrt_scheduler_join(ossrt_scheduler* scheduler, ossrt_session* session,
                                            const ossrt_generation_request* request);

/* Removes `session` and releases it to its owner (a step holding it is
 * awaited, unless called from that step's on_token); a running generation
 * ends as cancelled; the session keeps what was appended.
 * Failure: INVALID_ARGUMENT (NULL/released scheduler, session not joined). */
OSSRT_API ossrt_status ossrt_scheduler_leave(ossrt_scheduler* scheduler, ossrt_session* session);

/* Ends `session`'s generation as cancelled before the next step; the other
 * sessions run on. It stays joined until it leaves. Ending one already ended
 * changes nothing. Failure: INVALID_ARGUMENT (NULL/released scheduler,
 * session not joined). */
OSSRT_API ossrt_status ossrt_scheduler_cancel(ossrt_scheduler* scheduler, ossrt_session* session);

/* One forward pass over every running session (see above); then each samples
 * its next token and ends on a stop token, max_tokens, a full context or a
 * cancel. A row's failure ends the sessions it concerns as FAILED (a pass
 * failing as a whole, e.g. DEVICE_ERROR, ends every session in it); the others
 * continue. report may be NULL. Failure: INVALID_ARGUMENT (NULL/released
 * scheduler, bad report struct_size), INVALID_STATE (another step is
 * running), OUT_OF_MEMORY. */
OSSRT_API ossrt_status ossrt_scheduler_step(ossrt_scheduler* scheduler, ossrt_step_report* report);

/* Sessions still generating (joined, not ended): step while it is above 0.
 * Failure: INVALID_ARGUMENT (NULL/released scheduler, NULL n_out). */
OSSRT_API ossrt_status ossrt_scheduler_active_sessions(const ossrt_scheduler* scheduler, size_t* n_out);

/* The session's generation so far: fills the first min(progress->struct_size,
 * sizeof) bytes. Failure: INVALID_ARGUMENT (NULL/released scheduler, session
 * not joined, NULL progress or a struct_size without `end`). */
OSSRT_API ossrt_status ossrt_scheduler_progress(const ossrt_scheduler* scheduler, const ossrt_session* session,
                                                ossrt_generation_progress* progress);

/* The tokens the session's generation sampled so far, in order. Failure:
 * INVALID_ARGUMENT (as ossrt_scheduler_progress, NULL out with cap > 0 or
 * NULL n_out), BUFFER_TOO_SMALL (*n_out = tokens sampled). */
OSSRT_API ossrt_status ossrt_scheduler_get_tokens(const ossrt_scheduler* scheduler, const ossrt_session* session,
                                                  int32_t* out, size_t cap, size_t* n_out);

/* The tokens the session holds, in order. Failure: INVALID_ARGUMENT,
 * BUFFER_TOO_SMALL (*n_out = tokens held). */
OSSRT_API ossrt_status ossrt_session_get_tokens(const ossrt_session* session, int32_t* out, size_t cap, size_t* n_out);

/* Draws the next token from the current logits with sampler (keyed by the
 * token's position; penalties over the session's tokens) without appending it:
 * the building block of a custom decode loop (sample, inspect, append).
 * Failure: INVALID_ARGUMENT (NULL/released argument, a bias id outside the
 * vocabulary), INVALID_STATE (no logits: append tokens first). */
OSSRT_API ossrt_status ossrt_session_sample(const ossrt_session* session, const ossrt_sampler* sampler, int32_t* token);

/* Makes the session hold exactly tokens[0..n): keeps the longest common
 * prefix with what it holds, drops the rest and prefills only the suffix (at
 * least the last token, so the logits predict the token after them).
 * *n_reused = tokens kept without recomputation. A multi-turn chat calls it
 * with each turn's full prompt and never prefills its history again.
 * Failure: INVALID_ARGUMENT, INVALID_TOKEN / CONTEXT_OVERFLOW (nothing
 * changes), CANCELLED (the session holds the kept prefix plus the completed
 * chunks), OUT_OF_MEMORY. */
OSSRT_API ossrt_status ossrt_session_sync_prefix(ossrt_session* session, const int32_t* tokens, size_t n,
                                                 size_t* n_reused);

/* Keeps the first n_keep tokens. Dropping at most max_batch_tokens +
 * rewind_tokens tokens costs nothing; dropping more re-prefills the kept
 * sliding-window span. No logits until the next append unless re-prefilled.
 * Failure: INVALID_ARGUMENT (n_keep > tokens held), CANCELLED / OUT_OF_MEMORY
 * during a re-prefill (the session holds what completed). */
OSSRT_API ossrt_status ossrt_session_truncate(ossrt_session* session, size_t n_keep);

/* Session state (tokens, logits, KV cache) as a blob carrying the magic
 * "OSSRTSES", a format version and the model's fingerprint.
 * state_size: the bytes save_state needs now. save_state: BUFFER_TOO_SMALL
 * with *n_out = bytes needed when cap is too small (cap 0 asks the size).
 * restore_state: replaces the session's state; INVALID_ARGUMENT (not a state
 * blob, another format version, truncated or inconsistent data), INVALID_STATE
 * (saved from a different model), CONTEXT_OVERFLOW (more tokens than this
 * session's context length); on failure the session is unchanged. The _file
 * variants add IO_ERROR naming the path. */
OSSRT_API ossrt_status ossrt_session_state_size(const ossrt_session* session, size_t* size);
OSSRT_API ossrt_status ossrt_session_save_state(const ossrt_session* session, uint8_t* out, size_t cap, size_t* n_out);
OSSRT_API ossrt_status ossrt_session_restore_state(ossrt_session* session, const uint8_t* state, size_t len);
OSSRT_API ossrt_status ossrt_session_save_state_file(const ossrt_session* session, const char* path);
OSSRT_API ossrt_status ossrt_session_restore_state_file(ossrt_session* session, const char* path);

typedef struct ossrt_session_memory {
  uint32_t struct_size;    /* sizeof(ossrt_session_memory), set by _init */
  uint64_t kv_cache_bytes; /* allocated for keys and values (dense layers grow with use) */
  uint64_t scratch_bytes;  /* activations and staging for one prefill chunk */
  uint64_t logits_bytes;   /* the logits kept for ossrt_session_get_logits */
  uint64_t context_length; /* the session's resolved context length */
} ossrt_session_memory;

/* Zeroes *memory and sets struct_size. Does nothing if memory is NULL. */
OSSRT_API void ossrt_session_memory_init(ossrt_session_memory* memory);
/* Fills the first min(memory->struct_size, sizeof) bytes. Failure:
 * INVALID_ARGUMENT (NULL/released session, NULL memory, struct_size not
 * covering kv_cache_bytes or ending inside a field); *memory unchanged. */
OSSRT_API ossrt_status ossrt_session_get_memory(const ossrt_session* session, ossrt_session_memory* memory);

/* ---- harmony chat format ------------------------------------------------
 * Conversations render to exactly the ids openai/harmony v0.0.8 renders; the
 * parser turns model output back into messages, channel by channel. */

typedef int32_t ossrt_role;
enum {
  OSSRT_ROLE_NONE = -1, /* parser: the output starts with <|start|> */
  OSSRT_ROLE_SYSTEM = 0,
  OSSRT_ROLE_DEVELOPER = 1,
  OSSRT_ROLE_USER = 2,
  OSSRT_ROLE_ASSISTANT = 3,
  OSSRT_ROLE_TOOL = 4
};

typedef int32_t ossrt_reasoning_effort;
enum { OSSRT_EFFORT_LOW = 0, OSSRT_EFFORT_MEDIUM = 1, OSSRT_EFFORT_HIGH = 2 };

/* An empty conversation. Failure: INVALID_ARGUMENT (NULL out), OUT_OF_MEMORY;
 * *conversation_out = NULL. Any thread. */
OSSRT_API ossrt_status ossrt_conversation_create(ossrt_conversation** conversation_out);
/* A conversation from harmony's JSON shape: an array of messages or
 * {"messages": [...]} (see README, "Harmony"). Failure: INVALID_ARGUMENT with
 * the JSON error or the path of the bad field ("messages[2].content[0]: ...");
 * *conversation_out = NULL. Any thread. */
OSSRT_API ossrt_status ossrt_conversation_from_json(const char* json, size_t len,
                                                    ossrt_conversation** conversation_out);
/* NULL is a no-op. */
OSSRT_API void ossrt_conversation_destroy(ossrt_conversation* conversation);
/* Number of messages. Failure: INVALID_ARGUMENT (NULL argument). */
OSSRT_API ossrt_status ossrt_conversation_size(const ossrt_conversation* conversation, size_t* n_messages);
/* The conversation as harmony JSON (UTF-8, not NUL-terminated; *n_out bytes).
 * Failure: INVALID_ARGUMENT, BUFFER_TOO_SMALL (*n_out = size needed). */
OSSRT_API ossrt_status ossrt_conversation_to_json(const ossrt_conversation* conversation, char* out, size_t cap,
                                                  size_t* n_out);

typedef struct ossrt_system_options {
  uint32_t struct_size;                    /* sizeof(ossrt_system_options), set by _init */
  const char* model_identity;              /* default "You are ChatGPT, a large language model trained by OpenAI." */
  ossrt_reasoning_effort reasoning_effort; /* default MEDIUM */
  const char* knowledge_cutoff;            /* default "2024-06" */
  const char* conversation_start_date;     /* default NULL (absent), e.g. "2025-06-28" */
  int32_t browser_tool;                    /* non-zero: add harmony's built-in browser namespace */
  int32_t python_tool;                     /* non-zero: add harmony's built-in python namespace */
} ossrt_system_options;

/* harmony's SystemContent::new() defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_system_options_init(ossrt_system_options* options);
/* Appends a system message (options NULL = defaults; a NULL string field =
 * absent). Failure: INVALID_ARGUMENT (NULL conversation, bad effort),
 * OUT_OF_MEMORY; the conversation is unchanged. */
OSSRT_API ossrt_status ossrt_conversation_add_system(ossrt_conversation* conversation,
                                                     const ossrt_system_options* options);
/* Appends a developer message. instructions may be NULL. function_tools_json
 * may be NULL or a JSON array of {"name", "description", "parameters"} (a JSON
 * schema, rendered as TypeScript in key order) for the "functions" namespace.
 * Failure: INVALID_ARGUMENT (bad JSON, naming where); unchanged. */
OSSRT_API ossrt_status ossrt_conversation_add_developer(ossrt_conversation* conversation, const char* instructions,
                                                        const char* function_tools_json);
/* Appends a text message. name, channel, recipient, content_type may be NULL
 * (absent). (A tool result is easier with ossrt_conversation_add_tool_result.)
 * Failure: INVALID_ARGUMENT (NULL conversation, unknown role, NULL text with
 * len > 0); unchanged. */
OSSRT_API ossrt_status ossrt_conversation_add_message(ossrt_conversation* conversation, ossrt_role role,
                                                      const char* name, const char* channel, const char* recipient,
                                                      const char* content_type, const char* text, size_t len);
/* Appends a user message with text[0..len) (UTF-8). Failure: INVALID_ARGUMENT
 * (NULL/released conversation, NULL text with len > 0), OUT_OF_MEMORY;
 * unchanged. */
OSSRT_API ossrt_status ossrt_conversation_add_user(ossrt_conversation* conversation, const char* text, size_t len);
/* Appends the answer text[0..len) of the tool tool_name (NUL-terminated, the
 * call's recipient: "functions.get_weather", see ossrt_chat_result) as
 * harmony expects it: authored by the tool, addressed to the assistant, on the
 * channel of the last assistant message addressed to tool_name ("commentary"
 * when the conversation holds no such call). Failure: INVALID_ARGUMENT
 * (NULL/released conversation, NULL or empty tool_name, NULL text with
 * len > 0), OUT_OF_MEMORY; unchanged. */
OSSRT_API ossrt_status ossrt_conversation_add_tool_result(ossrt_conversation* conversation, const char* tool_name,
                                                          const char* text, size_t len);
/* Sets the reasoning effort where harmony renders it: in the first system
 * message's system content; a conversation without one first gets a default
 * system message (ossrt_system_options_init's values) at the front. The one
 * reasoning-effort knob: chat turns render what the conversation says.
 * Failure: INVALID_ARGUMENT (NULL/released conversation, effort not an
 * OSSRT_EFFORT_* value), OUT_OF_MEMORY; unchanged. */
OSSRT_API ossrt_status ossrt_conversation_set_reasoning_effort(ossrt_conversation* conversation,
                                                               ossrt_reasoning_effort effort);

typedef int32_t ossrt_render_kind;
enum {
  OSSRT_RENDER_CONVERSATION = 0, /* the messages */
  OSSRT_RENDER_COMPLETION = 1,   /* the messages, then <|start|> + next_role: a prompt */
  OSSRT_RENDER_TRAINING = 2      /* a last assistant final message ends with <|return|> */
};

typedef struct ossrt_render_options {
  uint32_t struct_size;       /* sizeof(ossrt_render_options), set by _init */
  ossrt_render_kind kind;     /* default COMPLETION */
  ossrt_role next_role;       /* default ASSISTANT */
  int32_t auto_drop_analysis; /* default 1: harmony's rule for dropping earlier analysis */
} ossrt_render_options;

/* Sets defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_render_options_init(ossrt_render_options* options);
/* Renders into a caller buffer of ids. options NULL = defaults.
 * Failure: INVALID_ARGUMENT (NULL argument; what harmony refuses: a tool
 * message without a name, system content outside a system message, ...),
 * BUFFER_TOO_SMALL (*n_out = ids needed). Thread-safe for distinct
 * conversations. */
OSSRT_API ossrt_status ossrt_harmony_render(const ossrt_tokenizer* tokenizer, const ossrt_conversation* conversation,
                                            const ossrt_render_options* options, int32_t* out, size_t cap,
                                            size_t* n_out);
/* Message-ending ids {<|return|>, <|call|>, <|end|>} or, with
 * for_assistant_actions non-zero, the sampling stop set {<|return|>, <|call|>}
 * (<|end|> separates the model's own messages and must not stop sampling).
 * Ascending. Failure: INVALID_ARGUMENT, BUFFER_TOO_SMALL. Any thread. */
OSSRT_API ossrt_status ossrt_harmony_stop_tokens(int32_t for_assistant_actions, int32_t* out, size_t cap,
                                                 size_t* n_out);

typedef int32_t ossrt_parse_mode;
enum {
  OSSRT_PARSE_LENIENT = 0,        /* never fails on model output; recovers and reports anomalies */
  OSSRT_PARSE_STRICT = 1,         /* harmony's default: malformed output is an error */
  OSSRT_PARSE_HARMONY_LENIENT = 2 /* harmony's strict=false */
};

typedef int32_t ossrt_event_kind;
enum {
  OSSRT_EVENT_MESSAGE_START = 0, /* header complete: role, name, channel, recipient, content_type */
  OSSRT_EVENT_CONTENT_DELTA = 1, /* text: newly completed UTF-8 of the message its header fields name */
  OSSRT_EVENT_MESSAGE_END = 2,   /* the message is complete */
  OSSRT_EVENT_TOOL_CALL = 3,     /* after MESSAGE_END of an assistant message with a recipient; text = arguments */
  OSSRT_EVENT_ANOMALY = 4        /* lenient recovery: anomaly names the shape, text what was skipped */
};

typedef struct ossrt_harmony_event {
  uint32_t struct_size; /* sizeof(ossrt_harmony_event), set by _init */
  ossrt_event_kind kind;
  size_t position;      /* index of the token that caused it among all pushed */
  size_t message_index; /* index of the message it belongs to */
  /* The message's header, for every kind but ANOMALY (a CONTENT_DELTA says
   * which channel and recipient its text belongs to). */
  ossrt_role role;
  const char* name;      /* NUL-terminated or NULL when absent; */
  const char* channel;   /*   every pointer is valid until the next call */
  const char* recipient; /*   on this parser */
  const char* content_type;
  const char* text; /* never NULL; text_len bytes (also NUL-terminated) */
  size_t text_len;
  const char* anomaly; /* ANOMALY: "missing_message", "stray_token", ...; else NULL */
} ossrt_harmony_event;

/* A parser for one output stream. role: the role whose header the prompt
 * already opened (ASSISTANT after a completion render), or NONE. Failure:
 * INVALID_ARGUMENT (NULL argument, bad role or mode); *parser_out = NULL. */
OSSRT_API ossrt_status ossrt_harmony_parser_create(const ossrt_tokenizer* tokenizer, ossrt_role role,
                                                   ossrt_parse_mode mode, ossrt_harmony_parser** parser_out);
/* NULL is a no-op. */
OSSRT_API void ossrt_harmony_parser_destroy(ossrt_harmony_parser* parser);
/* Feeds one token; its events queue up for ossrt_harmony_parser_next_event.
 * Failure (strict modes only): INVALID_ARGUMENT with harmony's message; the
 * parser then refuses further input. Lenient mode fails only for memory. */
OSSRT_API ossrt_status ossrt_harmony_parser_push(ossrt_harmony_parser* parser, int32_t token);
/* End of stream: closes an open message. Same failure rules as push. */
OSSRT_API ossrt_status ossrt_harmony_parser_finish(ossrt_harmony_parser* parser);
/* Zeroes *event and sets struct_size. Does nothing if event is NULL. */
OSSRT_API void ossrt_harmony_event_init(ossrt_harmony_event* event);
/* Takes the oldest queued event: returns 1 with *event filled (its first
 * struct_size bytes), or 0 when none is left (also, as in ABI v1, for a NULL
 * or released parser or a NULL event, which set ossrt_last_error_message).
 * Returns -1, taking nothing (the event stays queued) and setting
 * ossrt_last_error_message, for an event whose struct_size does not cover
 * kind or ends inside a field (0: initialise it with ossrt_harmony_event_init);
 * before, such a call dropped the event silently. Loop with
 * `while (ossrt_harmony_parser_next_event(p, &e) == 1)`: a `while (...)` loop
 * over a bad struct_size would not end. */
OSSRT_API int32_t ossrt_harmony_parser_next_event(ossrt_harmony_parser* parser, ossrt_harmony_event* event);
/* The completed messages as harmony JSON (see ossrt_conversation_to_json).
 * Failure: INVALID_ARGUMENT, BUFFER_TOO_SMALL. */
OSSRT_API ossrt_status ossrt_harmony_parser_messages_json(const ossrt_harmony_parser* parser, char* out, size_t cap,
                                                          size_t* n_out);
/* Appends the completed messages to a conversation as history (a final
 * <|return|> renders as <|end|> from then on). Failure: INVALID_ARGUMENT. */
OSSRT_API ossrt_status ossrt_harmony_parser_append_to(const ossrt_harmony_parser* parser,
                                                      ossrt_conversation* conversation);

/* ---- chat: one harmony assistant turn over a session ------------------- */

typedef int32_t ossrt_finish_reason;
enum {
  OSSRT_FINISH_STOP = 0,             /* <|return|>: the final answer ended (or an extra stop id) */
  OSSRT_FINISH_TOOL_CALL = 1,        /* <|call|>: the last appended message is a tool call to answer */
  OSSRT_FINISH_LENGTH = 2,           /* max_tokens generated */
  OSSRT_FINISH_REASONING_BUDGET = 3, /* the analysis channel used up reasoning_budget tokens */
  OSSRT_FINISH_CANCELLED = 4,        /* ossrt_session_cancel, or on_event returned non-zero */
  OSSRT_FINISH_CONTEXT_FULL = 5      /* the session's context length is reached */
};

/* "stop", "tool_call", ...; static storage, never NULL. Any thread. */
OSSRT_API const char* ossrt_finish_reason_string(ossrt_finish_reason reason);

/* Called on the session's thread for each parser event of the turn (see
 * ossrt_harmony_event; its pointers are valid only during the call); return
 * non-zero to end the turn (OSSRT_FINISH_CANCELLED). Must not call into the
 * session (such a call fails with INVALID_STATE). */
typedef int32_t (*ossrt_event_callback)(const ossrt_harmony_event* event, void* user_data);

typedef struct ossrt_chat_options {
  uint32_t struct_size; /* sizeof(ossrt_chat_options), set by _init */
  /* Deprecated: use ossrt_conversation_set_reasoning_effort (the effort lives
   * in the conversation's system message). Still honoured for old callers:
   * OSSRT_EFFORT_* replaces the system message's effort for this turn only
   * (nothing without a system message); -1 (the default) leaves it. */
  int32_t reasoning_effort;
  uint64_t max_tokens;              /* tokens to generate at most; default 4096 */
  uint64_t reasoning_budget;        /* analysis-channel tokens at most; 0 = unlimited (default) */
  const int32_t* extra_stop_tokens; /* ids that end the turn besides <|return|> and <|call|> */
  size_t n_extra_stop_tokens;
  int32_t auto_drop_analysis;    /* default 1: harmony's rule for dropping earlier analysis from the prompt */
  ossrt_event_callback on_event; /* NULL = none */
  void* on_event_user_data;
  /* Structured output (appended fields; a shorter struct_size leaves
   * them NULL / 0). response_format: a JSON schema (UTF-8, NUL-terminated)
   * the final answer must match; NULL or "" = none. It is compiled once per
   * distinct text, rendered into the developer message under
   * "# Response Formats" as "## {response_format_name}" (NULL = "response";
   * the conversation itself is not changed), and enforced from
   * <|channel|>final<|message|> to the end of that message only: analysis,
   * headers and other messages stay free, and <|return|> is allowed exactly
   * when the JSON is complete. An unsupported schema fails the turn with
   * INVALID_ARGUMENT naming the byte ("response_format: schema at byte N: ...").
   * strict_tools: n_strict_tools names (NUL-terminated) of function tools in
   * the conversation's developer message ("get_weather") whose call arguments
   * are constrained to their parameters schema; <|call|> is allowed exactly
   * when they are complete. A name that is not such a tool fails the turn
   * with INVALID_ARGUMENT. Both are only read during the call. */
  const char* response_format;
  const char* response_format_name;
  const char* const* strict_tools;
  size_t n_strict_tools;
} ossrt_chat_options;

typedef struct ossrt_chat_result {
  uint32_t struct_size; /* sizeof(ossrt_chat_result), set by _init */
  ossrt_finish_reason finish_reason;
  uint64_t prompt_tokens;     /* the rendered prompt */
  uint64_t reused_tokens;     /* of those, already in the session's cache (not prefilled again) */
  uint64_t generated_tokens;  /* sampled this turn */
  uint64_t reasoning_tokens;  /* of those, on the analysis channel */
  uint64_t messages_appended; /* assistant messages appended to the conversation */
  uint64_t anomalies;         /* lenient-parser recoveries (also sent as ANOMALY events) */
  /* The call to answer when finish_reason is TOOL_CALL (the last appended
   * message); NULL / 0 otherwise, and when the message <|call|> ended names
   * no recipient (nothing to answer). NUL-terminated strings owned by the
   * session, valid until the next ossrt_chat_turn on it or its destroy.
   * Answer with ossrt_conversation_add_tool_result(conversation,
   * tool_call_recipient, output, len), then call ossrt_chat_turn again. */
  const char* tool_call_recipient; /* "functions.get_weather", "browser.search", "python" */
  const char* tool_call_arguments; /* the message text: JSON for function tools, code for python */
  size_t tool_call_arguments_len;
  const char* tool_call_channel;      /* "commentary" (function tools) or "analysis"; NULL if the call has none */
  const char* tool_call_content_type; /* as written: "<|constrain|>json", "json", "code"; NULL if none */
  uint64_t constrained_tokens;        /* sampled under the response format's or a strict tool's mask */
} ossrt_chat_result;

/* Sets defaults. Does nothing if options is NULL. */
OSSRT_API void ossrt_chat_options_init(ossrt_chat_options* options);
/* Zeroes *result and sets struct_size. Does nothing if result is NULL. */
OSSRT_API void ossrt_chat_result_init(ossrt_chat_result* result);

/* One assistant turn: renders the conversation for completion, syncs the
 * session's cached prefix (only new tokens are prefilled), samples with the
 * lenient harmony parser attached and streams its events, stops on harmony's
 * assistant-action stop set (<|return|>, <|call|>; never on <|end|>), and
 * appends the assistant messages to the conversation as history (a message
 * cut short is kept as it stands). Call it again after adding the user's next
 * message or a tool result. options may be NULL (defaults).
 * Success: OK with *result filled (min(struct_size, sizeof) bytes); a cancel
 * or a full context is a finish reason, not a failure.
 * Failure: INVALID_ARGUMENT (NULL/released handles, bad options, a result
 * whose struct_size does not cover finish_reason or ends inside a field, a
 * conversation harmony cannot render, a model whose vocabulary lacks
 * harmony's ids), INVALID_STATE (the session is busy), INVALID_TOKEN,
 * OUT_OF_MEMORY; the conversation is then unchanged.
 * Thread rules: the session's; sampler and conversation are only read / only
 * appended to by this call. */
OSSRT_API ossrt_status ossrt_chat_turn(ossrt_session* session, ossrt_conversation* conversation,
                                       const ossrt_sampler* sampler, const ossrt_chat_options* options,
                                       ossrt_chat_result* result);

#ifdef __cplusplus
}
#endif

#endif /* OSSRT_H */
