// Device code of the CUDA backend. One warp trains one *piece* (up to
// kPieceTokens consecutive tokens of a chunk) at a time, center word after
// center word, like one CPU thread; thousands of warps run Hogwild.
//
// Data layout inside a warp: lane l owns the float4 columns l, l+32, ... of
// every row, so all row arithmetic is lane-private and only the scores need
// cross-lane sums. Rows live in a per-warp workspace (shared memory, or global
// memory when a configuration does not fit on chip):
//   val/orig  the w_in rows of the kept positions [i-window, i+window] around
//             center i (a ring of 2*window+1 slots): loaded once when a
//             position enters the window, updated in place by every center
//             that uses it, and flushed as an atomic delta (val - orig) when it
//             leaves, so repeated words and other warps' updates are not lost;
//   trow      the current center's target rows of w_out (center + negatives);
//   h         the CBOW mean of the context rows;
//   g         the gradient block, one float per (context, target) pair;
//   ring      kept (subsampled) token ids of the current sentence segment;
//   tgt       the current target ids.
// w_out rows are read fresh (L2) and updated with float4 atomics, so repeated
// negatives add up as on the CPU.
#pragma once

#include <cstdint>

#include "../sampling.h"
#include "../sgns.h"

namespace mtl::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpSize = 32;
constexpr int kMaxBlockThreads = 256;
// Unit of work of one warp. Sentences longer than this are cut (a few lost
// contexts per cut, like word2vec's 1000-word sentences); shorter ones share a
// piece. Small enough that a launch's tail (warps waiting for the last
// pieces) stays short.
constexpr int64_t kPieceTokens = 1024;

// One warp's workspace, offsets in floats; every float4 region starts at a
// multiple of 4 floats, so rows are 16-byte aligned.
struct Layout {
  int groups = 0;   // float4 per row (device row stride / 4)
  int slots = 0;    // w_in rows cached around the center (2*window+1)
  int max_ctx = 0;  // contexts per center (2*window)
  int max_tgt = 0;  // targets per center (negative+1)
  int ring = 0;     // kept-id ring size, a power of two (0: unused)
  int val = 0, orig = 0, trow = 0, h = 0, g = 0, ring_ids = 0, tgt_ids = 0;
  int words = 0;    // floats per warp
};

struct Ws {
  float4* val;
  float4* orig;
  float4* trow;
  float4* h;
  float* g;
  int32_t* ring;
  int32_t* tgt;
};

__device__ __forceinline__ Ws carve(float* base, const Layout& L) {
  return Ws{reinterpret_cast<float4*>(base + L.val), reinterpret_cast<float4*>(base + L.orig),
            reinterpret_cast<float4*>(base + L.trow), reinterpret_cast<float4*>(base + L.h), base + L.g,
            reinterpret_cast<int32_t*>(base + L.ring_ids), reinterpret_cast<int32_t*>(base + L.tgt_ids)};
}

// A chunk as the device sees it; piece_first lives in its own array so the
// warp-wide search reads contiguous values.
struct DevChunk {
  int64_t token_first = 0;  // task-relative tokens [token_first, token_end)
  int64_t token_end = 0;
  int64_t sentence_begin = 0;
  int64_t sentence_end = 0;
  double progress_begin = 0.0;
  double progress_end = 0.0;
  uint64_t id = 0;
  int32_t task = 0;
};

struct Counters {
  unsigned long long next_piece;  // work queue of one launch
  unsigned long long pairs;
  double loss;
};

struct DeviceJob {
  float4* w_in;
  float4* const* w_out;  // one per head
  const float* keep_prob;
  const NoiseTable* noise;  // device pointers inside
  const Task* tasks;        // device pointers inside
  const DevChunk* chunks;
  const int64_t* piece_first;  // n_chunks + 1 prefix of pieces
  Layout layout;
  int window;
  int negative;
  double alpha;
  double min_alpha;
  uint64_t seed;
};

