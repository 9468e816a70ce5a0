// The CPU inner steps compiled for the generic level (flags set in CMakeLists.txt).
#define MTL_VEC_BYTES 16
#include "ops_body.h"

MTL_DEFINE_OPS(generic)
