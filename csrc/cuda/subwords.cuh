// Subwords (kSubwords): a word's input vector is the mean of its rows (sgns.h's
// Subwords), many and scattered over the buckets, so they are not cached:
// each center reads its input rows from global memory (L2) into the mean h
// and adds its gradient back with atomics. Skip-gram turns around as on the
// CPU: the center's mean predicts its contexts' words (target rows staged in
// trow) and the negatives, one draw per center.
#pragma once

#include <cstdint>

#include "../sgns.h"
#include "draws.cuh"
#include "job.cuh"
#include "update.cuh"
#include "warp.cuh"

namespace mtl::cuda {
namespace {

// Calls row(i) for every input row of a center with subwords: the rows of
// the words context(0..n_words-1).
template <class Context, class Row>
__device__ __forceinline__ void for_input_rows(const Subwords& table, int n_words, Context&& context, Row&& row) {
  for (int c = 0; c < n_words; ++c) {
    const int32_t word = context(c);
    const int64_t end = __ldg(table.offsets + word + 1);
    for (int64_t r = __ldg(table.offsets + word); r < end; ++r) row(__ldg(table.rows + r));
  }
}

// One center with subwords (cpu/train.cc's train_subword_step): the contexts
// are the kept words context(0..n_ctx-1). CBOW: h, the mean of all rows of all
// contexts, predicts the center and the negatives. Skip-gram: h, the mean of
// the center's rows, predicts the contexts' words and the negatives (each
// counting once per context). Then w_out[t] += g_t h and the gradient of h
// goes, undivided and by atomics, to every input row.
template <Model M, bool kShared, class Context>
__device__ __forceinline__ void train_subword_center(const DeviceJob& job, const Ws& ws, Centers& run, int n_ctx,
                                                     Context&& context, int32_t center, int lane) {
  if (n_ctx == 0) return;
  const Layout& L = job.layout;
  constexpr bool kSkipGram = M == Model::SkipGram;
  __syncwarp();  // the previous center's readers of tgt and g are done
  if (lane == 0 && !kSkipGram) ws.tgt[0] = center;
  for (int c = lane; kSkipGram && c < n_ctx; c += kWarpSize) ws.tgt[c] = context(c);
  __syncwarp();
  const int n_positive = kSkipGram ? n_ctx : 1;
  const bool fresh = kSkipGram || run.trained++ % job.share == 0;
  const int n_tgt = stage_after_positives<kShared>(ws, L, run.w_out, run.noise, job.negative, n_positive, fresh,
                                                   !kSkipGram && job.share > 1, run.rng, lane);
  const auto input_word = [&](int c) { return kSkipGram ? center : context(c); };
  const int n_words = kSkipGram ? 1 : n_ctx;
  for (int gi = lane; gi < L.groups; gi += kWarpSize) {  // h, as cpu::mean_rows: a sum, then times 1/n
    float4 sum = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    int n = 0;
    for_input_rows(job.subwords, n_words, input_word, [&](int32_t row) {
      axpy(sum, 1.0f, __ldcg(job.w_in + static_cast<int64_t>(row) * L.groups + gi));
      ++n;
    });
    const float inv = 1.0f / static_cast<float>(n);
    ws.h[gi] = make_float4(sum.x * inv, sum.y * inv, sum.z * inv, sum.w * inv);
  }
  finish_rows<kShared>();
  __syncwarp();  // h and the staged rows are visible to every lane
  scores_to_gradients<true>(ws, Window{0, 0, 1}, L, n_tgt, n_tgt, run.lr, lane, run.loss, n_positive,
                            kSkipGram ? static_cast<float>(n_ctx) : 1.0f);
  for (int gi = lane; gi < L.groups; gi += kWarpSize) {
    const float4 grad_h = update_targets(ws, L, run.w_out, n_tgt, gi);
    for_input_rows(job.subwords, n_words, input_word,
                   [&](int32_t row) { red_add(job.w_in + static_cast<int64_t>(row) * L.groups + gi, grad_h); });
  }
  run.pairs += kSkipGram ? static_cast<unsigned long long>(n_ctx) * (1 + n_tgt - n_ctx) : n_tgt;
}

}  // namespace
}  // namespace mtl::cuda
