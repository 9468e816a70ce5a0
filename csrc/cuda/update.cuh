// One center word's arithmetic on a warp (the HogBatch step): scores to
// gradients, then the updates of the staged target rows and the cached
// context rows, for skip-gram and CBOW.
#pragma once

#include <cstdint>

#include "../sampling.h"
#include "job.cuh"
#include "warp.cuh"

namespace mtl::cuda {
namespace {

// Which slot holds context c of the current center: contexts are the
// positions lo..hi without the center; `before` of them precede it.
struct Window {
  int base;    // slot of position lo
  int before;  // contexts before the center
  int slots;
  __device__ __forceinline__ int slot(int c) const {
    const int s = base + c + (c >= before ? 1 : 0);
    return s >= slots ? s - slots : s;
  }
};

// g[j] = lr * (label - sigmoid(score_j)) for every pair j (context j / n_tgt,
// target j % n_tgt; CBOW: the mean row h against target j), from the rows as
// they are before this center's updates; label 1 for the first n_positive
// targets (the center; subword skip-gram: the contexts), the others' gradient
// and loss counting negative_weight times.
// A round scores P pairs (P = 32, or the power of two covering what is left)
// with 32/P lanes per pair, each summing a strided share of the columns; the
// workspace pitch is odd, so lanes reading different rows hit different banks.
template <bool kCbow>
__device__ __forceinline__ void scores_to_gradients(const Ws& ws, const Window& win, const Layout& L, int n_tgt,
                                                    int n_pairs, float lr, int lane, double& loss,
                                                    int n_positive = 1, float negative_weight = 1.0f) {
  for (int j0 = 0; j0 < n_pairs;) {
    int pairs = 1;
    while (pairs < n_pairs - j0 && pairs < kWarpSize) pairs *= 2;
    const int lanes_per_pair = kWarpSize / pairs;
    const int j = j0 + (lane & (pairs - 1));
    const bool valid = j < n_pairs;
    float score = 0.0f;
    if (valid) {
      const int c = j / n_tgt, t = j - c * n_tgt;
      const float4* a = kCbow ? ws.h : ws.val + win.slot(c) * L.pitch;
      const float4* b = ws.trow + t * L.pitch;
#pragma unroll 4
      for (int gi = lane / pairs; gi < L.groups; gi += lanes_per_pair) score += dot4(a[gi], b[gi]);
    }
    for (int off = pairs; off < kWarpSize; off *= 2) score += __shfl_xor_sync(kFullMask, score, off);
    if (lane < pairs && valid) {
      const float label = j % n_tgt < n_positive ? 1.0f : 0.0f, weight = label > 0.5f ? 1.0f : negative_weight;
      loss += weight * pair_loss(score, label);  // x * 1.0f is x: unchanged without subwords
      ws.g[j] = weight * (lr * (label - clipped_sigmoid(score)));
    }
    j0 += pairs;
  }
  __syncwarp();
}

// HogBatch skip-gram: w_out[t] += sum_c g[c,t] * in_c (old rows) is applied
// first; then the cached context rows get in_c += sum_t g[c,t] * out_t, with
// out_t the staged old target rows.
__device__ __forceinline__ void skipgram_update(const Ws& ws, const Window& win, const Layout& L, float4* w_out,
                                                int n_ctx, int n_tgt, int lane) {
  for (int gi = lane; gi < L.groups; gi += kWarpSize) {
    for (int t = 0; t < n_tgt; ++t) {
      float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      for (int c = 0; c < n_ctx; ++c) axpy(acc, ws.g[c * n_tgt + t], ws.val[win.slot(c) * L.pitch + gi]);
      red_add(w_out + static_cast<int64_t>(ws.tgt[t]) * L.groups + gi, acc);
    }
    for (int c = 0; c < n_ctx; ++c) {
      float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      const float* gc = ws.g + c * n_tgt;
      for (int t = 0; t < n_tgt; ++t) axpy(acc, gc[t], ws.trow[t * L.pitch + gi]);
      float4& row = ws.val[win.slot(c) * L.pitch + gi];
      row = make_float4(row.x + acc.x, row.y + acc.y, row.z + acc.z, row.w + acc.w);
    }
  }
}

// Column group gi of the update of one input vector h (ws.h) against the
// staged targets: w_out[t] += g_t h; returns the gradient of h, sum_t g_t out_t.
__device__ __forceinline__ float4 update_targets(const Ws& ws, const Layout& L, float4* w_out, int n_tgt, int gi) {
  const float4 h = ws.h[gi];
  float4 grad_h = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  for (int t = 0; t < n_tgt; ++t) {
    const float gt = ws.g[t];
    axpy(grad_h, gt, ws.trow[t * L.pitch + gi]);
    red_add(w_out + static_cast<int64_t>(ws.tgt[t]) * L.groups + gi,
            make_float4(gt * h.x, gt * h.y, gt * h.z, gt * h.w));
  }
  return grad_h;
}

// word2vec CBOW (cbow_mean=1): h = mean of the context rows predicts the
// targets; the gradient of h is added, undivided, to every context row.
__device__ __forceinline__ void cbow_update(const Ws& ws, const Window& win, const Layout& L, float4* w_out, int n_ctx,
                                            int n_tgt, int lane) {
  for (int gi = lane; gi < L.groups; gi += kWarpSize) {
    const float4 grad_h = update_targets(ws, L, w_out, n_tgt, gi);
    for (int c = 0; c < n_ctx; ++c) {
      float4& row = ws.val[win.slot(c) * L.pitch + gi];
      row = make_float4(row.x + grad_h.x, row.y + grad_h.y, row.z + grad_h.z, row.w + grad_h.w);
    }
  }
}

// One center word's update: contexts are the cached rows of `win`, targets
// the staged rows ws.trow with ids ws.tgt (target 0 = the positive).
template <Model M>
__device__ __forceinline__ void center_update(const Ws& ws, const Window& win, const Layout& L, float4* w_out,
                                              int n_ctx, int n_tgt, float lr, int lane, double& loss) {
  if constexpr (M == Model::Cbow) {
    const float inv = 1.0f / static_cast<float>(n_ctx);
    for (int gi = lane; gi < L.groups; gi += kWarpSize) {
      float4 sum = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      for (int c = 0; c < n_ctx; ++c) axpy(sum, 1.0f, ws.val[win.slot(c) * L.pitch + gi]);
      ws.h[gi] = make_float4(sum.x * inv, sum.y * inv, sum.z * inv, sum.w * inv);
    }
    __syncwarp();  // lanes read other lanes' columns of h while scoring
    scores_to_gradients<true>(ws, win, L, n_tgt, n_tgt, lr, lane, loss);
    cbow_update(ws, win, L, w_out, n_ctx, n_tgt, lane);
  } else {
    scores_to_gradients<false>(ws, win, L, n_tgt, n_ctx * n_tgt, lr, lane, loss);
    skipgram_update(ws, win, L, w_out, n_ctx, n_tgt, lane);
  }
}

}  // namespace
}  // namespace mtl::cuda
