// The validate_weights load option: a scan of every tensor's values.
#pragma once

#include "io/checkpoint.h"

namespace ossrt {

// Fails with invalid_checkpoint naming the first tensor (in canonical name order) that
// holds a NaN or infinity (BF16, F16, F32, F64) or, for an MXFP4 scale tensor
// ("*.scales", U8 E8M0 exponents), the value 255, which E8M0 reserves for NaN.
// Reads every byte of the checkpoint.
Status validate_tensors(const Checkpoint& checkpoint);

}  // namespace ossrt
