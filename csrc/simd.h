// Runtime choice of the CPU kernel's SIMD level.
#pragma once

#include <string>
#include <vector>

#include "cpu/ops.h"

namespace mtl {

// Levels compiled in AND supported by this CPU, slowest first ("generic" always).
std::vector<std::string> simd_available();

// The level used by default: the best available, or MTLEMBED_SIMD if set
// (an unknown or unsupported value throws, naming the choices). Chosen once.
const std::string& simd_default();

// The inner steps of a level; throws if it is not available here.
const cpu::Ops& simd_ops(const std::string& level);

}  // namespace mtl
