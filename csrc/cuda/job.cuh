// What the host and the device code of the CUDA backend share: the launch
// constants, one warp's workspace (Layout, carved into Ws), the job and launch
// parameters, and the host-side planning of workspaces and pieces.
#pragma once

#include <cstdint>
#include <vector>

#include "../common.h"
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

// The columns of the host's rows that hold values, the ones the device trains (0 in cuda_cols: all dim).
inline int64_t device_cols(const TrainParams& params) { return params.cuda_cols > 0 ? params.cuda_cols : params.dim; }

// Floats per device row: device_cols padded to cuda_row_floats.
inline int device_row_floats(const TrainParams& params) {
  return static_cast<int>(round_up(device_cols(params), params.cuda_row_floats));
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

}  // namespace
}  // namespace mtl::cuda
