// Scalar math shared by the CPU and CUDA kernels: RNG, sigmoid, subsampling,
// code-switching, negative draws and the learning-rate schedule. Everything
// here sits in an anonymous namespace, so each ISA-specific translation unit
// keeps its own copy and the linker can never hand an AVX-512 version to a CPU
// without AVX-512.
#pragma once

#include <cstdint>
#include <cstring>

#include "sgns.h"

#if defined(__CUDACC__)
#define MTL_HD __host__ __device__ inline
#else
#define MTL_HD inline
#endif

namespace mtl {
namespace {

// word2vec's MAX_EXP: beyond +-6 the sigmoid counts as exactly 1 or 0, so
// saturated pairs still give the full gradient, as in word2vec.c (gensim 4
// skips such pairs instead; measured not to matter: quality-cause.md).
constexpr float kMaxScore = 6.0f;

MTL_HD uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// xorshift64*: a shift-xor step and one multiply per draw; seeded per chunk
// from (run seed, chunk id), so results do not depend on which thread runs it.
struct Rng {
  uint64_t state;
  MTL_HD explicit Rng(uint64_t seed, uint64_t stream)
      : state(splitmix64(seed ^ splitmix64(stream)) | 1ull) {}
  MTL_HD uint64_t next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [0, 1) with 24 bits, exactly representable in float.
  MTL_HD float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
  // Uniform integer in [0, n) for n < 2^32, by multiply-shift (no division).
  MTL_HD uint32_t below(uint32_t n) {
    return static_cast<uint32_t>(((next() >> 32) * static_cast<uint64_t>(n)) >> 32);
  }
};

MTL_HD float bits_to_float(int32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}
MTL_HD int32_t float_to_bits(float f) {
  int32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return bits;
}

// exp(x) for |x| <= 80 with ~1e-7 relative error: Cody-Waite reduction
// x = n ln2 + r with |r| <= ln2/2, a degree-6 Taylor polynomial for e^r, and
// 2^n from n's bits. Branch-free so that loops over many scores vectorize.
// The arithmetic is written once for float and for the CPU kernel's SIMD
// vectors (GCC vector extensions, ops_body.h), which build 2^n differently.
template <class F>
MTL_HD F nearest_integer(F t) {
  return (t + 12582912.0f) - 12582912.0f;  // 1.5 * 2^23: rounds to nearest
}
template <class F>
MTL_HD F exp_of_remainder(F x, F n) {  // e^(x - n ln2)
  const F r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  F p = r * (1.0f / 720.0f) + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r + 1.0f;
}
MTL_HD float fast_exp(float x) {
  const float n = nearest_integer(x * 1.44269504088896341f);
  return exp_of_remainder(x, n) * bits_to_float((static_cast<int32_t>(n) + 127) << 23);
}

// log(x) for normal positive x, ~1e-5 absolute error: only feeds the loss
// that progress reports, never a gradient. x = m 2^exponent with m in [1, 2);
// log m by the atanh series in s = (m - 1) / (m + 1). Shared like the above.
template <class F>
MTL_HD F log_of_parts(F exponent, F m) {
  const F s = (m - 1.0f) / (m + 1.0f);
  const F s2 = s * s;
  return exponent * 0.693147180559945f + s * (2.0f + s2 * (2.0f / 3.0f + s2 * (2.0f / 5.0f + s2 * (2.0f / 7.0f))));
}
MTL_HD float fast_log(float x) {
  const int32_t bits = float_to_bits(x);
  return log_of_parts(static_cast<float>(((bits >> 23) & 255) - 127), bits_to_float((bits & 0x007FFFFF) | 0x3F800000));
}

// The clipped sigmoid of word2vec: exactly 0 or 1 outside [-6, 6].
MTL_HD float clipped_sigmoid(float score) {
  const float s = 1.0f / (1.0f + fast_exp(-score));
  return score > kMaxScore ? 1.0f : (score < -kMaxScore ? 0.0f : s);
}

// -log P(label | score), with the score clipped so the loss stays finite.
MTL_HD float pair_loss(float score, float label) {
  const float z = score > kMaxScore ? kMaxScore : (score < -kMaxScore ? -kMaxScore : score);
  const float p = 1.0f / (1.0f + fast_exp(label > 0.5f ? -z : z));
  return -fast_log(p);
}

// word2vec's subsampling: keep a token with probability keep_prob[id].
MTL_HD bool keep_token(Rng& rng, const float* keep_prob, int32_t id) {
  return keep_prob[id] >= 1.0f || rng.uniform() < keep_prob[id];
}

// A read of data that no thread writes during training (the corpus, the
// tables): through the read-only cache on the device.
template <class T>
MTL_HD T read_only(const T* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(p);
#else
  return *p;
#endif
}

// Code-switching: a kept word with translations becomes one of them (drawn
// uniformly) with probability task.codeswitch.
MTL_HD int32_t code_switch(Rng& rng, const Task& task, int32_t id) {
  if (!(task.codeswitch > 0.0f)) return id;
  const int64_t first = read_only(task.translations.offsets + id);
  const int64_t count = read_only(task.translations.offsets + id + 1) - first;
  if (count > 0 && rng.uniform() < task.codeswitch)
    return read_only(task.translations.ids + first + rng.below(static_cast<uint32_t>(count)));
  return id;
}

// Where `done` of a chunk's `span` tokens lie on the run's 0..1 timeline.
MTL_HD double chunk_progress(const Chunk& chunk, int64_t done, int64_t span) {
  return chunk.progress_begin +
         (chunk.progress_end - chunk.progress_begin) * (span > 0 ? static_cast<double>(done) / span : 0.0);
}

// word2vec's linear decay from alpha to min_alpha over the run, scaled by the task's weight.
MTL_HD float learning_rate(double alpha, double min_alpha, float weight, double progress) {
  return weight * static_cast<float>(alpha - (alpha - min_alpha) * progress);
}

// One draw from a language's alias table, as a global id.
MTL_HD int32_t draw_negative(Rng& rng, const NoiseTable& noise) {
  const uint64_t r = rng.next();
  const uint32_t k = static_cast<uint32_t>(((r >> 32) * static_cast<uint64_t>(noise.size)) >> 32);
  const float u = static_cast<float>(r & 0xFFFFFF) * (1.0f / 16777216.0f);
  return noise.first_id + (u < noise.prob[k] ? static_cast<int32_t>(k) : noise.alias[k]);
}

}  // namespace
}  // namespace mtl
