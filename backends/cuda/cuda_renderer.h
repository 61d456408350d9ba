// The CUDA backend's renderer: a lowered kernel (for a GPU Target) -> one CUDA C translation
// unit with one extern "C" __global__ function named Kernel::fn_name. See docs/cuda.md.
#pragma once
#include <string>

#include "codegen/codegen.h"

namespace mg::cuda {

// What codegen may emit for a CUDA device of compute capability `sm` (80 for sm_80): launch
// axes instead of output loops, 16-byte vectors (float4), the device's limits.
codegen::Target cuda_target(int sm, int max_threads = 1024, int shared_bytes = 48 * 1024);

// The kernel's CUDA C: parameters are the buffers in order (b0 the output), launched with
// k.grid x k.block threads. Error(Compile) for what it cannot render.
std::string render_cuda(const codegen::Kernel& k);

}  // namespace mg::cuda
