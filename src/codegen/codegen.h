// Codegen: a kernel AST (schedule::Item::ast) -> lowered, linear UOps a renderer walks.
// Each pass is a named graph_rewrite (VIZ shows them). See docs/codegen.md.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "rewrite/trace.h"
#include "uop/uop.h"

namespace mg::codegen {

// One step of the linear program. Loops are explicit; a reduction is an accumulator set before
// its loops, updated inside them and read (the REDUCE node itself, as an Op) after them.
struct LinItem {
  enum Kind : uint8_t { Op, LoopBegin, LoopEnd, AccInit, AccUpdate };
  Kind kind = Op;
  const UOp* u = nullptr;  // the node; LoopBegin/LoopEnd: the RANGE; Acc*: the REDUCE
  const UOp* v = nullptr;  // AccUpdate: the value folded in
};

// What a renderer can do, so that codegen leaves only what it can render.
struct Target {
  bool threads = true;     // the outermost output loop runs over [begin, end) given at launch
  int vector_bytes = 64;   // widest vector register (0: no vector ops, upcast nothing)
  bool opts = true;        // heuristic optimizations (NOOPT=1 turns them off)
  int read_slack_bytes = 0;   // loads may read this far past a buffer's end (its allocator leaves
                              // it): padded vector lanes then need no mask on their loads
  // GPU targets (gpu_dims.cpp): the output loops become launch axes (blocks x threads) instead
  // of loops; the limits are the device's.
  bool gpu = false;
  int block_threads = 256;     // threads per block the launch-axis pass aims for
  int max_threads = 1024;      // per block (CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
  int64_t max_blocks = (int64_t(1) << 31) - 1;  // grid x limit
  int shared_bytes = 48 * 1024;  // shared memory per block
};

struct Kernel {
  std::string name;          // "E_16_16", "r_16_4096": kind and output shape (DEBUG lines)
  std::string fn_name;       // name plus a hash of the lowered graph: unique in a JIT
  UOpRef ast;                // what the scheduler gave
  UOpRef lowered;            // after every pass; owns the nodes lin points to
  std::vector<LinItem> lin;
  std::vector<std::string> opts;  // applied heuristic opts (DEBUG=3)
  int n_params = 0;
  // Variables (DEFINE_VAR, by name) whose values follow the buffers as parameters: parameter
  // n_params + i points to vars[i]'s int64 value.
  std::vector<const UOp*> vars;
  int64_t outer = 1;         // the parallel axis' size (1: none)
  const UOp* outer_range = nullptr;  // its RANGE: the loop that runs over [begin, end)
  // The upcast axis, when there is one: a RANGE that is not a loop but the lanes of a vector
  // (values depending on it are vectors of `width` lanes, lane i seeing i).
  const UOp* lane = nullptr;
  int width = 1;
  double flops = 0, bytes = 0;  // per run, for GFLOP/s and GB/s
  // GPU targets: the launch, x y z (blocks of the grid, threads per block), and the SPECIAL
  // node of the flat global thread id (nullptr: one thread does it all, or a GROUP kernel).
  // Threads past `gpu_threads` return at once.
  int64_t grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
  int64_t gpu_threads = 1;
  const UOp* gid = nullptr;
  // GROUP kernels (group_reduce.cpp): the threads of a block that share each reduction (1:
  // none). The output positions are the blocks (SPECIAL "bid"), the threads SPECIAL "lid".
  int64_t group = 1;
};

// Index lowering: movement ops become index expressions over RANGEs; loads, stores and
// REDUCEs over explicit ranges. Exposed for tests.
UOpRef lower_indexing(const UOpRef& ast, RewriteTrace* trace = nullptr);

// Heuristic optimizations (opts.cpp) on a lowered, simplified kernel: unroll small reductions,
// upcast the output's innermost axis into vector lanes, unroll an output axis of reduction
// kernels. Returns the new graph; sets lane/width and appends to applied.
// How far the integer expression idx moves when loop r goes up by one; nullopt when that is not
// one constant (division or modulo by r, a product of loops).
std::optional<int64_t> index_stride(const UOpRef& idx, const UOp* r);

// Reductions with a closed form (fold_reduce.cpp): a sum of a constant over the positions of a
// loop that satisfy bounds is that constant times their count (a lazy arange is such a count);
// a sum over r of where(f(r) == v, x(r), 0) with f linear in r is the one term where f(r) = v
// (a one-hot gather, x[idx], becomes one load).
UOpRef fold_reductions(const UOpRef& g, RewriteTrace* trace);

// Every value addr can take lies in the buffer that ptr points to, or within `slack` elements
// past its end.
inline bool inside_buffer(const UOpRef& addr, DType ptr, int64_t slack = 0) {
  return addr->vmin() >= 0 && addr->vmax() < ptr.ptr_size + slack;
}

// Addresses of gated loads simplified with the loop bounds their gates imply.
UOpRef simplify_gated_indices(const UOpRef& g, RewriteTrace* trace);
UOpRef apply_opts(const UOpRef& g, const Target& t, Kernel& k, RewriteTrace* trace);

// Accesses contiguous in the lane axis become vector loads and stores (expand.cpp).
UOpRef vectorize_access(const UOpRef& g, const Kernel& k, RewriteTrace* trace);

// GPU targets: a reduction over few output positions is split across the threads of a block
// and combined through shared memory (DEFINE_LOCAL, BARRIER); sets k.group. Part of the opts.
UOpRef group_reductions(const UOpRef& g, const Target& t, Kernel& k, RewriteTrace* trace);

// GPU targets: the output loops become one flat launch axis (gpu_dims.cpp). Sets k's grid,
// block, gpu_threads; each output RANGE becomes (gid // stride) % size over a SPECIAL gid. In
// a GROUP kernel they become the block index instead (SPECIAL bid), the block k.group threads.
UOpRef assign_launch_dims(const UOpRef& g, const Target& t, Kernel& k, RewriteTrace* trace);

// Every pass, then linearization.
Kernel lower(const UOpRef& ast, const Target& target, RewriteTrace* trace = nullptr);

std::string lin_str(const Kernel& k);  // the linear program, one line per item (DEBUG=6)

}  // namespace mg::codegen
