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
// add up as on the CPU.
//
// Subwords (kSubwords): a word's input vector is the mean of its rows (sgns.h's
// Subwords), many and scattered over the buckets, so they are not cached:
// each center reads its input rows from global memory (L2) into the mean h
// and adds its gradient back with atomics. Skip-gram turns around as on the
// CPU: the center's mean predicts its contexts' words (target rows staged in
// trow) and the negatives, one draw per center.
//
// Without a GPU, tests/test_cuda_emulator.py (pytest -m slow) runs this code
// on CPU threads against the CPU kernel; tests/test_gpu.py is the GPU check.
#pragma once

#include <cstdint>
#include <vector>

#include "../common.h"
#include "../sampling.h"
#include "../sgns.h"

namespace mtl::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpSize = 32;
constexpr int kMaxBlockThreads = 256;
// Caps registers at 128 per thread: shared memory already limits a typical
// configuration (dim 100, window 5) to ~16 warps per SM.
constexpr int kMinBlocks = 2;
// Unit of work of one warp. Sentences longer than this are cut (a few lost
// contexts per cut, like word2vec's 1000-word sentences); shorter ones share a
// piece. Small enough that a launch's tail (warps waiting for the last
// pieces) stays short.
constexpr int64_t kPieceTokens = 1024;

// One warp's workspace, offsets in floats; every float4 region starts at a
// multiple of 4 floats, so rows are 16-byte aligned.
struct Layout {
  int groups = 0;   // float4 per row (device row stride / 4)
  int pitch = 0;    // float4 per workspace row: groups rounded up to odd (no bank conflicts)
  int slots = 0;    // w_in rows cached around the center (2*window+1)
  int max_ctx = 0;  // contexts per center (2*window+1: a parallel pair's window keeps its middle)
  int max_tgt = 0;  // targets per center (negative+1)
  int ring = 0;     // kept-id ring size, a power of two (0: unused)
  int center_ring = 0;  // parallel pairs: the centers' kept-id ring, a power of two (0: unused)
  int val = 0, orig = 0, trow = 0, h = 0, g = 0, ring_ids = 0, center_ids = 0, neg_ids = 0, tgt_ids = 0;
  int words = 0;    // floats per warp
};

struct Ws {
  float4* val;
  float4* orig;
  float4* trow;
  float4* h;
  float* g;
  int32_t* ring;
  int32_t* centers;
  int32_t* neg;
  int32_t* tgt;
};

__device__ __forceinline__ Ws carve(float* base, const Layout& L) {
  return Ws{reinterpret_cast<float4*>(base + L.val), reinterpret_cast<float4*>(base + L.orig),
            reinterpret_cast<float4*>(base + L.trow), reinterpret_cast<float4*>(base + L.h), base + L.g,
            reinterpret_cast<int32_t*>(base + L.ring_ids), reinterpret_cast<int32_t*>(base + L.center_ids),
            reinterpret_cast<int32_t*>(base + L.neg_ids), reinterpret_cast<int32_t*>(base + L.tgt_ids)};
}

// A chunk as the device sees it: with its task-relative token range
// [token_first, token_end) (a parallel task's: of its first side, which cuts
// it into pieces). piece_first lives in its own array so the warp-wide search
// reads contiguous values.
struct DevChunk : Chunk {
  int64_t token_first = 0;
  int64_t token_end = 0;
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
  double* chunk_stats;         // (loss, pairs) per chunk, as cpu::train fills Control::chunk_stats
  Layout layout;
  int window;
  int negative;
  int share;  // centers in a row sharing one draw of negatives (CBOW's cbow_share; 1 for skip-gram)
  double alpha;
  double min_alpha;
  uint64_t seed;
  Subwords subwords;  // device pointers; absent without subwords
};

