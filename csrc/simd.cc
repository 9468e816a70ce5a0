#include "simd.h"

#include <cstdlib>

#include "common.h"

namespace mtl {

std::vector<std::string> simd_available() {
  std::vector<std::string> levels{"generic"};
#if defined(MTLEMBED_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) levels.push_back("avx2");
#endif
#if defined(MTLEMBED_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
    levels.push_back("avx512");
#endif
  return levels;
}

static std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

const std::string& simd_default() {
  static const std::string level = [] {
    const auto levels = simd_available();
    const char* env = std::getenv("MTLEMBED_SIMD");
    if (env == nullptr || *env == '\0') return levels.back();
    for (const auto& l : levels)
      if (l == env) return l;
    throw InvalidArgument(concat("MTLEMBED_SIMD=", env, " is not available on this CPU/build (choose one of: ",
                                 join(levels), ")"));
  }();
  return level;
}

const cpu::Ops& simd_ops(const std::string& level) {
  const auto levels = simd_available();
  bool found = false;
  for (const auto& l : levels) found = found || l == level;
  MTL_CHECK(found, "SIMD level '", level, "' is not available on this CPU/build (choose one of: ",
            join(levels), ")");
#if defined(MTLEMBED_HAVE_AVX512)
  if (level == "avx512") return cpu::ops_avx512();
#endif
#if defined(MTLEMBED_HAVE_AVX2)
  if (level == "avx2") return cpu::ops_avx2();
#endif
  return cpu::ops_generic();
}

}  // namespace mtl
