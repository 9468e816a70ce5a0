// The body of the CPU inner steps, included once per SIMD level by
// ops_<level>.cc. Plain loops with `omp simd` hints: the compiler vectorizes
// them for the level's flags. Everything is file-private (anonymous
// namespace) and uses no std templates, so no ISA-specific code can leak into
// another level through the linker.
#pragma once

#include "../sampling.h"
#include "ops.h"

namespace mtl::cpu {
namespace {

inline float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Four dot products of one row against four others: the row is loaded once.
inline void dot4(const float* __restrict a, const float* __restrict b0, const float* __restrict b1,
                 const float* __restrict b2, const float* __restrict b3, int64_t n, float* out) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t i = 0; i < n; ++i) {
    s0 += a[i] * b0[i];
    s1 += a[i] * b1[i];
    s2 += a[i] * b2[i];
    s3 += a[i] * b3[i];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

// y += sum_k g[k * stride] * rows[k], four rows per pass over y.
inline void accumulate_rows(float* __restrict y, const float* const* rows, const float* g,
                            int64_t stride, int count, int64_t n) {
  int k = 0;
  for (; k + 4 <= count; k += 4) {
    const float g0 = g[k * stride], g1 = g[(k + 1) * stride];
    const float g2 = g[(k + 2) * stride], g3 = g[(k + 3) * stride];
    const float* __restrict r0 = rows[k];
    const float* __restrict r1 = rows[k + 1];
    const float* __restrict r2 = rows[k + 2];
    const float* __restrict r3 = rows[k + 3];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] += g0 * r0[i] + g1 * r1[i] + g2 * r2[i] + g3 * r3[i];
  }
  for (; k < count; ++k) {
    const float gk = g[k * stride];
    const float* __restrict r = rows[k];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] += gk * r[i];
  }
}

// Scores are processed in blocks of kLanes with no scalar tail: buffers are
// padded (see padded()), and padding entries are masked out of the loss.
constexpr int kLanes = 16;
inline int padded(int n) { return (n + kLanes - 1) / kLanes * kLanes; }

// Turns scores into gradients in place: g = lr * (label - sigmoid(score)),
// label 1 for the first `n_positive` entries. Returns the summed loss.
inline double scores_to_gradients(float* __restrict g, int n, int n_positive, float lr) {
  float loss = 0.0f;
  for (int block = 0; block < padded(n); block += kLanes) {
#pragma omp simd reduction(+ : loss)
    for (int j = 0; j < kLanes; ++j) {
      const int i = block + j;
      const float label = i < n_positive ? 1.0f : 0.0f;
      const float real = i < n ? 1.0f : 0.0f;
      const float score = real * g[i];  // padding may hold anything: zero it
      loss += real * pair_loss(score, label);
      g[i] = lr * (label - clipped_sigmoid(score));
    }
  }
  return loss;
}

// g[t * n_rows + r] = <rows[r], targets[t]>, four targets at a time.
inline void score_block(float* g, const float* const* rows, int n_rows, const float* const* targets,
                        int n_targets, int64_t dim) {
  for (int r = 0; r < n_rows; ++r) {
    int t = 0;
    float four[4];
    for (; t + 4 <= n_targets; t += 4) {
      dot4(rows[r], targets[t], targets[t + 1], targets[t + 2], targets[t + 3], dim, four);
      for (int j = 0; j < 4; ++j) g[(t + j) * n_rows + r] = four[j];
    }
    for (; t < n_targets; ++t) g[t * n_rows + r] = dot(rows[r], targets[t], dim);
  }
}