struct Launch {
  int64_t chunk_begin, chunk_end;  // chunks [begin, end) of the schedule
  int64_t piece_begin, piece_end;  // their pieces
  Counters* counters;
  float* global_ws;  // per-warp workspaces when they do not fit in shared memory
};

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

__device__ __forceinline__ float dot4(float4 a, float4 b) {
  return fmaf(a.x, b.x, fmaf(a.y, b.y, fmaf(a.z, b.z, a.w * b.w)));
}
__device__ __forceinline__ void axpy(float4& y, float a, float4 x) {
  y.x = fmaf(a, x.x, y.x);
  y.y = fmaf(a, x.y, y.y);
  y.z = fmaf(a, x.z, y.z);
  y.w = fmaf(a, x.w, y.w);
}
__device__ __forceinline__ float4 sub4(float4 a, float4 b) {
  return make_float4(a.x - b.x, a.y - b.y, a.z - b.z, a.w - b.w);
}

// Hogwild update of a shared row: an atomic add, so concurrent deltas to the
// same row (repeated negatives, other warps) are all applied.
__device__ __forceinline__ void red_add(float4* p, float4 v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(p, v);  // one 128-bit reduction (sm_90+)
#else
  atomicAdd(&p->x, v.x);
  atomicAdd(&p->y, v.y);
  atomicAdd(&p->z, v.z);
  atomicAdd(&p->w, v.w);
#endif
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int off = 16; off >= 1; off /= 2) v += __shfl_xor_sync(kFullMask, v, off);
  return v;
}

// Sums N per-lane partials over the warp with N-1 + log2(32/N) shuffles
// (instead of 5 per value): each step swaps half of the values with the
// partner lane. Lane l ends with the total of value (l mod N).
template <int N>
__device__ __forceinline__ float transpose_reduce(float (&v)[N], int lane) {
#pragma unroll
  for (int half = N / 2; half >= 1; half /= 2) {
    const bool upper = (lane & half) != 0;
#pragma unroll
    for (int k = 0; k < half; ++k) {
      const float send = upper ? v[k] : v[k + half];
      const float keep = upper ? v[k + half] : v[k];
      v[k] = keep + __shfl_xor_sync(kFullMask, send, half);
    }
  }
  float total = v[0];
#pragma unroll
  for (int off = N; off < kWarpSize; off *= 2) total += __shfl_xor_sync(kFullMask, total, off);
  return total;
}

// Largest i in [lo, hi) with a[i] <= x, given a sorted and a[lo] <= x:
// a 32-way search, one probe per lane and round.
__device__ __forceinline__ int64_t last_le(const int64_t* a, int64_t lo, int64_t hi, int64_t x, int lane) {
  while (hi - lo > 1) {
    const int64_t step = (hi - lo + kWarpSize - 1) / kWarpSize;
    const int64_t i = lo + lane * step;
    const bool ok = i < hi && __ldg(a + i) <= x;
    const unsigned mask = __ballot_sync(kFullMask, ok);  // a prefix of lanes, lane 0 included
    lo += static_cast<int64_t>(31 - __clz(mask)) * step;
    hi = min(hi, lo + step);
  }
  return lo;
}

// The scores of pairs [j0, j0 + N) (pair j = context j / n_tgt, target
// j % n_tgt; CBOW: the mean row h against target j).
template <int N, bool kCbow>
__device__ __forceinline__ float batch_scores(const Ws& ws, const Window& win, int groups, int n_tgt, int j0,
                                              int n_pairs, int lane) {
  float part[N];
#pragma unroll
  for (int k = 0; k < N; ++k) part[k] = 0.0f;
  const int c0 = j0 / n_tgt;
  const int t0 = j0 - c0 * n_tgt;
  for (int gi = lane; gi < groups; gi += kWarpSize) {
    int c = c0, t = t0;
#pragma unroll
    for (int k = 0; k < N; ++k) {
      if (j0 + k < n_pairs) {
        const float4 a = kCbow ? ws.h[gi] : ws.val[win.slot(c) * groups + gi];
        part[k] += dot4(a, ws.trow[t * groups + gi]);
      }
      if (++t == n_tgt) t = 0, ++c;
    }
  }
  return transpose_reduce<N>(part, lane);
}

