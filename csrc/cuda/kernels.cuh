// Device code of the CUDA backend. One warp trains one *piece* (up to
// kPieceTokens consecutive tokens of a chunk) at a time, center word after
// center word, like one CPU thread; thousands of warps run Hogwild.
//
// Rows live in a per-warp workspace (shared memory, or global memory when a
// configuration does not fit on chip):
//   val/orig  the w_in rows of the kept positions [i-window, i+window] around
//             center i (a ring of 2*window+1 slots): loaded once when a
//             position enters the window, updated in place by every center
//             that uses it, and flushed as an atomic delta (val - orig) when it
//             leaves, so repeated words and other warps' updates are not lost;
//   trow      the current center's target rows of w_out (center + negatives);
//   h         the CBOW mean of the context rows;
//   g         the gradient block, one float per (context, target) pair;
//   ring      kept (subsampled) token ids of the current sentence segment (of
//             a parallel pair: the side that gives the contexts);
//   centers   a parallel pair: kept ids of the side that gives the centers;
//   neg       the last draw of negatives, shared by `share` centers (CBOW);
//   tgt       the current target ids.
// A parallel task's pair of sentences is subsampled three times from the same
// seeds (to count each side's kept words for the alignment, then once per
// direction), so each side is read ahead only as far as its window needs.
// Updates are column-parallel (lane l owns the float4 columns l, l+32, ...);
// scores are pair-parallel (a lane, or a few, per (context, target) pair), so
// the sigmoid and loss of 32 pairs cost one warp instruction each. w_out rows
// are read fresh (L2) and updated with float4 atomics, so repeated negatives
// add up as on the CPU. Subwords (kSubwords) bypass the row cache: see
// subwords.cuh.
//
// This file has the training loops and the kernels; the rest is in job.cuh
// (constants, workspace layout, job and launch parameters, host planning),
// warp.cuh (warp primitives, row copies), update.cuh (one center's scores and
// updates), draws.cuh (kept ids, negatives) and subwords.cuh.
//
// Without a GPU, tests/test_cuda_emulator.py (pytest -m slow) runs this code
// on CPU threads against the CPU kernel; tests/test_gpu.py is the GPU check.
#pragma once

#include <cstdint>

#include "../sampling.h"
#include "../sgns.h"
#include "draws.cuh"
#include "job.cuh"
#include "subwords.cuh"
#include "update.cuh"
#include "warp.cuh"

