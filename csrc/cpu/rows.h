// The rows of a matrix that changed since a copy of it (`base`), gathered and
// scattered in one pass each: what a distributed meeting (mtlembed/distributed.py)
// does around its all_reduce. Matrices are row-major with `cols` floats a row,
// of which the first `width` hold values (the rest is the kernel's padding).
#pragma once

#include <cstdint>

namespace mtl::rows {

// changed[i] = 1 where row i's first `width` floats differ (bitwise) from base's, else 0.
void changed(const float* matrix, const float* base, int64_t rows, int64_t cols, int64_t width, uint8_t* changed);

// out[k] = matrix[ids[k]] - base[ids[k]], `width` floats each, back to back.
void gather(const float* matrix, const float* base, int64_t cols, int64_t width, const int64_t* ids, int64_t n,
            float* out);

// base[ids[k]] += scale * changes[k], then matrix[ids[k]] = base[ids[k]] (`width` floats each).
void apply(float* matrix, float* base, int64_t cols, int64_t width, const int64_t* ids, int64_t n,
           const float* changes, float scale);

}  // namespace mtl::rows
