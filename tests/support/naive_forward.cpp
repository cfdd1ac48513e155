#include "naive_forward.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numbers>
#include <numeric>
#include <stdexcept>

namespace testsupport {
namespace {

using Matrix = std::vector<double>;  // row-major

class Tensors {
 public:
  explicit Tensors(const std::vector<TensorSpec>& specs) {
    for (const TensorSpec& t : specs) by_name_[t.name] = &t;
  }
  const TensorSpec& get(const std::string& name) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) throw std::runtime_error("naive_forward: no tensor " + name);
    return *it->second;
  }
  // bf16 bits widened: the top 16 bits of an IEEE single.
  std::vector<double> bf16(const std::string& name) const {
    const TensorSpec& t = get(name);
    std::vector<double> out(t.bytes.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
      uint32_t bits = (static_cast<uint32_t>(t.bytes[2 * i + 1]) << 24) | (static_cast<uint32_t>(t.bytes[2 * i]) << 16);
      float f;
      std::memcpy(&f, &bits, 4);
      out[i] = f;
    }
    return out;
  }
  // MXFP4 [E, rows, in/32, 16] + scales -> dense [E, rows, in].
  std::vector<double> mxfp4(const std::string& prefix, size_t in) const {
    static const double kValues[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    const TensorSpec& blocks = get(prefix + ".blocks");
    const TensorSpec& scales = get(prefix + ".scales");
    std::vector<double> out(blocks.bytes.size() * 2);
    for (size_t k = 0; k < out.size(); ++k) {
      const uint8_t byte = blocks.bytes[k / 2];
      const uint8_t code = k % 2 == 0 ? byte & 15 : byte >> 4;
      const double magnitude = kValues[code & 7] * std::ldexp(1.0, scales.bytes[k / 32] - 127);
      out[k] = (code & 8) ? -magnitude : magnitude;
    }
    (void)in;
    return out;
  }

 private:
  std::map<std::string, const TensorSpec*> by_name_;
};

// y[t, o] = sum_i x[t, i] w[o, i] + b[o]
Matrix linear(const Matrix& x, size_t T, size_t in, const double* w, const double* b, size_t out) {
  Matrix y(T * out);
  for (size_t t = 0; t < T; ++t) {
    for (size_t o = 0; o < out; ++o) {
      double s = b ? b[o] : 0.0;
      for (size_t i = 0; i < in; ++i) s += x[t * in + i] * w[o * in + i];
      y[t * out + o] = s;
    }
  }
  return y;
}

Matrix rmsnorm(const Matrix& x, size_t T, size_t H, const std::vector<double>& scale) {
  Matrix y(x.size());
  for (size_t t = 0; t < T; ++t) {
    double ms = 0;
    for (size_t i = 0; i < H; ++i) ms += x[t * H + i] * x[t * H + i];
    const double r = 1.0 / std::sqrt(ms / static_cast<double>(H) + 1e-5);
    for (size_t i = 0; i < H; ++i) y[t * H + i] = x[t * H + i] * r * scale[i];
  }
  return y;
}

}  // namespace

