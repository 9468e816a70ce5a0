// The CPU inner steps compiled for the avx512 level (flags set in CMakeLists.txt).
#define MTL_VEC_BYTES 64
#include "ops_body.h"

MTL_DEFINE_OPS(avx512)