struct Launch {
  int64_t chunk_begin, chunk_end;  // chunks [begin, end) of the schedule
  int64_t piece_begin, piece_end;  // their pieces
  Counters* counters;
  float* global_ws;  // per-warp workspaces when they do not fit in shared memory
};

inline int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// Floats per device row: the columns that hold values, padded to cuda_row_floats.
inline int device_row_floats(const TrainParams& params) {
  return static_cast<int>(round_up(params.cuda_cols > 0 ? params.cuda_cols : params.dim, params.cuda_row_floats));
}

// Per-warp workspace layout (host side) for rows of `row_floats` (a multiple
// of 4); throws if it cannot be indexed with int.
inline Layout make_layout(int row_floats, int slots, int max_ctx, int max_tgt, int ring, int center_ring = 0) {
  Layout L;
  L.groups = static_cast<int>(round_up(row_floats, 4) / 4);
  L.pitch = L.groups | 1;
  L.slots = slots;
  L.max_ctx = max_ctx;
  L.max_tgt = max_tgt;
  L.ring = ring;
  L.center_ring = center_ring;
  int64_t at = 0;
  auto take = [&](int64_t floats) {
    const int64_t offset = at;
    at += round_up(floats, 4);
    return static_cast<int>(offset);
  };
  const int64_t row = int64_t(L.pitch) * 4;
  L.val = take(slots * row);
  L.orig = take(slots * row);
  L.trow = take(max_tgt * row);
  L.h = take(row);
  L.g = take(int64_t(max_ctx) * max_tgt);
  L.ring_ids = take(ring);
  L.center_ids = take(center_ring);
  L.neg_ids = take(max_tgt);
  L.tgt_ids = take(max_tgt);
  MTL_CHECK(at < (int64_t(1) << 31), "CUDA backend: rows of ", row_floats, " floats are too large for its workspace");
  L.words = static_cast<int>(at);
  return L;
}

// Training's workspace: 2*window+1 cached w_in rows, negative+1 targets, and
// a ring of kept ids that can run 32 ahead of the window (with parallel
// tasks, one more for the centers' side, read 32 ahead of the center).
// Subwords: no cached rows, one score per target, and up to 2*window+1
// contexts before the negatives among the targets.
inline Layout train_layout(const TrainParams& params, bool parallel, bool subwords = false) {
  int ring = 64;
  while (ring < 2 * params.window + 40) ring *= 2;
  const int window_rows = 2 * params.window + 1;
  if (subwords)
    return make_layout(device_row_floats(params), 0, 1, window_rows + params.negative, ring, parallel ? 64 : 0);
  return make_layout(device_row_floats(params), window_rows, window_rows, params.negative + 1, ring,
                     parallel ? 64 : 0);
}

inline bool has_parallel_tasks(const TrainJob& job) {
  for (const Task& task : job.tasks)
    if (task.parallel()) return true;
  return false;
}

// The device's view of the schedule: chunks with token ranges, the prefix of
// their pieces (kPieceTokens tokens each, the last one shorter) and their
// words (a parallel task's: both sides, as cpu::train counts them).
inline void plan_chunks(const TrainJob& job, std::vector<DevChunk>& chunks, std::vector<int64_t>& piece_first,
                        std::vector<int64_t>& chunk_words) {
  const size_t n = job.chunks.size();
  chunks.assign(n, DevChunk{});
  piece_first.assign(n + 1, 0);
  chunk_words.assign(n, 0);
  for (size_t c = 0; c < n; ++c) {
    const Chunk& src = job.chunks[c];
    const Task& task = job.tasks[src.task];
    DevChunk& d = chunks[c];
    static_cast<Chunk&>(d) = src;
    d.token_first = task.sentence_offsets[src.sentence_begin];
    d.token_end = task.sentence_offsets[src.sentence_end];
    const int64_t tokens = d.token_end - d.token_first;
    chunk_words[c] = tokens;
    if (task.parallel())
      chunk_words[c] += task.second_offsets[src.sentence_end] - task.second_offsets[src.sentence_begin];
    piece_first[c + 1] = piece_first[c] + (tokens + kPieceTokens - 1) / kPieceTokens;
  }
}

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

