// Warp-level building blocks of the CUDA kernels: float4 arithmetic, atomic
// row updates, warp reductions and searches, and the copies of matrix rows
// into a warp's workspace and back.
#pragma once

#include <cstdint>

#include "job.cuh"

namespace mtl::cuda {
namespace {

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

}  // namespace
}  // namespace mtl::cuda
