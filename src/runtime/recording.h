// What a jit capture records (docs/jit.md): every kernel run and copy of the realizes it spans,
// in order, with the buffers each used. The jit (tensor/jit.cpp) turns it into a replay.
#pragma once
#include <string>
#include <vector>

#include "runtime/device.h"

namespace mg {

struct CachedProgram;

struct RecordedStep {
  const CachedProgram* kernel = nullptr;  // nullptr: a copy, bufs[0] <- bufs[1], `bytes` long
  Device* device = nullptr;
  std::vector<BufferRef> bufs;            // held, so no buffer is freed and its address reused
  std::vector<int64_t*> vars;             // the kernel's variables: Runtime::var_values entries
  size_t bytes = 0;
};

struct Recording {
  std::vector<RecordedStep> steps;
  std::string unsupported;  // why this capture cannot be replayed (a device that evaluates graphs)
};

}  // namespace mg
