// What one warp draws while it trains: tokens subsampled (and code-switched)
// into rings of kept ids, one per lane, and a center's negatives with the
// staging of its target rows; and the state a run of centers carries.
#pragma once

#include <cstdint>

#include "../sampling.h"
#include "../sgns.h"
#include "job.cuh"
#include "warp.cuh"

namespace mtl::cuda {
namespace {

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

}  // namespace
}  // namespace mtl::cuda