// HogBatch step: an (n_contexts x n_targets) block of scores is computed from
// the old rows, then w_out and w_in are updated with two small rank-k products.
double skipgram_step(const Matrix& w_in, const Matrix& w_out, const int32_t* contexts,
                     int n_contexts, const int32_t* targets, int n_targets, float lr,
                     float* scratch) {
  const int64_t dim = w_in.cols;
  float* __restrict grad_in = scratch;              // n_contexts x dim
  float* __restrict g = scratch + n_contexts * dim;  // n_targets x n_contexts, padded
  const float* in_rows[2 * 64];
  const float* out_rows[64];
  float* out_mut[64];
  for (int c = 0; c < n_contexts; ++c) in_rows[c] = w_in.row(contexts[c]);
  for (int t = 0; t < n_targets; ++t) out_rows[t] = out_mut[t] = w_out.row(targets[t]);

  score_block(g, in_rows, n_contexts, out_rows, n_targets, dim);
  const double loss = scores_to_gradients(g, n_contexts * n_targets, n_contexts, lr);

  // grad_in[c] = sum_t g[t, c] * w_out[t], from the rows before their update.
  for (int c = 0; c < n_contexts; ++c) {
    float* __restrict row = grad_in + c * dim;
#pragma omp simd
    for (int64_t i = 0; i < dim; ++i) row[i] = 0.0f;
    accumulate_rows(row, out_rows, g + c, n_contexts, n_targets, dim);
  }
  for (int t = 0; t < n_targets; ++t) accumulate_rows(out_mut[t], in_rows, g + t * n_contexts, 1, n_contexts, dim);
  for (int c = 0; c < n_contexts; ++c) {
    float* __restrict row = w_in.row(contexts[c]);
    const float* __restrict delta = grad_in + c * dim;
#pragma omp simd
    for (int64_t i = 0; i < dim; ++i) row[i] += delta[i];
  }
  return loss;
}

// word2vec's CBOW (cbow_mean=1): h = mean of the context rows predicts the
// targets; the gradient of h is added, undivided, to every context row.
double cbow_step(const Matrix& w_in, const Matrix& w_out, const int32_t* contexts, int n_contexts,
                 const int32_t* targets, int n_targets, float lr, float* scratch) {
  const int64_t dim = w_in.cols;
  float* __restrict h = scratch;
  float* __restrict grad_h = scratch + dim;
  float* __restrict g = scratch + 2 * dim;
  const float* in_rows[2 * 64];
  const float* out_rows[64];
  for (int c = 0; c < n_contexts; ++c) in_rows[c] = w_in.row(contexts[c]);
  for (int t = 0; t < n_targets; ++t) out_rows[t] = w_out.row(targets[t]);

  const float inv = 1.0f / static_cast<float>(n_contexts);
#pragma omp simd
  for (int64_t i = 0; i < dim; ++i) h[i] = 0.0f;
  float ones[2 * 64];
  for (int c = 0; c < n_contexts; ++c) ones[c] = inv;
  accumulate_rows(h, in_rows, ones, 1, n_contexts, dim);

  const float* h_row[1] = {h};
  score_block(g, h_row, 1, out_rows, n_targets, dim);
  const double loss = scores_to_gradients(g, n_targets, 1, lr);

#pragma omp simd
  for (int64_t i = 0; i < dim; ++i) grad_h[i] = 0.0f;
  accumulate_rows(grad_h, out_rows, g, 1, n_targets, dim);
  for (int t = 0; t < n_targets; ++t) {
    float* __restrict row = w_out.row(targets[t]);
    const float gt = g[t];
#pragma omp simd
    for (int64_t i = 0; i < dim; ++i) row[i] += gt * h[i];
  }
  for (int c = 0; c < n_contexts; ++c) {
    float* __restrict row = w_in.row(contexts[c]);
#pragma omp simd
    for (int64_t i = 0; i < dim; ++i) row[i] += grad_h[i];
  }
  return loss;
}

}  // namespace
}  // namespace mtl::cpu

// Defines the accessor for one level, e.g. MTL_DEFINE_OPS(avx2).
#define MTL_DEFINE_OPS(LEVEL)                                                   \
  const ::mtl::cpu::Ops& ::mtl::cpu::ops_##LEVEL() {                            \
    static const Ops table{#LEVEL, &skipgram_step, &cbow_step};                 \
    return table;                                                               \
  }