// g[j] = lr * (label - sigmoid(score_j)) for every pair, from the rows as
// they are before this center's updates; label 1 for target 0 (the center).
template <bool kCbow>
__device__ __forceinline__ void scores_to_gradients(const Ws& ws, const Window& win, int groups, int n_tgt,
                                                    int n_pairs, float lr, int lane, double& loss) {
  for (int j0 = 0; j0 < n_pairs; j0 += kWarpSize) {
    const int left = n_pairs - j0;
    float score;
    int width;
    if (left <= 8) {
      score = batch_scores<8, kCbow>(ws, win, groups, n_tgt, j0, n_pairs, lane);
      width = 8;
    } else if (left <= 16) {
      score = batch_scores<16, kCbow>(ws, win, groups, n_tgt, j0, n_pairs, lane);
      width = 16;
    } else {
      score = batch_scores<32, kCbow>(ws, win, groups, n_tgt, j0, n_pairs, lane);
      width = 32;
    }
    const int j = j0 + lane;
    if (lane < width && j < n_pairs) {
      const float label = j % n_tgt == 0 ? 1.0f : 0.0f;
      loss += pair_loss(score, label);
      ws.g[j] = lr * (label - clipped_sigmoid(score));
    }
  }
  __syncwarp();
}

// HogBatch skip-gram: w_out[t] += sum_c g[c,t] * in_c (old rows) is applied
// first; then the cached context rows get in_c += sum_t g[c,t] * out_t, with
// out_t the staged old target rows.
__device__ __forceinline__ void skipgram_update(const Ws& ws, const Window& win, float4* w_out, int groups,
                                                int n_ctx, int n_tgt, int lane) {
  for (int gi = lane; gi < groups; gi += kWarpSize) {
    for (int t = 0; t < n_tgt; ++t) {
      float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      for (int c = 0; c < n_ctx; ++c) axpy(acc, ws.g[c * n_tgt + t], ws.val[win.slot(c) * groups + gi]);
      red_add(w_out + static_cast<int64_t>(ws.tgt[t]) * groups + gi, acc);
    }
    for (int c = 0; c < n_ctx; ++c) {
      float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      const float* gc = ws.g + c * n_tgt;
      for (int t = 0; t < n_tgt; ++t) axpy(acc, gc[t], ws.trow[t * groups + gi]);
      float4& row = ws.val[win.slot(c) * groups + gi];
      row = make_float4(row.x + acc.x, row.y + acc.y, row.z + acc.z, row.w + acc.w);
    }
  }
}

// word2vec CBOW (cbow_mean=1): h = mean of the context rows predicts the
// targets; the gradient of h is added, undivided, to every context row.
__device__ __forceinline__ void cbow_update(const Ws& ws, const Window& win, float4* w_out, int groups, int n_ctx,
                                            int n_tgt, int lane) {
  for (int gi = lane; gi < groups; gi += kWarpSize) {
    const float4 h = ws.h[gi];
    float4 grad_h = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    for (int t = 0; t < n_tgt; ++t) {
      const float gt = ws.g[t];
      axpy(grad_h, gt, ws.trow[t * groups + gi]);
      red_add(w_out + static_cast<int64_t>(ws.tgt[t]) * groups + gi, make_float4(gt * h.x, gt * h.y, gt * h.z, gt * h.w));
    }
    for (int c = 0; c < n_ctx; ++c) {
      float4& row = ws.val[win.slot(c) * groups + gi];
      row = make_float4(row.x + grad_h.x, row.y + grad_h.y, row.z + grad_h.z, row.w + grad_h.w);
    }
  }
}

