// Engine: the state of one context that the tensor layer works on. mg_ctx (capi) holds one.
#pragma once
#include <cstdint>
#include <memory>

#include "rewrite/trace.h"
#include "runtime/runtime.h"
#include "uop/uop.h"

struct mg_tensor;

namespace mg {
namespace tensor { struct Jits; }

// xoshiro256**: small, fast, and the same stream for the same seed everywhere.
struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed = 0) { seed_with(seed); }
  void seed_with(uint64_t seed);
  uint64_t next();
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

struct Engine {
  explicit Engine(HostAllocator host);
  ~Engine();  // orphans the handles still alive: they may be released after the context

  // Declaration order is destruction order reversed: the trace and the runtime hold nodes
  // and are dropped before the table those nodes live in.
  UOpTable uops;
  Runtime runtime;
  RewriteTrace trace;
  bool tracing = false;
  Device* default_device = nullptr;
  int64_t next_unique = 1;   // ids that keep separately made buffers apart
  Rng rng;
  mg_tensor* live = nullptr;  // every live handle, so realize can update them all
  std::unique_ptr<tensor::Jits> jits;  // mg.jit's captures (tensor/jit.h)
};

}  // namespace mg
