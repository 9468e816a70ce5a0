// The body of the CPU inner steps, included once per SIMD level by
// ops_<level>.cc. Written with GCC/Clang vector extensions, one register wide
// (16 floats for AVX-512, 8 for AVX2, 4 for the generic SSE2 level), with no
// tail loops because rows are padded to a multiple of 16 floats. Everything is file-private (anonymous
// namespace) and uses no std templates, so no ISA-specific code can leak into
// another level through the linker.
#pragma once

#include <cstring>

#include "../sampling.h"
#include "ops.h"

namespace mtl::cpu {
namespace {

// One SIMD register per level (MTL_VEC_BYTES is set by ops_<level>.cc): a
// wider vector type than the hardware has would be split up by the compiler,
// often badly.
#ifndef MTL_VEC_BYTES
#error "define MTL_VEC_BYTES (16, 32 or 64) before including ops_body.h"
#endif
typedef float vec __attribute__((vector_size(MTL_VEC_BYTES)));
typedef int32_t ivec __attribute__((vector_size(MTL_VEC_BYTES)));
constexpr int kLanes = MTL_VEC_BYTES / 4;

inline vec load(const float* p) {
  vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vec v) { std::memcpy(p, &v, sizeof v); }
inline vec splat(float x) { return vec{} + x; }

inline float hsum(vec v) {
  typedef float quarter __attribute__((vector_size(16)));
#if MTL_VEC_BYTES == 64
  typedef float half __attribute__((vector_size(32)));
  const half h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                 __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const quarter q = __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
#elif MTL_VEC_BYTES == 32
  const quarter q = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
#else
  const quarter q = v;
#endif
  return (q[0] + q[2]) + (q[1] + q[3]);
}

// fast_exp and fast_log of sampling.h on a whole register: the same
// arithmetic (shared templates), only the bit tricks are per lane.
inline vec vexp(vec x) {
  const vec n = nearest_integer(x * 1.44269504088896341f);
  const ivec bits = (__builtin_convertvector(n, ivec) + 127) << 23;
  return exp_of_remainder(x, n) * (vec)bits;  // same-size vector casts reinterpret the bits
}

inline vec vlog(vec x) {  // normal positive x; feeds the reported loss only
  const ivec bits = (ivec)x;
  const ivec mantissa_bits = (bits & 0x007FFFFF) | 0x3F800000;
  return log_of_parts(__builtin_convertvector(((bits >> 23) & 255) - 127, vec), (vec)mantissa_bits);
}

inline int blocks(int n) { return (n + kLanes - 1) / kLanes; }

// Turns scores into gradients in place: g = lr * (label - sigmoid(score))
// with word2vec's clip at +-6, label 1 for the first `n_positive` entries;
// the others' gradients and losses count `negative_weight` times.
// Works on whole blocks (the buffer is padded); padding is masked out.
// Returns the summed loss -log P(label | score).
inline double scores_to_gradients(float* g, int n, int n_positive, float lr, float negative_weight = 1.0f) {
  vec loss = splat(0.0f);
  ivec index;
  for (int i = 0; i < kLanes; ++i) index[i] = i;
  for (int b = 0; b < blocks(n); ++b, index += kLanes) {
    const vec label = index < n_positive ? splat(1.0f) : splat(0.0f);
    const vec real = index < n ? splat(1.0f) : splat(0.0f);
    const vec score = load(g + b * kLanes) * real;
    const vec z = score > kMaxScore ? splat(kMaxScore) : (score < -kMaxScore ? splat(-kMaxScore) : score);
    const vec sigmoid_z = 1.0f / (1.0f + vexp(-z));
    const vec sigmoid = score > kMaxScore ? splat(1.0f) : (score < -kMaxScore ? splat(0.0f) : sigmoid_z);
    const vec p_label = label > 0.5f ? sigmoid_z : 1.0f - sigmoid_z;
    const vec weight = label > 0.5f ? splat(1.0f) : splat(negative_weight);  // x * 1.0f is x: no change without
    loss -= real * weight * vlog(p_label);
    store(g + b * kLanes, weight * (lr * (label - sigmoid)));
  }
  return hsum(loss);
}

constexpr int kMaxRows = 2 * 64 + 2;  // contexts: 2 * the largest window (+1 across a parallel pair)

// Scores of every context row against NT target rows: the NT accumulators
// stay in registers, each context block is loaded once per target set.
template <int NT>
inline void score_rows(float* scores, float* const* rows, int n_rows, float* const* targets, int64_t dim) {
  for (int r = 0; r < n_rows; ++r) {
    vec acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = splat(0.0f);
    for (int64_t k = 0; k < dim; k += kLanes) {
      const vec x = load(rows[r] + k);
      for (int t = 0; t < NT; ++t) acc[t] += x * load(targets[t] + k);
    }
    for (int t = 0; t < NT; ++t) scores[t * n_rows + r] = hsum(acc[t]);
  }
}

// Both HogBatch updates for NT targets, one column block at a time: the old
// target blocks and their deltas stay in registers while the contexts stream
// by; each gradient coefficient is broadcast once and used twice.
template <int NT>
inline void update_rows(const float* g, float* const* in_rows, const float* const* in_old, int n_contexts,
                        float* const* out_rows, const float* const* out_old, int64_t dim, vec* old_in) {
  for (int64_t k = 0; k < dim; k += kLanes) {
    vec old_out[NT], delta[NT];
    for (int t = 0; t < NT; ++t) old_out[t] = load(out_old[t] + k), delta[t] = splat(0.0f);
    // All old context blocks first: a word repeated in the window must not
    // see its own update.
    for (int c = 0; c < n_contexts; ++c) old_in[c] = load(in_old[c] + k);
    for (int c = 0; c < n_contexts; ++c) {
      vec grad = splat(0.0f);
      for (int t = 0; t < NT; ++t) {
        const vec coefficient = splat(g[t * n_contexts + c]);
        grad += coefficient * old_out[t];
        delta[t] += coefficient * old_in[c];
      }
      store(in_rows[c] + k, load(in_rows[c] + k) + grad);  // read-modify-write: repeats add up
    }
    for (int t = 0; t < NT; ++t) store(out_rows[t] + k, load(out_rows[t] + k) + delta[t]);
  }
}

// Targets come in groups of at most kGroup, so the register-blocked
// templates above cover any negative count with a handful of instances.
constexpr int kGroup = 6;

template <int NT>
inline void score_group(float* scores, float* const* rows, int n_rows, float* const* targets, int n, int64_t dim) {
  if constexpr (NT > 1) {
    if (n < NT) return score_group<NT - 1>(scores, rows, n_rows, targets, n, dim);
  }
  score_rows<NT>(scores, rows, n_rows, targets, dim);
}

template <int NT>
inline void update_group(const float* g, float* const* in_rows, const float* const* in_old, int n_contexts,
                         float* const* out_rows, const float* const* out_old, int n, int64_t dim, vec* old_in) {
  if constexpr (NT > 1) {
    if (n < NT) return update_group<NT - 1>(g, in_rows, in_old, n_contexts, out_rows, out_old, n, dim, old_in);
  }
  update_rows<NT>(g, in_rows, in_old, n_contexts, out_rows, out_old, dim, old_in);
}

// HogBatch step: an (n_contexts x n_targets) block of scores from the old
// rows, then w_in[c] += sum_t g[t,c] w_out[t] and w_out[t] += sum_c g[t,c] w_in[c],
// both from the old values. With more than kGroup targets the groups run one
// after the other, so the old rows are first copied to scratch (a word can be
// both a context twice and a negative twice).
double skipgram_step(float* const* in_rows, int n_contexts, float* const* out_rows, int n_targets, int64_t dim,
                     float lr, float* scratch) {
  float* g = scratch;  // n_targets x n_contexts, padded to whole blocks
  vec old_in[kMaxRows];
  for (int t = 0; t < n_targets; t += kGroup)
    score_group<kGroup>(g + t * n_contexts, in_rows, n_contexts, out_rows + t, n_targets - t, dim);
  const double loss = scores_to_gradients(g, n_contexts * n_targets, n_contexts, lr);
  // One group reads every old value before writing; several need copies.
  const float* in_old[kMaxRows];
  const float* out_old[kMaxRows];
  float* copy = g + blocks(n_contexts * n_targets) * kLanes;  // after the padded gradients
  const auto keep_old = [&](float* const* rows, int n, const float** old) {
    for (int r = 0; r < n; ++r, copy += dim) {
      if (n_targets <= kGroup) {
        old[r] = rows[r];
        continue;
      }
      for (int64_t k = 0; k < dim; k += kLanes) store(copy + k, load(rows[r] + k));
      old[r] = copy;
    }
  };
  keep_old(in_rows, n_contexts, in_old);
  keep_old(out_rows, n_targets, out_old);
  for (int t = 0; t < n_targets; t += kGroup)
    update_group<kGroup>(g + t * n_contexts, in_rows, in_old, n_contexts, out_rows + t, out_old + t, n_targets - t,
                         dim, old_in);
  return loss;
}

// Calls body(Blocks<U>{}, k) over a row in steps of U blocks, then single
// blocks: U independent accumulators per pass hide the latency of a chain of
// dependent adds that one block per pass would wait on.
template <int N>
struct Blocks {
  static constexpr int count = N;
};
template <int U, class Body>
inline void by_blocks(int64_t dim, Body&& body) {
  int64_t k = 0;
  for (; k + U * kLanes <= dim; k += U * kLanes) body(Blocks<U>{}, k);
  for (; k < dim; k += kLanes) body(Blocks<1>{}, k);
}

// h = the mean of rows[0, n).
inline void mean_rows(float* h, float* const* rows, int n, int64_t dim) {
  const vec inv = splat(1.0f / static_cast<float>(n));
  by_blocks<4>(dim, [&](auto unroll, int64_t k) {
    constexpr int U = decltype(unroll)::count;
    vec sum[U];
    for (int u = 0; u < U; ++u) sum[u] = splat(0.0f);
    for (int c = 0; c < n; ++c)
      for (int u = 0; u < U; ++u) sum[u] += load(rows[c] + k + u * kLanes);
    for (int u = 0; u < U; ++u) store(h + k + u * kLanes, sum[u] * inv);
  });
}

// The context side of a CBOW step. Rows: center i's hidden vector is the mean of its context rows
// in_rows[begin, end), and its gradient is added to each of them (ops.h's CbowFn).
struct RowInputs {
  float* const* rows;
  int64_t dim;
  void compose(float* h, int begin, int end) const { mean_rows(h, rows + begin, end - begin, dim); }
  template <int U>
  void add(int64_t k, int begin, int end, const vec* grad) const {
    for (int c = begin; c < end; ++c)
      for (int u = 0; u < U; ++u) store(rows[c] + k + u * kLanes, load(rows[c] + k + u * kLanes) + grad[u]);
  }
};

// The window cache (ops.h's CbowCache): the hidden vector is the weighted sum of the contexts' means;
// the gradient goes to their owed vectors, and times their gains to their means.
struct CachedInputs {
  const CbowCache& cache;
  int64_t dim;
  void compose(float* h, int begin, int end) const {
    by_blocks<4>(dim, [&](auto unroll, int64_t k) {
      constexpr int U = decltype(unroll)::count;
      vec sum[U];
      for (int u = 0; u < U; ++u) sum[u] = splat(0.0f);
      for (int c = begin; c < end; ++c) {
        const vec weight = splat(cache.weights[c]);
        for (int u = 0; u < U; ++u) sum[u] += weight * load(cache.means[c] + k + u * kLanes);
      }
      for (int u = 0; u < U; ++u) store(h + k + u * kLanes, sum[u]);
    });
  }
  template <int U>
  void add(int64_t k, int begin, int end, const vec* grad) const {
    for (int c = begin; c < end; ++c) {
      const vec gain = splat(cache.gains[c]);
      float* const owed = cache.owed[c] + k;
      float* const mean = cache.means[c] + k;
      for (int u = 0; u < U; ++u) {
        store(owed + u * kLanes, load(owed + u * kLanes) + grad[u]);
        store(mean + u * kLanes, load(mean + u * kLanes) + gain * grad[u]);
      }
    }
  }
};

// CBOW over a run of NC consecutive centers that share their negatives (the
// HogBatch idea applied to CBOW): h_i, the mean of center i's context rows,
// predicts targets[i] (its own word) against every shared negative
// targets[NC..]. All scores come from the old rows, then
// w_out[t] += sum_i g[t,i] h_i, and the gradient of h_i is added, undivided
// as in word2vec, to each of center i's context rows. One center is exactly
// word2vec's CBOW (cbow_mean=1). NC is a template argument so that the
// per-center accumulators stay in registers. `inputs` is the context side
// (RowInputs, or CachedInputs for the window cache).
template <int NC, class Inputs>
double cbow_run(const Inputs& inputs, const int* context_ends, float* const* out_rows, int n_targets, int64_t dim,
                float lr, float* scratch) {
  const int n_negatives = n_targets - NC;
  float* h_rows[NC];
  for (int i = 0; i < NC; ++i) h_rows[i] = scratch + i * dim;
  // g: the positives' scores (one per center), then n_negatives x NC, padded to whole blocks
  float* g = scratch + NC * dim;

  for (int i = 0, begin = 0; i < NC; begin = context_ends[i++]) {
    inputs.compose(h_rows[i], begin, context_ends[i]);
    score_rows<1>(g + i, h_rows + i, 1, out_rows + i, dim);
  }
  for (int t = 0; t < n_negatives; t += kGroup)
    score_group<kGroup>(g + NC + t * NC, h_rows, NC, out_rows + NC + t, n_negatives - t, dim);
  const double loss = scores_to_gradients(g, NC * (1 + n_negatives), NC, lr);
  const float* g_negative = g + NC;  // [t * NC + i]

  // One center has a single chain of adds per block: 4 blocks at a time hide its latency.
  by_blocks<NC == 1 ? 4 : 1>(dim, [&](auto unroll, int64_t k) {
    constexpr int U = decltype(unroll)::count;
    vec grad_h[NC][U], h[NC][U];
    for (int i = 0; i < NC; ++i) {  // all old rows first: an id may be several targets
      const vec coefficient = splat(g[i]);
      for (int u = 0; u < U; ++u) {
        h[i][u] = load(h_rows[i] + k + u * kLanes);
        grad_h[i][u] = splat(0.0f) + coefficient * load(out_rows[i] + k + u * kLanes);
      }
    }
    for (int t = 0; t < n_negatives; ++t)
      for (int u = 0; u < U; ++u) {
        const vec old = load(out_rows[NC + t] + k + u * kLanes);
        for (int i = 0; i < NC; ++i) grad_h[i][u] += splat(g_negative[t * NC + i]) * old;
      }
    for (int i = 0; i < NC; ++i) {
      const vec coefficient = splat(g[i]);
      for (int u = 0; u < U; ++u)
        store(out_rows[i] + k + u * kLanes, load(out_rows[i] + k + u * kLanes) + coefficient * h[i][u]);
    }
    for (int t = 0; t < n_negatives; ++t)
      for (int u = 0; u < U; ++u) {
        vec row = load(out_rows[NC + t] + k + u * kLanes);
        for (int i = 0; i < NC; ++i) row += splat(g_negative[t * NC + i]) * h[i][u];
        store(out_rows[NC + t] + k + u * kLanes, row);
      }
    for (int i = 0, begin = 0; i < NC; begin = context_ends[i++])
      inputs.template add<U>(k, begin, context_ends[i], grad_h[i]);
  });
  return loss;
}

template <int NC, class Inputs>
double cbow_dispatch(const Inputs& inputs, const int* context_ends, int n_centers, float* const* out_rows,
                     int n_targets, int64_t dim, float lr, float* scratch) {
  if constexpr (NC > 1) {
    if (n_centers < NC)
      return cbow_dispatch<NC - 1>(inputs, context_ends, n_centers, out_rows, n_targets, dim, lr, scratch);
  }
  return cbow_run<NC>(inputs, context_ends, out_rows, n_targets, dim, lr, scratch);
}

double cbow_step(float* const* in_rows, const int* context_ends, int n_centers, float* const* out_rows,
                 int n_targets, int64_t dim, float lr, float* scratch) {
  return cbow_dispatch<kMaxCbowShare>(RowInputs{in_rows, dim}, context_ends, n_centers, out_rows, n_targets, dim,
                                      lr, scratch);
}

// ops.h's CbowCachedFn.
double cbow_cached(const CbowCache& cache, const int* context_ends, int n_centers, float* const* out_rows,
                   int n_targets, int64_t dim, float lr, float* scratch) {
  return cbow_dispatch<kMaxCbowShare>(CachedInputs{cache, dim}, context_ends, n_centers, out_rows, n_targets, dim,
                                      lr, scratch);
}

// h predicts `targets`, the first n_positive with label 1, the others counting
// `negative_weight` times: scores from the old rows, then w_out[t] += g_t h, and
// the gradient of h, sum_t g_t w_out[t] (old rows), written to `grad`. Every old
// target block is read before any is written (a negative may be drawn twice).
// `g` holds one score per target, padded to whole blocks. Returns the loss.
inline double predict_targets(float* h, float* const* targets, int n_targets, int n_positive,
                              float negative_weight, int64_t dim, float lr, float* g, float* grad) {
  for (int t = 0; t < n_targets; t += kGroup)
    score_group<kGroup>(g + t, &h, 1, targets + t, n_targets - t, dim);
  const double loss = scores_to_gradients(g, n_targets, n_positive, lr, negative_weight);
  by_blocks<2>(dim, [&](auto unroll, int64_t k) {
    constexpr int U = decltype(unroll)::count;
    vec hk[U], sum[U];
    for (int u = 0; u < U; ++u) hk[u] = load(h + k + u * kLanes), sum[u] = splat(0.0f);
    for (int t = 0; t < n_targets; ++t) {
      const vec coefficient = splat(g[t]);
      for (int u = 0; u < U; ++u) sum[u] += coefficient * load(targets[t] + k + u * kLanes);
    }
    for (int t = 0; t < n_targets; ++t) {
      const vec coefficient = splat(g[t]);
      for (int u = 0; u < U; ++u)
        store(targets[t] + k + u * kLanes, load(targets[t] + k + u * kLanes) + coefficient * hk[u]);
    }
    for (int u = 0; u < U; ++u) store(grad + k + u * kLanes, sum[u]);
  });
  return loss;
}

// rows[r] += v for each listed row: a repeated row gets it twice, as in fastText.
inline void add_to_rows(float* const* rows, int n, const float* v, int64_t dim) {
  by_blocks<4>(dim, [&](auto unroll, int64_t k) {
    constexpr int U = decltype(unroll)::count;
    vec add[U];
    for (int u = 0; u < U; ++u) add[u] = load(v + k + u * kLanes);
    for (int r = 0; r < n; ++r)
      for (int u = 0; u < U; ++u) store(rows[r] + k + u * kLanes, load(rows[r] + k + u * kLanes) + add[u]);
  });
}

// ops.h's SubwordFn. The center's rows and the targets lie in different
// matrices, so only repeated targets need care (predict_targets).
double subword_step(float* const* in_rows, int n_in, float* const* out_rows, int n_targets, int n_positive,
                    float negative_weight, int64_t dim, float lr, float* scratch) {
  float* const h = scratch;
  float* const grad = scratch + dim;
  mean_rows(h, in_rows, n_in, dim);
  const double loss = predict_targets(h, out_rows, n_targets, n_positive, negative_weight, dim, lr,
                                      scratch + 2 * dim, grad);
  add_to_rows(in_rows, n_in, grad, dim);
  return loss;
}

// Asks for the cache lines of rows[begin, end), to be written. A context's
// targets (its word and a fresh draw of negatives) are often cache misses, and
// each context waited for them: fetched one context ahead, 1.2x the words per
// CPU second (results/subwords-sg-speed-ab.md). Fetching the next center's
// n-gram rows as well was slower at once and no faster spread over the contexts.
inline void prefetch_rows(float* const* rows, int begin, int end, int64_t dim) {
  for (int r = begin; r < end; ++r)
    for (int64_t k = 0; k < dim; k += 64 / sizeof(float)) __builtin_prefetch(rows[r] + k, 1, 3);
}

// ops.h's SubwordPairsFn.
double subword_pairs(float* const* in_rows, int n_in, float h_gain, float* const* out_rows, const int* target_ends,
                     int n_contexts, int64_t dim, float lr, float* scratch) {
  float* const h = scratch;
  float* const grad = scratch + dim;
  float* const grad_sum = scratch + 2 * dim;
  prefetch_rows(out_rows, 0, target_ends[0], dim);  // they arrive while h is composed
  mean_rows(h, in_rows, n_in, dim);
  std::memset(grad_sum, 0, dim * sizeof(float));
  const vec gain = splat(h_gain);
  double loss = 0.0;
  for (int c = 0, begin = 0; c < n_contexts; begin = target_ends[c++]) {
    if (c + 1 < n_contexts) prefetch_rows(out_rows, target_ends[c], target_ends[c + 1], dim);  // the next context's
    loss += predict_targets(h, out_rows + begin, target_ends[c] - begin, 1, 1.0f, dim, lr, scratch + 3 * dim,
                            grad);
    by_blocks<4>(dim, [&](auto unroll, int64_t k) {
      constexpr int U = decltype(unroll)::count;
      for (int u = 0; u < U; ++u) {
        const vec step = load(grad + k + u * kLanes);
        store(grad_sum + k + u * kLanes, load(grad_sum + k + u * kLanes) + step);
        store(h + k + u * kLanes, load(h + k + u * kLanes) + gain * step);
      }
    });
  }
  add_to_rows(in_rows, n_in, grad_sum, dim);
  return loss;
}

}  // namespace
}  // namespace mtl::cpu

// Defines the accessor for one level, e.g. MTL_DEFINE_OPS(avx2).
#define MTL_DEFINE_OPS(LEVEL)                                   \
  const ::mtl::cpu::Ops& ::mtl::cpu::ops_##LEVEL() {            \
    static const Ops table{#LEVEL, &skipgram_step, &cbow_step, &subword_step, &subword_pairs, \
                                 &cbow_cached, &mean_rows, &add_to_rows};            \
    return table;                                               \
  }
