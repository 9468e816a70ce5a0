// The CUDA backend when the extension was built without nvcc.
#include <stdexcept>

#include "backend.h"

namespace mtl::cuda {

static const char* kNotCompiled =
    "mtlembed was built without CUDA (nvcc was not found at build time; rebuild with MTLEMBED_CUDA=ON)";

bool compiled() { return false; }
int device_count() { return 0; }
std::vector<std::string> device_names() { return {}; }
std::vector<std::string> architectures() { return {}; }
void train(const TrainParams&, const TrainJob&, Control&) { throw std::runtime_error(kNotCompiled); }
double step(Model, const Matrix&, const Matrix&, const int32_t*, int, const int32_t*, int, float) {
  throw std::runtime_error(kNotCompiled);
}

}  // namespace mtl::cuda
