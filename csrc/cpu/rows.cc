// See rows.h. Plain loops: the compiler vectorizes them, and the work is
// memory-bound (one read of both matrices to find the changed rows, one read
// and write of those rows to gather and to apply).
#include "rows.h"

#include <cstring>

namespace mtl::rows {

void changed(const float* matrix, const float* base, int64_t rows, int64_t cols, int64_t width, uint8_t* changed) {
  const size_t bytes = size_t(width) * sizeof(float);
  for (int64_t i = 0; i < rows; ++i) changed[i] = std::memcmp(matrix + i * cols, base + i * cols, bytes) != 0;
}

void gather(const float* matrix, const float* base, int64_t cols, int64_t width, const int64_t* ids, int64_t n,
            float* out) {
  for (int64_t k = 0; k < n; ++k) {
    const float* now = matrix + ids[k] * cols;
    const float* before = base + ids[k] * cols;
    float* change = out + k * width;
    for (int64_t j = 0; j < width; ++j) change[j] = now[j] - before[j];
  }
}

void apply(float* matrix, float* base, int64_t cols, int64_t width, const int64_t* ids, int64_t n,
           const float* changes, float scale) {
  for (int64_t k = 0; k < n; ++k) {
    float* now = matrix + ids[k] * cols;
    float* before = base + ids[k] * cols;
    const float* change = changes + k * width;
    for (int64_t j = 0; j < width; ++j) now[j] = before[j] += scale * change[j];
  }
}

}  // namespace mtl::rows
