// The executor: realizes tensor-level graphs on a compiling device. It schedules (or finds the
// schedule in the cache), lowers and compiles each kernel (or finds the program), allocates
// buffers, runs the items in order and frees each temporary after its last reader.
#pragma once
#include <span>
#include <vector>

#include "rewrite/trace.h"
#include "runtime/runtime.h"

namespace mg {

// roots: graphs on dev whose COPY sources are already realized. One new buffer per root, or
// into[r] where that is given (an assign: the tensor keeps its memory; into may be shorter).
std::vector<BufferRef> realize_compiled(Runtime& rt, Device& dev, std::span<const UOpRef> roots, std::span<const BufferRef> into,
                                        RewriteTrace* trace);

// One kernel run on bufs (parameter order) and one copy, with their stats, DEBUG=2 lines,
// profile events, and the step appended to rt.recording while a jit captures.
void run_kernel(Runtime& rt, Device& dev, const CachedProgram& cp, std::span<const BufferRef> bufs);
void copy_buffer(Runtime& rt, Device& dev, const BufferRef& dst, const BufferRef& src, size_t nbytes);
BufferRef copy_of(Runtime& rt, const BufferRef& src);  // new memory on src's device, holding src's bytes

// Lowers and compiles (as one batch) the kernel ASTs that have no program on dev yet, and
// caches the programs in rt.programs.
void compile_programs(Runtime& rt, Device& dev, std::span<const UOpRef> asts, RewriteTrace* trace);

}  // namespace mg
