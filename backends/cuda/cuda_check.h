// CUDA_CHECK: with no GPU (CI), every kernel the CPU compiles is also lowered for a CUDA target,
// rendered and compiled by NVRTC for the listed architectures, so that the whole Lua suite and
// the sample check the CUDA backend's code generation. See docs/cuda.md.
#pragma once
#include <functional>
#include <span>
#include <string>

#include "runtime/runtime.h"
#include "uop/uop.h"

namespace mg::cuda {

// The hook for Runtime::also_compile. `spec`: the value of CUDA_CHECK, a comma-separated list of
// architectures ("sm_90,sm_80"; "1" means those two). A kernel that fails raises
// Error(Compile) naming it; with no NVRTC every call fails, saying so. "emulate" in the list:
// GROUP kernels also run emulated on the host against the same kernel without opts
// (cuda_emulate.h; slow, needs g++), "emulate-all": every kernel.
// DEBUG=4 (rt.debug) prints each kernel's CUDA C, DEBUG=2 what was compiled.
std::function<void(std::span<const UOpRef>)> make_compile_check(const std::string& spec, const Runtime& rt);

}  // namespace mg::cuda