// One center word's update: contexts are the cached rows of `win`, targets
// the staged rows ws.trow with ids ws.tgt (target 0 = the positive).
template <Model M>
__device__ __forceinline__ void center_update(const Ws& ws, const Window& win, float4* w_out, int groups, int n_ctx,
                                              int n_tgt, float lr, int lane, double& loss) {
  if constexpr (M == Model::Cbow) {
    const float inv = 1.0f / static_cast<float>(n_ctx);
    for (int gi = lane; gi < groups; gi += kWarpSize) {
      float4 sum = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      for (int c = 0; c < n_ctx; ++c) axpy(sum, 1.0f, ws.val[win.slot(c) * groups + gi]);
      ws.h[gi] = make_float4(sum.x * inv, sum.y * inv, sum.z * inv, sum.w * inv);
    }
    scores_to_gradients<true>(ws, win, groups, n_tgt, n_tgt, lr, lane, loss);
    cbow_update(ws, win, w_out, groups, n_ctx, n_tgt, lane);
  } else {
    scores_to_gradients<false>(ws, win, groups, n_tgt, n_ctx * n_tgt, lr, lane, loss);
    skipgram_update(ws, win, w_out, groups, n_ctx, n_tgt, lane);
  }
}

// Loads a w_in row into a cache slot (value and the original for the delta).
__device__ __forceinline__ void load_slot(const Ws& ws, int slot, const float4* row, int groups, int lane) {
  for (int gi = lane; gi < groups; gi += kWarpSize) {
    const float4 v = __ldcg(row + gi);  // L2: other warps' atomics land there
    ws.val[slot * groups + gi] = v;
    ws.orig[slot * groups + gi] = v;
  }
}

// Adds what the cached row learnt since it was loaded back to w_in.
__device__ __forceinline__ void flush_slot(const Ws& ws, int slot, float4* row, int groups, int lane) {
  for (int gi = lane; gi < groups; gi += kWarpSize)
    red_add(row + gi, sub4(ws.val[slot * groups + gi], ws.orig[slot * groups + gi]));
}

// Stages the target rows (ids in ws.tgt), eight loads in flight per lane.
__device__ __forceinline__ void load_targets(const Ws& ws, const float4* w_out, int groups, int n_tgt, int lane) {
  for (int t0 = 0; t0 < n_tgt; t0 += 8) {
    for (int gi = lane; gi < groups; gi += kWarpSize) {
      float4 rows[8];
#pragma unroll
      for (int k = 0; k < 8; ++k)
        if (t0 + k < n_tgt) rows[k] = __ldcg(w_out + static_cast<int64_t>(ws.tgt[t0 + k]) * groups + gi);
#pragma unroll
      for (int k = 0; k < 8; ++k)
        if (t0 + k < n_tgt) ws.trow[(t0 + k) * groups + gi] = rows[k];
    }
  }
}

// Appends kept ids of the next 32 raw tokens (one per lane, in order) to the
// ring until position `need` exists or the segment is exhausted.
__device__ __forceinline__ void refill(const Ws& ws, const Layout& L, const int32_t* tokens, const float* keep_prob,
                                       int64_t end, int need, int64_t& raw, int& kept, Rng& rng, int lane) {
  const unsigned below_me = (1u << lane) - 1u;
  while (kept <= need && raw < end) {
    const int64_t at = raw + lane;
    int32_t id = 0;
    bool keep = false;
    if (at < end) {
      id = __ldg(tokens + at);
      keep = keep_token(rng, keep_prob, id);
    }
    const unsigned mask = __ballot_sync(kFullMask, keep);
    if (keep) ws.ring[(kept + __popc(mask & below_me)) & (L.ring - 1)] = id;
    kept += __popc(mask);
    raw += kWarpSize;
  }
  __syncwarp();
}

