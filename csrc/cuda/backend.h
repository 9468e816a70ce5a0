// The CUDA backend, seen from the bindings: no CUDA types cross this header.
// Built from sgns.cu when nvcc is found, else from stub.cc (compiled() false).
// Errors throw std::runtime_error (BackendError in Python), never abort.
#pragma once

#include <string>
#include <vector>

#include "../sgns.h"

namespace mtl::cuda {

bool compiled();
// Number of usable devices; 0 without a driver or device. Never throws.
int device_count();
std::vector<std::string> device_names();
// What was compiled in: sm_NN (native code) and compute_NN (PTX), as built.
std::vector<std::string> architectures();

// The same contract as cpu::train: host matrices in, trained in place. The
// corpus and matrices are copied to the device once; the result is copied back.
void train(const TrainParams& params, const TrainJob& job, Control& control);

// One center word's update on the device (tests: the CPU is the oracle).
// Matrices are host memory; the touched rows are updated in place.
double step(Model model, const Matrix& w_in, const Matrix& w_out, const int32_t* contexts,
            int n_contexts, const int32_t* targets, int n_targets, float lr);

}  // namespace mtl::cuda