// Starts copying a matrix row into a workspace row. Shared workspaces use
// cp.async (global to shared without registers, through L2 only, where other
// warps' atomics land), so all rows a center needs are in flight at once;
// global workspaces copy through registers.
template <bool kShared>
__device__ __forceinline__ void start_row(float4* dst, const float4* src, int groups, int lane) {
  for (int gi = lane; gi < groups; gi += kWarpSize) {
    if constexpr (kShared) {
      const unsigned to = static_cast<unsigned>(__cvta_generic_to_shared(dst + gi));
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(to), "l"(src + gi) : "memory");
    } else {
      dst[gi] = __ldcg(src + gi);
    }
  }
}

// Waits for this lane's copies; other lanes see them after a __syncwarp.
template <bool kShared>
__device__ __forceinline__ void finish_rows() {
  if constexpr (kShared) asm volatile("cp.async.wait_all;\n" ::: "memory");
}

// Remembers a freshly loaded slot's value, for the delta flushed later.
__device__ __forceinline__ void keep_original(const Ws& ws, const Layout& L, int slot, int lane) {
  for (int gi = lane; gi < L.groups; gi += kWarpSize) ws.orig[slot * L.pitch + gi] = ws.val[slot * L.pitch + gi];
}

// Adds what the cached row learnt since it was loaded back to w_in.
__device__ __forceinline__ void flush_slot(const Ws& ws, const Layout& L, int slot, float4* row, int lane) {
  for (int gi = lane; gi < L.groups; gi += kWarpSize)
    red_add(row + gi, sub4(ws.val[slot * L.pitch + gi], ws.orig[slot * L.pitch + gi]));
}

// Starts staging the target rows whose ids are in ws.tgt (visible to all lanes).
template <bool kShared>
__device__ __forceinline__ void start_targets(const Ws& ws, const Layout& L, const float4* w_out, int n_tgt, int lane) {
  for (int t = 0; t < n_tgt; ++t)
    start_row<kShared>(ws.trow + t * L.pitch, w_out + static_cast<int64_t>(ws.tgt[t]) * L.groups, L.groups, lane);
}

// Subsampling, then code-switching, of one token by one lane: false if the
// token is dropped, else `id` becomes the word trained (as cpu::train).
__device__ __forceinline__ bool keep_and_switch(const Task& task, const float* keep_prob, Rng& rng, int32_t& id) {
  if (!keep_token(rng, keep_prob, id)) return false;
  id = code_switch(rng, task, id);
  return true;
}

// A sentence (or a piece's segment of one) being subsampled 32 tokens at a
// time, one per lane, into a ring of kept ids (its size a power of two).
struct KeptIds {
  const int32_t* tokens;
  int64_t raw, end;  // next token to read; end of the sentence
  int32_t* ring;
  int ring_mask;
  int kept = 0;      // kept ids so far
  __device__ __forceinline__ int32_t at(int position) const { return ring[position & ring_mask]; }
};

// Appends kept ids of the next 32 raw tokens (one per lane, in order) to the
// ring until position `need` exists or the sentence is exhausted.
__device__ __forceinline__ void refill(KeptIds& ids, const Task& task, const float* keep_prob, int need, Rng& rng,
                                       int lane) {
  const unsigned below_me = (1u << lane) - 1u;
  while (ids.kept <= need && ids.raw < ids.end) {
    const int64_t at = ids.raw + lane;
    int32_t id = at < ids.end ? __ldg(ids.tokens + at) : 0;
    const bool keep = at < ids.end && keep_and_switch(task, keep_prob, rng, id);
    const unsigned mask = __ballot_sync(kFullMask, keep);
    if (keep) ids.ring[(ids.kept + __popc(mask & below_me)) & ids.ring_mask] = id;
    ids.kept += __popc(mask);
    ids.raw += kWarpSize;
  }
  __syncwarp();
}