// Draws the negatives of one center (one per lane, a draw equal to the center
// is skipped, as in word2vec) and stages the target rows. Returns n_tgt.
__device__ __forceinline__ int draw_targets(const Ws& ws, const NoiseTable& noise, const float4* w_out, int groups,
                                            int negative, int32_t center, Rng& rng, int lane) {
  const unsigned below_me = (1u << lane) - 1u;
  __syncwarp();  // the previous center's readers of tgt and g are done
  int n = 1;
  for (int k0 = 0; k0 < negative; k0 += kWarpSize) {
    int32_t id = 0;
    bool ok = false;
    if (k0 + lane < negative) {
      id = draw_negative(rng, noise);
      ok = id != center;
    }
    const unsigned mask = __ballot_sync(kFullMask, ok);
    if (ok) ws.tgt[n + __popc(mask & below_me)] = id;
    n += __popc(mask);
  }
  if (lane == 0) ws.tgt[0] = center;
  __syncwarp();
  load_targets(ws, w_out, groups, n, lane);
  return n;
}

// Trains the sentence segment tokens[begin, end): subsampling into the ring,
// then every kept center with its reduced window and shared negatives.
template <Model M>
__device__ void train_segment(const DeviceJob& job, const Ws& ws, const Task& task, const NoiseTable& noise,
                              float4* w_out, int64_t begin, int64_t end, float lr, Rng& rng, int lane, double& loss,
                              unsigned long long& pairs) {
  const Layout& L = job.layout;
  const int window = job.window;
  const int S = L.slots;
  int64_t raw = begin;
  int kept = 0;
  int lo_loaded = 0, hi_loaded = 0;  // kept positions cached in slots (p % S)
  __syncwarp();                      // the previous segment's readers of the ring are done
  for (int i = 0;; ++i) {
    for (; lo_loaded < i - window; ++lo_loaded)
      flush_slot(ws, lo_loaded % S, job.w_in + static_cast<int64_t>(ws.ring[lo_loaded & (L.ring - 1)]) * L.groups,
                 L.groups, lane);
    refill(ws, L, task.tokens, job.keep_prob, end, i + window, raw, kept, rng, lane);
    if (i >= kept) break;
    for (const int want = min(i + window + 1, kept); hi_loaded < want; ++hi_loaded)
      load_slot(ws, hi_loaded % S, job.w_in + static_cast<int64_t>(ws.ring[hi_loaded & (L.ring - 1)]) * L.groups,
                L.groups, lane);

    int reach = 0;
    if (lane == 0) reach = window - static_cast<int>(rng.below(static_cast<uint32_t>(window)));  // 1..window
    reach = __shfl_sync(kFullMask, reach, 0);
    const int lo = max(0, i - reach), hi = min(kept - 1, i + reach);
    const int n_ctx = hi - lo;  // the positions lo..hi without the center
    if (n_ctx == 0) continue;
    const int32_t center = ws.ring[i & (L.ring - 1)];
    const int n_tgt = draw_targets(ws, noise, w_out, L.groups, job.negative, center, rng, lane);
    const Window win{lo % S, i - lo, S};
    center_update<M>(ws, win, w_out, L.groups, n_ctx, n_tgt, lr, lane, loss);
    pairs += M == Model::SkipGram ? static_cast<unsigned long long>(n_ctx * n_tgt) : n_tgt;
  }
  for (; lo_loaded < hi_loaded; ++lo_loaded)
    flush_slot(ws, lo_loaded % S, job.w_in + static_cast<int64_t>(ws.ring[lo_loaded & (L.ring - 1)]) * L.groups,
               L.groups, lane);
}

