#include "io/tensor_validation.h"

#include <cstring>

#include "util/errors.h"

namespace ossrt {
namespace {

// Index of the first element whose exponent bits are all ones (NaN or
// infinity in IEEE formats; NaN for E8M0, whose exponent is the whole byte), or -1.
template <class Bits>
long long first_all_ones(const uint8_t* data, size_t bytes, Bits exponent_mask) {
  const size_t n = bytes / sizeof(Bits);
  for (size_t i = 0; i < n; ++i) {
    Bits v;
    std::memcpy(&v, data + i * sizeof(Bits), sizeof v);
    if ((v & exponent_mask) == exponent_mask) return static_cast<long long>(i);
  }
  return -1;
}

}  // namespace

Status validate_tensors(const Checkpoint& checkpoint) {
  for (const auto& [name, tensor] : checkpoint.tensors) {
    const TensorEntry& e = tensor.entry;
    long long bad = -1;
    const char* what = "a NaN or infinity";
    switch (e.dtype) {
      case DType::bf16:
        bad = first_all_ones<uint16_t>(e.data, e.bytes, 0x7f80);
        break;
      case DType::f16:
        bad = first_all_ones<uint16_t>(e.data, e.bytes, 0x7c00);
        break;
      case DType::f32:
        bad = first_all_ones<uint32_t>(e.data, e.bytes, 0x7f800000u);
        break;
      case DType::f64:
        bad = first_all_ones<uint64_t>(e.data, e.bytes, 0x7ff0000000000000ull);
        break;
      case DType::q8_0:
        // Each block opens with its fp16 scale.
        for (size_t block = 0; block * kGgmlQ8_0BlockBytes < e.bytes && bad < 0; ++block) {
          if (first_all_ones<uint16_t>(e.data + block * kGgmlQ8_0BlockBytes, sizeof(uint16_t), 0x7c00) == 0) {
            bad = static_cast<long long>(block * kGgmlBlockValues);
          }
        }
        what = "a NaN or infinite Q8_0 block scale";
        break;
      case DType::u8:
        if (name.ends_with(".scales")) {
          bad = first_all_ones<uint8_t>(e.data, e.bytes, 0xff);
          what = "the E8M0 scale 255 (NaN)";
        }
        break;
      default:
        break;
    }
    if (bad >= 0) {
      return error(StatusCode::invalid_checkpoint, "%s: tensor '%s' holds %s at element %lld: damaged weights",
                   tensor.file->c_str(), e.name.c_str(), what, bad);
    }
  }
  return Status::success();
}

}  // namespace ossrt
