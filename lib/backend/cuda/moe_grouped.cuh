// The MoE experts grouped by expert for prefill-sized batches
// (moe_grouped.cu), and what that path shares with the per-pair GEMVs of
// moe.cu: the Q15 buffers (q15.cuh) and the SwiGLU step.
#pragma once

#include <cstdint>

#include "backend/cuda/cuda_context.cuh"
#include "backend/cuda/q15.cuh"

namespace ossrt::cuda {

// SwiGLU of every pair's mlp1 output in scratch[pair, 0..2I) into
// scratch[pair, 2I..3I), quantized into act_q15 under fast numerics (moe.cu).
void moe_activation(Context& c, const MoeArgs& a, Q15 act_q15);

// Whether moe_mxfp4_grouped takes this call: enough (token, slot) pairs that
// grouping pays, and buffers aligned for its 16-byte accesses.
bool moe_grouped_applies(const MoeArgs& a);

// The experts as grouped GEMMs on c.stream: x_q15 holds the tokens' Q15
// inputs (fast numerics, already quantized), act_q15 room for the pairs'
// activations; both null under exact numerics. Expert ids must be below the
// weights' expert count, as for the GEMV path.
void moe_mxfp4_grouped(Context& c, const MoeArgs& a, Q15 x_q15, Q15 act_q15);

}  // namespace ossrt::cuda
