// The CPU inner steps compiled for the avx2 level (flags set in CMakeLists.txt).
#define MTL_VEC_BYTES 32
#include "ops_body.h"

MTL_DEFINE_OPS(avx2)
