// Attention for AVX2 + FMA: the ISA-generic kernel (attention_kernel.h) at 8
// lanes; shapes it does not take go to the reference.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "backend/cpu/kernels.h"
#include "util/numeric.h"
#include "util/thread_buffer.h"

#include "backend/cpu/avx2_target_begin.h"  // the rest of this file is AVX2 code

#include "backend/cpu/simd_avx2.h"

#include "backend/cpu/kernel_util.h"

#include "backend/cpu/attention_kernel.h"

namespace ossrt::cpu_avx2 {

bool attention_supported(const AttentionArgs& a) {
  return attention::shape_fits(a);
}

void attention_f32(void* self, const AttentionArgs& a) {
  if (!attention::shape_fits(a)) return cpu_reference_backend().attention_f32(self, a);
  attention::run(a);
}

}  // namespace ossrt::cpu_avx2

#include "backend/cpu/avx2_target_end.h"
