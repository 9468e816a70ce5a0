// The CPU inner steps compiled for the generic level (flags set in CMakeLists.txt).
#include "ops_body.h"

MTL_DEFINE_OPS(generic)