// How many of tokens[begin, end) the same draws as refill's keep (`rng` is a copy).
__device__ __forceinline__ int count_kept(const Task& task, const float* keep_prob, const int32_t* tokens,
                                          int64_t begin, int64_t end, Rng rng, int lane) {
  int kept = 0;
  for (int64_t raw = begin; raw < end; raw += kWarpSize) {
    int32_t id = raw + lane < end ? __ldg(tokens + raw + lane) : 0;
    const bool keep = raw + lane < end && keep_and_switch(task, keep_prob, rng, id);
    kept += __popc(__ballot_sync(kFullMask, keep));
  }
  return kept;
}

// Draws a center's negatives (one per lane and round) into ws.tgt from
// n_positive on, dropping those that is_positive(id) names: afresh when
// `fresh`, else those of the last draw, which each lane keeps in its own
// entries of ws.neg where `keep` (CBOW's cbow_share > 1). Returns n_tgt.
template <class IsPositive>
__device__ __forceinline__ int draw_negatives(const Ws& ws, const NoiseTable& noise, int negative, int n_positive,
                                              bool fresh, bool keep, Rng& rng, int lane, IsPositive&& is_positive) {
  const unsigned below_me = (1u << lane) - 1u;
  int n = n_positive;
  for (int k0 = 0; k0 < negative; k0 += kWarpSize) {
    int32_t id = 0;
    bool ok = false;
    if (k0 + lane < negative) {
      id = fresh ? draw_negative(rng, noise) : ws.neg[k0 + lane];
      if (fresh && keep) ws.neg[k0 + lane] = id;
      ok = !is_positive(id);
    }
    const unsigned mask = __ballot_sync(kFullMask, ok);
    if (ok) ws.tgt[n + __popc(mask & below_me)] = id;
    n += __popc(mask);
  }
  return n;
}

// A center's targets: its word, then its negatives other than its word (as
// word2vec); starts staging their rows. Returns n_tgt.
template <bool kShared>
__device__ __forceinline__ int stage_targets(const Ws& ws, const Layout& L, const float4* w_out,
                                             const NoiseTable& noise, int negative, int32_t center, bool fresh,
                                             bool keep, Rng& rng, int lane) {
  __syncwarp();  // the previous center's readers of tgt and g are done
  const int n = draw_negatives(ws, noise, negative, 1, fresh, keep, rng, lane,
                               [center](int32_t id) { return id == center; });
  if (lane == 0) ws.tgt[0] = center;
  __syncwarp();
  start_targets<kShared>(ws, L, w_out, n, lane);
  return n;
}

// Subwords: a center's targets after its n_positive positives, already in
// ws.tgt[0, n_positive) (and visible to all lanes): negatives other than the
// positives; starts staging all their rows. Returns n_tgt.
template <bool kShared>
__device__ __forceinline__ int stage_after_positives(const Ws& ws, const Layout& L, const float4* w_out,
                                                     const NoiseTable& noise, int negative, int n_positive,
                                                     bool fresh, bool keep, Rng& rng, int lane) {
  const int n = draw_negatives(ws, noise, negative, n_positive, fresh, keep, rng, lane, [&](int32_t id) {
    bool positive = false;
    for (int t = 0; t < n_positive; ++t) positive |= id == ws.tgt[t];
    return positive;
  });
  __syncwarp();
  start_targets<kShared>(ws, L, w_out, n, lane);
  return n;
}

// What a run of centers shares: where they train, their lr and sums.
struct Centers {
  const NoiseTable& noise;
  float4* w_out;
  float lr;
  Rng& rng;
  double& loss;
  unsigned long long& pairs;
  int trained = 0;  // centers with contexts so far: every `share`-th draws fresh negatives
};

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
