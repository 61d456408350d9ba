// The CPU backend's renderer: a lowered kernel -> one LLVM IR module (text). See docs/cpu.md.
#pragma once
#include <string>

#include "codegen/codegen.h"

namespace mg::cpu {

// The module defines `void <k.fn_name>(void** bufs, int64_t begin, int64_t end)`: it runs the
// kernel for the outermost output loop's indices in [begin, end).
std::string render_llvm(const codegen::Kernel& k);

}  // namespace mg::cpu