std::vector<double> naive_forward(const ossrt::ModelConfig& c, const std::vector<TensorSpec>& specs,
                                  const std::vector<int>& tokens) {
  const Tensors w(specs);
  const size_t T = tokens.size(), H = static_cast<size_t>(c.hidden_size), V = static_cast<size_t>(c.vocab_size);
  const size_t D = static_cast<size_t>(c.head_dim), NQ = static_cast<size_t>(c.num_attention_heads);
  const size_t NKV = static_cast<size_t>(c.num_key_value_heads), G = NQ / NKV;
  const size_t E = static_cast<size_t>(c.num_experts), K = static_cast<size_t>(c.experts_per_token);
  const size_t I = static_cast<size_t>(c.intermediate_size), QKV = D * (NQ + 2 * NKV);

  // RoPE/YaRN (§3), in double.
  std::vector<double> inv_freq(D / 2);
  double concentration = 1.0;
  for (size_t i = 0; i < D / 2; ++i) {
    const double freq = std::pow(c.rope_theta, 2.0 * static_cast<double>(i) / static_cast<double>(D));
    inv_freq[i] = 1.0 / freq;
    if (c.rope_scaling_factor > 1.0) {
      const double half = static_cast<double>(D) / 2;
      const double low =
          half * std::log(c.initial_context_length / (c.rope_ntk_beta * 2 * std::numbers::pi)) / std::log(c.rope_theta);
      const double high = half * std::log(c.initial_context_length / (c.rope_ntk_alpha * 2 * std::numbers::pi)) /
                          std::log(c.rope_theta);
      const double gamma = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      inv_freq[i] = gamma / (c.rope_scaling_factor * freq) + (1 - gamma) / freq;
      concentration = 0.1 * std::log(c.rope_scaling_factor) + 1.0;
    }
  }
  auto rotate = [&](double* v, size_t p) {
    for (size_t i = 0; i < D / 2; ++i) {
      const double a = static_cast<double>(static_cast<float>(p) * static_cast<float>(inv_freq[i]));
      const double cs = std::cos(a) * concentration, sn = std::sin(a) * concentration;
      const double x1 = v[i], x2 = v[i + D / 2];
      v[i] = x1 * cs - x2 * sn;
      v[i + D / 2] = x2 * cs + x1 * sn;
    }
  };

  const std::vector<double> embedding = w.bf16("embedding.weight");
  Matrix x(T * H);
  for (size_t t = 0; t < T; ++t) std::copy_n(&embedding[static_cast<size_t>(tokens[t]) * H], H, &x[t * H]);

  for (int64_t n = 0; n < c.num_hidden_layers; ++n) {
    const std::string p = "block." + std::to_string(n) + ".";
    // Attention (§2.2).
    Matrix t_in = rmsnorm(x, T, H, w.bf16(p + "attn.norm.scale"));
    const std::vector<double> wqkv = w.bf16(p + "attn.qkv.weight"), bqkv = w.bf16(p + "attn.qkv.bias");
    Matrix qkv = linear(t_in, T, H, wqkv.data(), bqkv.data(), QKV);
    for (size_t t = 0; t < T; ++t) {
      for (size_t h = 0; h < NQ + NKV; ++h) rotate(&qkv[t * QKV + h * D], t);  // q heads then k heads
    }
    const std::vector<double> sinks = w.bf16(p + "attn.sinks");
    const size_t window = n % 2 == 0 ? static_cast<size_t>(c.sliding_window) : 0;
    Matrix attn(T * NQ * D, 0.0);
    for (size_t i = 0; i < T; ++i) {
      for (size_t h = 0; h < NQ; ++h) {
        const size_t kvh = h / G;
        std::vector<double> scores;
        std::vector<size_t> keys;
        for (size_t j = 0; j <= i; ++j) {
          if (window > 0 && j + window <= i) continue;
          double s = 0;
          for (size_t d = 0; d < D; ++d) s += qkv[i * QKV + h * D + d] * qkv[j * QKV + NQ * D + kvh * D + d];
          scores.push_back(s / std::sqrt(static_cast<double>(D)));
          keys.push_back(j);
        }
        double m = sinks[h];
        for (double s : scores) m = std::max(m, s);
        double denominator = std::exp(sinks[h] - m);
        for (double s : scores) denominator += std::exp(s - m);
        for (size_t k = 0; k < keys.size(); ++k) {
          const double weight = std::exp(scores[k] - m) / denominator;
          for (size_t d = 0; d < D; ++d) {
            attn[i * NQ * D + h * D + d] += weight * qkv[keys[k] * QKV + (NQ + NKV) * D + kvh * D + d];
          }
        }
      }
    }
    const std::vector<double> wo = w.bf16(p + "attn.out.weight"), bo = w.bf16(p + "attn.out.bias");
    Matrix o = linear(attn, T, NQ * D, wo.data(), bo.data(), H);
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];

    // MoE (§2.3).
    Matrix t_mlp = rmsnorm(x, T, H, w.bf16(p + "mlp.norm.scale"));
    const std::vector<double> wg = w.bf16(p + "mlp.gate.weight"), bg = w.bf16(p + "mlp.gate.bias");
    Matrix g = linear(t_mlp, T, H, wg.data(), bg.data(), E);
    const std::vector<double> w1 = w.mxfp4(p + "mlp.mlp1_weight", H), b1 = w.bf16(p + "mlp.mlp1_bias");
    const std::vector<double> w2 = w.mxfp4(p + "mlp.mlp2_weight", I), b2 = w.bf16(p + "mlp.mlp2_bias");
    const double limit = c.swiglu_limit;
    for (size_t t = 0; t < T; ++t) {
      std::vector<size_t> order(E);
      std::iota(order.begin(), order.end(), size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return g[t * E + a] > g[t * E + b]; });
      double denominator = 0;
      for (size_t s = 0; s < K; ++s) denominator += std::exp(g[t * E + order[s]] - g[t * E + order[0]]);
      std::vector<double> total(H, 0.0);
      for (size_t s = 0; s < K; ++s) {
        const size_t e = order[s];
        const double r = std::exp(g[t * E + e] - g[t * E + order[0]]) / denominator;
        Matrix row(t_mlp.begin() + static_cast<std::ptrdiff_t>(t * H),
                   t_mlp.begin() + static_cast<std::ptrdiff_t>((t + 1) * H));
        Matrix h = linear(row, 1, H, &w1[e * 2 * I * H], &b1[e * 2 * I], 2 * I);
        Matrix act(I);
        for (size_t j = 0; j < I; ++j) {
          const double glu = std::min(h[2 * j], limit);
          const double lin = std::clamp(h[2 * j + 1], -limit, limit);
          act[j] = glu / (1 + std::exp(-1.702 * glu)) * (lin + 1);
        }
        Matrix y = linear(act, 1, I, &w2[e * H * I], &b2[e * H], H);
        for (size_t i = 0; i < H; ++i) total[i] += r * y[i];
      }
      for (size_t i = 0; i < H; ++i) x[t * H + i] += total[i];
    }
  }
  Matrix final_norm = rmsnorm(x, T, H, w.bf16("norm.scale"));
  const std::vector<double> unembedding = w.bf16("unembedding.weight");
  return linear(final_norm, T, H, unembedding.data(), nullptr, V);
}

}  // namespace testsupport