namespace mtl::cuda {
namespace {

// Trains one center once its window's rows are on their way: the rows of
// kept positions [entering, loaded) have just started loading into the cache.
template <Model M, bool kShared>
__device__ __forceinline__ void train_center(const DeviceJob& job, const Ws& ws, Centers& run, const Window& win,
                                             int n_ctx, int32_t center, int entering, int loaded, int lane) {
  const Layout& L = job.layout;
  int n_tgt = 0;
  if (n_ctx > 0) {
    const bool fresh = M == Model::SkipGram || run.trained++ % job.share == 0;
    n_tgt = stage_targets<kShared>(ws, L, run.w_out, run.noise, job.negative, center, fresh,
                                   M == Model::Cbow && job.share > 1, run.rng, lane);
  }
  finish_rows<kShared>();
  for (int p = entering; p < loaded; ++p) keep_original(ws, L, p % L.slots, lane);
  __syncwarp();  // the staged rows are visible to every lane
  if (n_ctx == 0) return;
  center_update<M>(ws, win, L, run.w_out, n_ctx, n_tgt, run.lr, lane, run.loss);
  run.pairs += M == Model::SkipGram ? static_cast<unsigned long long>(n_ctx * n_tgt) : n_tgt;
}

// Adds the cached rows of kept positions [from, to) back to w_in.
__device__ __forceinline__ void flush_positions(const DeviceJob& job, const Ws& ws, const KeptIds& ids, int from,
                                                int to, int lane) {
  for (int p = from; p < to; ++p)
    flush_slot(ws, job.layout, p % job.layout.slots, job.w_in + static_cast<int64_t>(ids.at(p)) * job.layout.groups,
               lane);
}

// Starts loading the rows of kept positions [from, to) into the cache.
template <bool kShared>
__device__ __forceinline__ void load_positions(const DeviceJob& job, const Ws& ws, const KeptIds& ids, int from,
                                               int to, int lane) {
  const Layout& L = job.layout;
  for (int p = from; p < to; ++p)
    start_row<kShared>(ws.val + (p % L.slots) * L.pitch, job.w_in + static_cast<int64_t>(ids.at(p)) * L.groups,
                       L.groups, lane);
}

// The reduced window of a center: 1..window, drawn by lane 0.
__device__ __forceinline__ int draw_reach(int window, Rng& rng, int lane) {
  int reach = 0;
  if (lane == 0) reach = window - static_cast<int>(rng.below(static_cast<uint32_t>(window)));
  return __shfl_sync(kFullMask, reach, 0);
}

// Trains the sentence segment tokens[begin, end): subsampling into the ring,
// then every kept center with its reduced window.
template <Model M, bool kShared, bool kSubwords>
__device__ __forceinline__ void train_segment(const DeviceJob& job, const Ws& ws, const Task& task, Centers& run,
                                              int64_t begin, int64_t end, int lane) {
  const int window = job.window;
  KeptIds ids{task.tokens, begin, end, ws.ring, job.layout.ring - 1};
  int lo_loaded = 0, hi_loaded = 0;  // kept positions cached in slots (p % slots)
  __syncwarp();                      // the previous segment's readers of the ring are done
  for (int i = 0;; ++i) {
    if constexpr (kSubwords) {
      refill(ids, task, job.keep_prob, i + window, run.rng, lane);
      if (i >= ids.kept) break;
      const int reach = draw_reach(window, run.rng, lane);
      const int lo = max(0, i - reach), hi = min(ids.kept - 1, i + reach);
      train_subword_center<M, kShared>(job, ws, run, hi - lo, [&](int c) { return ids.at(lo + c + (c >= i - lo)); },
                                       ids.at(i), lane);
      continue;
    }
    flush_positions(job, ws, ids, lo_loaded, i - window, lane);
    lo_loaded = max(lo_loaded, i - window);
    refill(ids, task, job.keep_prob, i + window, run.rng, lane);
    if (i >= ids.kept) break;
    const int entering = hi_loaded;
    hi_loaded = max(hi_loaded, min(i + window + 1, ids.kept));
    load_positions<kShared>(job, ws, ids, entering, hi_loaded, lane);
    const int reach = draw_reach(window, run.rng, lane);
    const int lo = max(0, i - reach), hi = min(ids.kept - 1, i + reach);
    // The positions lo..hi without the center.
    train_center<M, kShared>(job, ws, run, Window{lo % job.layout.slots, i - lo, job.layout.slots}, hi - lo,
                             ids.at(i), entering, hi_loaded, lane);
  }
  if constexpr (!kSubwords) flush_positions(job, ws, ids, lo_loaded, hi_loaded, lane);
}

// One direction of a parallel pair (cpu::train's train_across): kept word i
// of `from` (n kept) is the target predicted by the kept words of `to` (m
// kept) around position (2i+1)m / 2n, its own included. The cache slides over
// `to` as i grows.
template <Model M, bool kShared, bool kSubwords>
__device__ __forceinline__ void train_across(const DeviceJob& job, const Ws& ws, const Task& task, Centers& run,
                                             KeptIds from, Rng from_rng, KeptIds to, Rng to_rng, int n, int m,
                                             int lane) {
  const int window = job.window;
  int lo_loaded = 0, hi_loaded = 0;  // kept positions of `to` cached in slots (p % slots)
  __syncwarp();                      // the previous readers of the rings are done
  for (int i = 0; i < n; ++i) {
    const int aligned = static_cast<int>((static_cast<int64_t>(2 * i + 1) * m) / (2 * n));
    if constexpr (kSubwords) {
      refill(to, task, job.keep_prob, min(aligned + window, m - 1), to_rng, lane);
      refill(from, task, job.keep_prob, i, from_rng, lane);
      const int reach = draw_reach(window, run.rng, lane);
      const int lo = max(0, aligned - reach), hi = min(m - 1, aligned + reach);
      train_subword_center<M, kShared>(job, ws, run, hi - lo + 1, [&](int c) { return to.at(lo + c); }, from.at(i),
                                       lane);
      continue;
    }
    const int first = max(0, aligned - window);  // never needed again below this
    flush_positions(job, ws, to, lo_loaded, min(first, hi_loaded), lane);
    lo_loaded = max(lo_loaded, first);
    hi_loaded = max(hi_loaded, first);
    refill(to, task, job.keep_prob, min(aligned + window, m - 1), to_rng, lane);
    refill(from, task, job.keep_prob, i, from_rng, lane);
    const int entering = hi_loaded;
    hi_loaded = max(hi_loaded, min(aligned + window + 1, m));
    load_positions<kShared>(job, ws, to, entering, hi_loaded, lane);
    const int reach = draw_reach(window, run.rng, lane);
    const int lo = max(0, aligned - reach), hi = min(m - 1, aligned + reach);
    train_center<M, kShared>(job, ws, run, Window{lo % job.layout.slots, hi - lo + 1, job.layout.slots}, hi - lo + 1,
                             from.at(i), entering, hi_loaded, lane);
  }
  if constexpr (!kSubwords) flush_positions(job, ws, to, lo_loaded, hi_loaded, lane);
}

// Sentence s of a parallel task, both ways. Each side is subsampled from its
// own seed (per chunk, sentence, side and lane), so that counting its kept
// words and both directions draw the same ones. Negatives come from the
// language of what is predicted: the centers', or with subword skip-gram the
// contexts' (as on the CPU).
template <Model M, bool kShared, bool kSubwords>
__device__ __forceinline__ void train_pair(const DeviceJob& job, const Ws& ws, const Task& task, const DevChunk& chunk,
                                           int64_t s, float lr, Rng& rng, int lane, double& loss,
                                           unsigned long long& pairs) {
  const int64_t a0 = task.sentence_offsets[s], a1 = task.sentence_offsets[s + 1];
  const int64_t b0 = task.second_offsets[s], b1 = task.second_offsets[s + 1];
  const uint64_t stream = splitmix64(~chunk.id ^ (static_cast<uint64_t>(s) << 1)) + static_cast<uint64_t>(lane);
  const Rng a_rng(job.seed, stream), b_rng(job.seed, stream ^ (uint64_t(1) << 63));
  const int n = count_kept(task, job.keep_prob, task.tokens, a0, a1, a_rng, lane);
  const int m = count_kept(task, job.keep_prob, task.second_tokens, b0, b1, b_rng, lane);
  if (n == 0 || m == 0) return;
  const int center_mask = job.layout.center_ring - 1, ring_mask = job.layout.ring - 1;
  float4* w_out = job.w_out[task.head];
  constexpr bool kContextsPredicted = kSubwords && M == Model::SkipGram;
  const NoiseTable &first = job.noise[task.noise], &second = job.noise[task.second_noise];
  Centers forth{kContextsPredicted ? second : first, w_out, lr, rng, loss, pairs};
  train_across<M, kShared, kSubwords>(job, ws, task, forth, KeptIds{task.tokens, a0, a1, ws.centers, center_mask},
                                      a_rng, KeptIds{task.second_tokens, b0, b1, ws.ring, ring_mask}, b_rng, n, m,
                                      lane);
  Centers back{kContextsPredicted ? first : second, w_out, lr, rng, loss, pairs};
  train_across<M, kShared, kSubwords>(job, ws, task, back,
                                      KeptIds{task.second_tokens, b0, b1, ws.centers, center_mask}, b_rng,
                                      KeptIds{task.tokens, a0, a1, ws.ring, ring_mask}, a_rng, m, n, lane);
}

// Piece p of the launch: finds its chunk and first sentence, then trains the
// sentence segments it covers at the chunk's learning rate (a parallel task:
// the pairs whose first side starts in it, whole). kParallel: the job has
// parallel tasks (only then is their code compiled in: it costs registers).
// kSubwords: the job has a subword table. Returns the chunk.
template <Model M, bool kShared, bool kParallel, bool kSubwords>
__device__ __forceinline__ int64_t train_piece(const DeviceJob& job, const Ws& ws, const Launch& launch, int64_t piece,
                                               int lane, double& loss, unsigned long long& pairs) {
  const int64_t ci = last_le(job.piece_first, launch.chunk_begin, launch.chunk_end, piece, lane);
  const DevChunk chunk = job.chunks[ci];
  const Task task = job.tasks[chunk.task];
  const int64_t k = piece - job.piece_first[ci];
  const int64_t begin = chunk.token_first + k * kPieceTokens;
  const int64_t end = min(begin + kPieceTokens, chunk.token_end);
  // One stream per (chunk, piece, lane): lanes draw independently.
  Rng rng(job.seed, splitmix64(chunk.id) + static_cast<uint64_t>(k) * kWarpSize + static_cast<uint64_t>(lane));
  const int64_t* offsets = task.sentence_offsets;
  int64_t s = last_le(offsets, chunk.sentence_begin, chunk.sentence_end, begin, lane);
  if (kParallel && task.second_tokens != nullptr) {  // a parallel task (Task::parallel() is host code)
    // The run's timeline counts both sides, as cpu::train does.
    const int64_t* second = task.second_offsets;
    const int64_t second_first = second[chunk.sentence_begin];
    const int64_t span = chunk.token_end - chunk.token_first + second[chunk.sentence_end] - second_first;
    for (s += offsets[s] < begin ? 1 : 0; s < chunk.sentence_end && offsets[s] < end; ++s) {
      const float lr = learning_rate(job.alpha, job.min_alpha, task.weight,
                                     chunk_progress(chunk, offsets[s] - chunk.token_first + second[s] - second_first,
                                                    span));
      train_pair<M, kShared, kSubwords>(job, ws, task, chunk, s, lr, rng, lane, loss, pairs);
    }
    return ci;
  }
  const NoiseTable noise = job.noise[task.noise];
  float4* w_out = job.w_out[task.head];
  const int64_t span = chunk.token_end - chunk.token_first;
  for (; s < chunk.sentence_end; ++s) {
    const int64_t first = max(offsets[s], begin), last = min(offsets[s + 1], end);
    if (first >= end) break;
    if (last <= first) continue;
    // The segment's place in the chunk places it on the run's timeline.
    const float lr = learning_rate(job.alpha, job.min_alpha, task.weight,
                                   chunk_progress(chunk, first - chunk.token_first, span));
    Centers run{noise, w_out, lr, rng, loss, pairs};
    train_segment<M, kShared, kSubwords>(job, ws, task, run, first, last, lane);
  }
  return ci;
}

// Persistent warps take pieces from the launch's queue in schedule order.
// __grid_constant__: the device functions read the parameters in place.
template <Model M, bool kShared, bool kParallel, bool kSubwords>
__global__ void __launch_bounds__(kMaxBlockThreads, kMinBlocks)
    train_kernel(const __grid_constant__ DeviceJob job, const __grid_constant__ Launch launch) {
  extern __shared__ float4 shared_ws[];
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  float* base;
  if constexpr (kShared) {
    base = reinterpret_cast<float*>(shared_ws) + static_cast<size_t>(warp) * job.layout.words;
  } else {
    const size_t global_warp = static_cast<size_t>(blockIdx.x) * (blockDim.x / kWarpSize) + warp;
    base = launch.global_ws + global_warp * job.layout.words;
  }
  const Ws ws = carve(base, job.layout);
  double loss = 0.0;  // the warp's, summed over its pieces
  unsigned long long pairs = 0;
  for (;;) {
    unsigned long long taken = 0;
    if (lane == 0) taken = atomicAdd(&launch.counters->next_piece, 1ull);
    taken = __shfl_sync(kFullMask, taken, 0);
    const int64_t piece = launch.piece_begin + static_cast<int64_t>(taken);
    if (piece >= launch.piece_end) break;
    double piece_loss = 0.0;
    unsigned long long piece_pairs = 0;
    const int64_t ci =
        train_piece<M, kShared, kParallel, kSubwords>(job, ws, launch, piece, lane, piece_loss, piece_pairs);
    piece_loss = warp_sum(piece_loss);
    if (lane == 0) {  // per chunk too: progress reports each task's loss
      atomicAdd(&job.chunk_stats[2 * ci], piece_loss);
      atomicAdd(&job.chunk_stats[2 * ci + 1], static_cast<double>(piece_pairs));
    }
    loss += piece_loss;
    pairs += piece_pairs;
  }
  if (lane == 0) {
    atomicAdd(&launch.counters->loss, loss);
    atomicAdd(&launch.counters->pairs, pairs);
  }
}

// One center word's update (tests), through the same staging and update code
// as training: contexts are slots 0..n_ctx-1, flushed back at the end. One warp.
template <Model M, bool kShared>
__global__ void step_kernel(float4* w_in, float4* w_out, const int32_t* contexts, int n_ctx, const int32_t* targets,
                            int n_tgt, float lr, const Layout layout, float* workspace, double* loss_out) {
  extern __shared__ float4 shared_ws[];
  const int lane = static_cast<int>(threadIdx.x);
  const Ws ws = carve(kShared ? reinterpret_cast<float*>(shared_ws) : workspace, layout);
  const int groups = layout.groups;
  for (int c = 0; c < n_ctx; ++c)
    start_row<kShared>(ws.val + c * layout.pitch, w_in + static_cast<int64_t>(contexts[c]) * groups, groups, lane);
  for (int t = lane; t < n_tgt; t += kWarpSize) ws.tgt[t] = targets[t];
  __syncwarp();
  start_targets<kShared>(ws, layout, w_out, n_tgt, lane);
  finish_rows<kShared>();
  for (int c = 0; c < n_ctx; ++c) keep_original(ws, layout, c, lane);
  __syncwarp();
  double loss = 0.0;
  const Window win{0, n_ctx, n_ctx};
  center_update<M>(ws, win, layout, w_out, n_ctx, n_tgt, lr, lane, loss);
  for (int c = 0; c < n_ctx; ++c) flush_slot(ws, layout, c, w_in + static_cast<int64_t>(contexts[c]) * groups, lane);
  loss = warp_sum(loss);
  if (lane == 0) *loss_out = loss;
}

}  // namespace
}  // namespace mtl::cuda
