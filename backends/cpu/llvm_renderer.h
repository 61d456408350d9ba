// The CPU backend's renderer: a lowered kernel -> one LLVM IR module (text). See docs/cpu.md.
#pragma once
#include <set>
#include <span>
#include <string>

#include "codegen/codegen.h"

namespace mg::cpu {

// One kernel's functions, and the declarations and helpers they need (which a module holding
// several kernels declares once).
struct RenderedKernel {
  std::string text;
  std::set<std::string> decls;
};
RenderedKernel render_kernel(const codegen::Kernel& k);
std::string render_module(std::span<const RenderedKernel> ks);

// A module of one kernel. It defines `void <k.fn_name>(void** bufs, int64_t begin, int64_t
// end)`, which runs the kernel for the outermost output loop's indices in [begin, end).
std::string render_llvm(const codegen::Kernel& k);

}  // namespace mg::cpu
