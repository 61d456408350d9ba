// The executor: realizes tensor-level graphs on a compiling device. It schedules (or finds the
// schedule in the cache), lowers and compiles each kernel (or finds the program), allocates
// buffers, runs the items in order and frees each temporary after its last reader.
#pragma once
#include <span>
#include <vector>

#include "rewrite/trace.h"
#include "runtime/runtime.h"

namespace mg {

// roots: graphs on dev whose COPY sources are already realized. One new buffer per root.
std::vector<BufferRef> realize_compiled(Runtime& rt, Device& dev, std::span<const UOpRef> roots, RewriteTrace* trace);

// The program for a kernel AST on dev, compiled at most once per runtime.
Runtime::CachedProgram& program_for(Runtime& rt, Device& dev, const UOpRef& ast, RewriteTrace* trace);

}  // namespace mg
