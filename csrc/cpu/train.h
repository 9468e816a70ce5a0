// CPU training: a pool of std::threads taking chunks in schedule order and
// updating the shared matrices without locks (Hogwild).
#pragma once

#include "../sgns.h"
#include "ops.h"

namespace mtl::cpu {

// Blocks until every chunk is trained or control.stop is set; the first worker
// exception is rethrown here. Never touches Python.
void train(const TrainParams& params, const TrainJob& job, Control& control, const Ops& ops);

}  // namespace mtl::cpu
