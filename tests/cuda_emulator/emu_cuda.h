// Runs warp-synchronous CUDA device code on CPU threads (32 per warp), to test
// kernels.cuh without a GPU. Every collective is a barrier, so missing
// __syncwarp()s and lane-divergent collectives show up as wrong results/hangs.
#pragma once
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __grid_constant__
#define __shared__

struct float4 { float x, y, z, w; };
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
struct EmuDim { unsigned x = 0, y = 1, z = 1; };
inline thread_local EmuDim threadIdx, blockIdx, blockDim;

struct EmuWarp {
  std::barrier<> bar{32};
  uint64_t slot[32];
};
inline thread_local EmuWarp* emu_warp = nullptr;
inline thread_local int emu_lane = 0;
inline std::mutex emu_mutex;

inline void __syncwarp(unsigned = 0xffffffffu) { emu_warp->bar.arrive_and_wait(); }
template <class T>
T emu_exchange(T v, int src) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  emu_warp->slot[emu_lane] = bits;
  emu_warp->bar.arrive_and_wait();
  const uint64_t got = emu_warp->slot[src];
  emu_warp->bar.arrive_and_wait();
  T r;
  std::memcpy(&r, &got, sizeof r);
  return r;
}
template <class T> T __shfl_sync(unsigned, T v, int src) { return emu_exchange(v, src); }
template <class T> T __shfl_xor_sync(unsigned, T v, int off) { return emu_exchange(v, emu_lane ^ off); }
inline unsigned __ballot_sync(unsigned, bool p) {
  emu_warp->slot[emu_lane] = p ? 1 : 0;
  emu_warp->bar.arrive_and_wait();
  unsigned m = 0;
  for (int l = 0; l < 32; ++l) if (emu_warp->slot[l]) m |= 1u << l;
  emu_warp->bar.arrive_and_wait();
  return m;
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(unsigned x) { return x ? __builtin_clz(x) : 32; }
template <class T> T __ldg(const T* p) { return *p; }
inline float4 __ldcg(const float4* p) { return *p; }
inline size_t __cvta_generic_to_shared(const void*) { std::abort(); }
inline float atomicAdd(float* p, float v) { std::lock_guard<std::mutex> l(emu_mutex); float o = *p; *p += v; return o; }
inline double atomicAdd(double* p, double v) { std::lock_guard<std::mutex> l(emu_mutex); double o = *p; *p += v; return o; }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  std::lock_guard<std::mutex> l(emu_mutex); auto o = *p; *p += v; return o;
}
using std::max;
using std::min;

// Runs body() on blocks x threads CPU threads (all at once).
template <class F>
void emu_launch(int blocks, int threads, F body) {
  const int warps_per_block = threads / 32;
  std::vector<EmuWarp> warps(size_t(blocks) * warps_per_block);
  std::vector<std::thread> pool;
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, b, t] {
        threadIdx.x = t; blockIdx.x = b; blockDim.x = threads;
        emu_lane = t % 32;
        emu_warp = &warps[size_t(b) * warps_per_block + t / 32];
        body();
      });
  for (auto& th : pool) th.join();
}
