// CUDA C -> CUBIN through NVRTC, cached like the CPU's objects (runtime/compile_cache.h) under a
// key of (source hash, architecture, NVRTC version): the CI compile check and a GPU run on the
// same architecture share entries.
#pragma once
#include <string>

#include "backends/cuda/nvrtc.h"
#include "runtime/compile_cache.h"

namespace mg::cuda {

std::string cache_key(const Nvrtc& nvrtc, const std::string& src, const std::string& arch);
// The CUBIN (arch "sm_NN") or PTX ("compute_NN") of src; `hit` says whether it came from the
// cache. Error(Compile) naming `what` when NVRTC fails.
std::string compile_cached(const Nvrtc& nvrtc, CompileCache& cache, const std::string& src, const std::string& fn_name,
                           const std::string& arch, const std::string& what, bool* hit = nullptr);

}  // namespace mg::cuda
