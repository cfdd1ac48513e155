// Umbrella header of the ossrt C++ API.
#pragma once

#include "ossrt/batch_decoder.hpp"    // BatchDecoder: several sessions, one forward pass per step
#include "ossrt/chat.hpp"             // chat_turn, ChatOptions, FinishReason
#include "ossrt/chat_constraint.hpp"  // ChatConstraint: structured output in any decode loop
#include "ossrt/devices.hpp"          // list_devices, measure_copy_bandwidth
#include "ossrt/harmony.hpp"          // harmony conversations, Renderer, StreamParser
#include "ossrt/json.hpp"             // JsonValue (ordered)
#include "ossrt/memory_estimate.hpp"  // estimate_memory before loading
#include "ossrt/model.hpp"            // Model, ModelConfig, ModelInfo, ModelOptions
#include "ossrt/runtime.hpp"          // Runtime, LogLevel (log sink)
#include "ossrt/sampler.hpp"          // Sampler, SamplerOptions
#include "ossrt/scheduler.hpp"        // Scheduler: sessions join, prefill and decode in shared steps
#include "ossrt/session.hpp"          // Session, SessionOptions
#include "ossrt/status.hpp"           // Status, StatusCode, Result
#include "ossrt/synthetic.hpp"        // synthetic_config, write_synthetic_checkpoint
#include "ossrt/tokenizer.hpp"        // Tokenizer, StreamDecoder
#include "ossrt/version.hpp"          // version_string