// Piece p of the launch: finds its chunk and first sentence, then trains the
// sentence segments it covers at the chunk's learning rate.
template <Model M>
__device__ void train_piece(const DeviceJob& job, const Ws& ws, const Launch& launch, int64_t piece, int lane,
                            double& loss, unsigned long long& pairs) {
  const int64_t ci = last_le(job.piece_first, launch.chunk_begin, launch.chunk_end, piece, lane);
  const DevChunk chunk = job.chunks[ci];
  const Task task = job.tasks[chunk.task];
  const NoiseTable noise = job.noise[task.noise];
  float4* w_out = job.w_out[task.head];
  const int64_t k = piece - job.piece_first[ci];
  const int64_t begin = chunk.token_first + k * kPieceTokens;
  const int64_t end = min(begin + kPieceTokens, chunk.token_end);
  // One stream per (chunk, piece, lane): lanes draw independently.
  Rng rng(job.seed, splitmix64(chunk.id) + static_cast<uint64_t>(k) * kWarpSize + static_cast<uint64_t>(lane));
  const double span = static_cast<double>(chunk.token_end - chunk.token_first);
  const int64_t* offsets = task.sentence_offsets;
  for (int64_t s = last_le(offsets, chunk.sentence_begin, chunk.sentence_end, begin, lane); s < chunk.sentence_end;
       ++s) {
    const int64_t first = max(offsets[s], begin), last = min(offsets[s + 1], end);
    if (first >= end) break;
    if (last <= first) continue;
    // Linear decay over the run, placed by the segment's position in the chunk.
    const double progress = chunk.progress_begin + (chunk.progress_end - chunk.progress_begin) *
                                                       (static_cast<double>(first - chunk.token_first) / span);
    const float lr = task.weight * static_cast<float>(job.alpha - (job.alpha - job.min_alpha) * progress);
    train_segment<M>(job, ws, task, noise, w_out, first, last, lr, rng, lane, loss, pairs);
  }
}

// Persistent warps take pieces from the launch's queue in schedule order.
template <Model M, bool kShared>
__global__ void __launch_bounds__(kMaxBlockThreads) train_kernel(const DeviceJob job, const Launch launch) {
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
  double loss = 0.0;
  unsigned long long pairs = 0;
  for (;;) {
    unsigned long long taken = 0;
    if (lane == 0) taken = atomicAdd(&launch.counters->next_piece, 1ull);
    taken = __shfl_sync(kFullMask, taken, 0);
    const int64_t piece = launch.piece_begin + static_cast<int64_t>(taken);
    if (piece >= launch.piece_end) break;
    train_piece<M>(job, ws, launch, piece, lane, loss, pairs);
  }
  loss = warp_sum(loss);
  if (lane == 0) {
    atomicAdd(&launch.counters->loss, loss);
    atomicAdd(&launch.counters->pairs, pairs);
  }
}

// One center word's update (tests): contexts are slots 0..n_ctx-1 of a
// workspace in global memory, flushed back at the end. One warp.
template <Model M>
__global__ void step_kernel(float4* w_in, float4* w_out, const int32_t* contexts, int n_ctx, const int32_t* targets,
                            int n_tgt, float lr, const Layout layout, float* workspace, double* loss_out) {
  const int lane = static_cast<int>(threadIdx.x);
  const Ws ws = carve(workspace, layout);
  const int groups = layout.groups;
  for (int c = 0; c < n_ctx; ++c) load_slot(ws, c, w_in + static_cast<int64_t>(contexts[c]) * groups, groups, lane);
  for (int t = lane; t < n_tgt; t += kWarpSize) ws.tgt[t] = targets[t];
  __syncwarp();
  load_targets(ws, w_out, groups, n_tgt, lane);
  double loss = 0.0;
  const Window win{0, n_ctx, n_ctx};
  center_update<M>(ws, win, w_out, groups, n_ctx, n_tgt, lr, lane, loss);
  for (int c = 0; c < n_ctx; ++c) flush_slot(ws, c, w_in + static_cast<int64_t>(contexts[c]) * groups, groups, lane);
  loss = warp_sum(loss);
  if (lane == 0) *loss_out = loss;
}

}  // namespace
}  // namespace mtl::cuda
