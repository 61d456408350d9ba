// The scheduler: the lazy graphs of one realize call -> a list of kernels and copies.
// See docs/schedule.md.
#pragma once
#include <span>
#include <vector>

#include "uop/uop.h"

namespace mg::schedule {

// Where an item's buffer comes from: a realized buffer of the graph (an input), a buffer made
// for one of the roots (an output), or one that lives only inside the schedule (a temp).
struct Slot {
  enum Kind : uint8_t { Input, Output, Temp };
  Kind kind = Input;
  int index = 0;
  friend bool operator==(const Slot&, const Slot&) = default;
};

struct Item {
  // Kernel: ast = SINK(STORE(BUFFER(DEFINE_GLOBAL 0), value)); the value reads its inputs as
  // BUFFER(DEFINE_GLOBAL i). A pure function of its buffers, so it can be cached by the ast.
  // Copy: bufs[0] <- bufs[1], between devices.
  enum Kind : uint8_t { Kernel, Copy };
  Kind kind = Kernel;
  UOpRef ast;
  std::vector<Slot> bufs;  // bufs[i] is parameter i; bufs[0] is the one written
  DType dtype;             // of the buffer written
  int64_t numel = 0;
};

struct Schedule {
  std::vector<Item> items;
  std::vector<Slot> outputs;    // per root, where its value ends up
  std::vector<int64_t> output_numel;
  std::vector<DType> output_dtype;
  std::vector<int64_t> temp_numel;
  std::vector<DType> temp_dtype;
  std::vector<int> temp_last_use;  // per temp: the last item that reads it (free it after that)
  // The memory plan (plan_memory): temps whose lifetimes do not overlap share one arena.
  std::vector<int> temp_arena;           // per temp
  std::vector<size_t> arena_bytes;       // per arena: its largest temp
  std::vector<int> arena_last_use;       // per arena: free it after this item
};

// The graph of a realize call with its buffers as parameters: each realized BUFFER node is
// replaced by BUFFER(DEFINE_GLOBAL i) in the order they are met, so two calls on graphs of
// the same structure give the same (interned) sink, which keys the schedule cache.
struct Normalized {
  UOpRef sink;                       // SINK(roots...)
  std::vector<const UOp*> inputs;    // the BUFFER node behind parameter i
};
Normalized normalize(std::span<const UOpRef> roots);

// Fusion and kernel boundaries (docs/schedule.md): one schedule for all roots of the sink.
// The result carries its memory plan.
Schedule make_schedule(const UOpRef& normalized_sink);

// Buffers that share memory: each lifetime, taken in the order they start, goes to the smallest
// free arena of its pool that holds it, else the largest free one (grown), else a new one. An
// arena is free again after the last step of its current lifetime. The schedule's temps and a
// jit capture's intermediates (pool: their device) are planned this way.
struct Lifetime {
  int first = 0, last = 0;  // steps: the one that writes it, the last one that reads it
  size_t bytes = 0;
  const void* pool = nullptr;  // lifetimes share arenas only within one pool
};
struct ArenaPlan {
  std::vector<int> of;       // per lifetime: its arena
  std::vector<size_t> bytes;  // per arena: its largest lifetime
  std::vector<int> last;     // per arena: free after this step
  std::vector<const void*> pool;
};
ArenaPlan plan_arenas(std::span<const Lifetime> lives);

// Fills the plan fields of s (plan_arenas over its temps).
void plan_memory(Schedule& s);
size_t temp_bytes(const Schedule& s);  // the temps' bytes were each given its own buffer

// GPU targets: each reduction of at least 2^16 elements to one value becomes a reduction to
// B partials (B <= parts, a power of two dividing the size), stored, then a reduction of those
// (split_reduce.cpp). Other nodes are unchanged.
std::vector<UOpRef> split_reductions(std::span<const UOpRef> roots, int64_t parts);

// Whether root `root` may be written straight into the memory of input `input` (an assign:
// the tensor keeps its memory), i.e. no item reads the input's old contents after the item
// that writes the root, and that item reads them only at the position it writes. input < 0:
// the schedule does not read that memory.
bool can_write_over(const Schedule& s, size_t root, int input);

}  // namespace mg::schedule
