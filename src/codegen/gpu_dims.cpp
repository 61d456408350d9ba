// Launch axes for GPU targets. A CPU kernel loops over its output; a GPU kernel runs one thread
// per output position (per group of upcast lanes). The output loops, outer first, are flattened
// into one global thread id, gid = blockIdx.x * blockDim.x + threadIdx.x, the innermost loop
// varying fastest so that neighbouring threads touch neighbouring addresses (coalesced). Each
// output RANGE becomes (gid // stride) % size; symbolic folds what it can. Reduction loops stay
// loops inside the thread.
//
// One flat axis keeps every shape launchable within the x limits of the grid (2^31 - 1 blocks)
// and needs no y/z limits (65535); the divisions by constants are cheap next to the loads.
// A GROUP kernel (group_reduce.cpp) is two-dimensional instead: its output positions, flattened
// the same way, are the blocks (bid = blockIdx.x) and a block's threads (threadIdx.x) share the
// reduction.
#include <algorithm>
#include <unordered_map>

#include "codegen/codegen.h"
#include "rewrite/graph_rewrite.h"
#include "rewrite/symbolic.h"
#include "uop/error.h"

namespace mg::codegen {

namespace {
int64_t size_of(const UOp* r) { return r->src[0]->const_int(); }

// The ranges the stores use (address and value, reductions' own loops excluded, the lane
// excluded): the same set linearize opens around the stores, outer (lower id) first.
std::vector<const UOp*> store_ranges(const UOpRef& g, const UOp* lane) {
  std::vector<const UOp*> out;
  for (const UOpRef& st : g->src) {
    for (int i = 0; i < 2 && i < int(st->src.size()); i++) {
      std::vector<const UOp*> reduced;
      for (UOp* u : st->src[size_t(i)]->toposort())
        if (u->op == Ops::REDUCE)
          for (size_t j = 1; j < u->src.size(); j++) reduced.push_back(u->src[j].get());
      for (UOp* u : st->src[size_t(i)]->toposort())
        // a loop to a variable stays a loop in each thread (the launch is fixed when compiled)
        if (u->op == Ops::RANGE && u != lane && u->src[0]->op == Ops::CONST && std::find(reduced.begin(), reduced.end(), u) == reduced.end() &&
            std::find(out.begin(), out.end(), u) == out.end())
          out.push_back(u);
    }
  }
  std::sort(out.begin(), out.end(), [](const UOp* a, const UOp* b) { return std::get<int64_t>(a->arg) < std::get<int64_t>(b->arg); });
  return out;
}
}  // namespace

UOpRef assign_launch_dims(const UOpRef& g, const Target& t, Kernel& k, RewriteTrace* trace) {
  std::vector<const UOp*> out = store_ranges(g, k.lane);
  int64_t total = 1;
  for (const UOp* r : out) {
    if (__builtin_mul_overflow(total, size_of(r), &total)) fail(ErrorKind::Compile, "GPU launch: kernel " + k.name + " has too many threads");
  }
  k.gid = nullptr;
  if (k.group > 1) {  // GROUP: a block per output position, its threads share the reduction
    if (total > t.max_blocks) fail(ErrorKind::Compile, "GPU launch: kernel " + k.name + " needs " + std::to_string(total) + " blocks, over the device's limit");
    k.block[0] = k.group;
    k.grid[0] = total;
    k.gpu_threads = total * k.group;
    k.opts.push_back("LAUNCH " + std::to_string(total) + " blocks x " + std::to_string(k.group) + " threads (GROUP)");
  } else {
    k.gpu_threads = total;
  }
  if (out.empty() || total <= 1) return g;  // one block, or one thread: loops of size 1 stay loops
  UOpTable& tab = *g->table;
  const bool group = k.group > 1;
  int64_t blocks = total, per_block = 1;
  if (!group) {
    per_block = std::max<int64_t>(1, std::min<int64_t>({int64_t(t.block_threads), int64_t(t.max_threads), total}));
    blocks = (total + per_block - 1) / per_block;
    if (blocks > t.max_blocks) fail(ErrorKind::Compile, "GPU launch: kernel " + k.name + " needs " + std::to_string(blocks) + " blocks, over the device's limit");
    k.block[0] = per_block;
    k.grid[0] = blocks;
  }
  UOpRef gid = tab.make(Ops::SPECIAL, dtypes::index, {tab.cnst(dtypes::index, total)}, std::string(group ? "bid" : "gid"));
  std::unordered_map<const UOp*, UOpRef> subs;
  int64_t stride = 1;
  for (size_t i = out.size(); i-- > 0;) {
    const UOp* r = out[i];
    UOpRef v = stride == 1 ? gid : idiv(gid, tab.cnst(dtypes::index, stride));
    if (i > 0) v = v % tab.cnst(dtypes::index, size_of(r));  // the outermost needs no modulo: gid < total
    subs[r] = v;
    stride *= size_of(r);
  }
  if (!group) k.opts.push_back("LAUNCH " + std::to_string(blocks) + " x " + std::to_string(per_block) + " threads");
  // One substitution for all ranges at once: a range's replacement holds no other range.
  UOpRef res = substitute(g, subs);
  res = graph_rewrite(res, symbolic(), nullptr, {.name = "launch axes", .bottom_up = true, .trace = trace});
  for (UOp* u : res->toposort())
    if (u->op == Ops::SPECIAL && std::get<std::string>(u->arg) == "gid") k.gid = u;
  return res;
}

}  // namespace mg::codegen
