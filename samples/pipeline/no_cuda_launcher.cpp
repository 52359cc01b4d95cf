// Builds without CUDA have no CUDA launcher (and no CUDA backend to need one).
#include "stage_launcher.hpp"

namespace pinpool::pipeline {

std::unique_ptr<stage_launcher> make_cuda_launcher(pool&) {
  return nullptr;
}

}  // namespace pinpool::pipeline
