// GROUP reductions (GPU targets): the threads of a block share each reduction instead of one
// thread looping over all of it. A kernel whose output has few positions next to its reduction
// (a full sum, row sums of long rows) would otherwise run few, long, uncoalesced threads.
//
// A reduction's loops, flattened into its n positions (the innermost loop fastest), are split
// over T threads (a power of two): position p = r_o*T + lid, with lid = threadIdx.x (a SPECIAL
// "lid"), so thread lid takes positions lid, lid+T, lid+2T, ... (neighbouring threads read
// neighbouring addresses where the innermost loop is contiguous) and each loop becomes
// (p // stride) % size. Positions past n (n not a multiple of T) add the identity and their
// loads are gated. Then the partials are combined through shared memory,
// in the IR, so that a renderer only spells the ops:
//   DEFINE_LOCAL L[T]; STORE L[lid] = partial; BARRIER
//   for s = T/2 .. 1 (unrolled): STORE L[lid] = L[lid] op L[lid+s] where lid < s; BARRIER
//   result = LOAD L[0] (after the last BARRIER)
// A LOAD from local memory carries the BARRIER it must follow as its second source, and a
// BARRIER has the STOREs it waits for as sources, so linearization (which orders by data
// dependencies) keeps them in order. Only thread 0 stores the kernel's outputs. The output
// positions become blocks (gpu_dims.cpp). Several reductions in one kernel (a sum and a max)
// each split their own loops over the same threads, and share the barriers.
//
// Every barrier is outside every loop and every condition, so all threads of a block reach
// each of them: kernels whose reductions nest are left as they are (one thread per output).
#include <algorithm>
#include <bit>
#include <cmath>
#include <unordered_map>

#include "codegen/codegen.h"
#include "rewrite/trace.h"

namespace mg::codegen {

namespace {
constexpr int64_t kGroupMinReduce = 256;   // shorter reductions stay in one thread
constexpr int64_t kGroupFewOutputs = 2048;  // fewer outputs than this cannot fill a GPU alone
constexpr int64_t kGroupMinThreads = 32;    // one warp at least, or no GROUP

int64_t size_of(const UOp* r) { return r->src[0]->const_int(); }
UOpRef iconst(UOpTable& t, int64_t v) { return t.cnst(dtypes::index, v); }

// The identity of a reduction: what padded positions add.
UOpRef identity(UOpTable& t, Ops op, DType d) {
  if (op == Ops::ADD) return d.is_float() ? t.cnst(d, 0.0) : t.cnst(d, int64_t(0));
  if (op == Ops::MUL) return d.is_float() ? t.cnst(d, 1.0) : t.cnst(d, int64_t(1));
  if (d.is_float()) return t.cnst(d, -double(INFINITY));
  if (d.is_bool()) return t.cnst(d, int64_t(0));
  return t.cnst(d, int64_t(int_min(d.scalar)));
}

// The kernel's reductions when GROUP can take them all: loops that are RANGEs, none inside
// another's value. Empty otherwise.
std::vector<const UOp*> groupable_reduces(const UOpRef& g) {
  std::vector<const UOp*> reds;
  for (UOp* u : g->toposort()) {
    if (u->op == Ops::REDUCE) reds.push_back(u);
    if (u->op == Ops::RANGE && u->src[0]->op != Ops::CONST) return {};  // loops to a variable: not here
  }
  for (const UOp* u : reds) {
    if (u->src.size() < 2) return {};
    for (size_t i = 1; i < u->src.size(); i++)
      if (u->src[i]->op != Ops::RANGE) return {};
    for (UOp* v : u->src[0]->toposort())
      if (v->op == Ops::REDUCE) return {};
  }
  return reds;
}

// Every load whose address depends on r moves by one element per step of r: a warp reads one
// contiguous run.
bool coalesced_in(const UOpRef& g, const UOp* r) {
  for (UOp* u : g->toposort()) {
    if (u->op != Ops::LOAD) continue;
    std::optional<int64_t> s = index_stride(u->src[0]->src[1], r);
    if (!s || (*s != 0 && *s != 1)) return false;
  }
  return true;
}

int64_t output_positions(const UOpRef& g) {
  std::vector<const UOp*> seen;
  int64_t n = 1;
  for (const UOpRef& st : g->src)
    for (UOp* u : st->src[0]->toposort())
      if (u->op == Ops::RANGE && std::find(seen.begin(), seen.end(), u) == seen.end()) {
        seen.push_back(u);
        n *= size_of(u);
      }
  return n;
}

// The positions a reduction visits: the product of its loops (0 when that overflows).
int64_t positions(const UOp* u) {
  int64_t n = 1;
  for (size_t i = 1; i < u->src.size(); i++)
    if (__builtin_mul_overflow(n, size_of(u->src[i].get()), &n)) return 0;
  return n;
}

// Reductions of float16/bfloat16 are summed in float32 (as one thread's accumulator is) and
// rounded once at the end.
DType partial_type(DType d) { return d.scalar == Scalar::Float16 || d.scalar == Scalar::BFloat16 ? dtypes::float32 : d; }
}  // namespace

UOpRef group_reductions(const UOpRef& g, const Target& t, Kernel& k, RewriteTrace* trace) {
  if (!t.gpu) return g;
  std::vector<const UOp*> reds = groupable_reduces(g);
  if (reds.empty()) return g;
  // The longest reduction decides whether GROUP pays; neighbouring threads take neighbouring
  // positions of the innermost loop, so loads contiguous in it are coalesced.
  bool all_coalesced = true;
  int64_t longest = 0;
  for (const UOp* u : reds) {
    if (!positions(u)) return g;
    all_coalesced = all_coalesced && coalesced_in(g, u->src.back().get());
    longest = std::max(longest, positions(u));
  }
  const int64_t outputs = output_positions(g);
  if (longest < kGroupMinReduce || outputs > t.max_blocks) return g;
  if (outputs >= kGroupFewOutputs && !all_coalesced) return g;  // one thread per output does well
  int64_t local_bytes = 0;
  for (const UOp* u : reds) local_bytes += partial_type(u->dtype).itemsize();
  int64_t threads = std::bit_floor(uint64_t(std::min<int64_t>({int64_t(t.block_threads), int64_t(t.max_threads), longest})));
  while (threads >= kGroupMinThreads && threads * local_bytes > t.shared_bytes) threads /= 2;
  if (threads < kGroupMinThreads) return g;

  UOpTable& tab = *g->table;
  UOpRef lid = tab.make(Ops::SPECIAL, dtypes::index, {iconst(tab, threads)}, std::string("lid"));

  // The partials: each reduction's loops flattened into positions p = r_o*T + lid (the last
  // loop fastest), each loop (p // stride) % size; positions past n masked.
  std::unordered_map<const UOp*, UOpRef> subs;
  std::vector<UOpRef> partials;
  bool any_padded = false;
  for (const UOp* u : reds) {
    const int64_t n = positions(u), steps = (n + threads - 1) / threads;
    UOpRef ro = tab.make(Ops::RANGE, dtypes::index, {iconst(tab, steps)}, u->src[1]->arg);
    UOpRef pos = steps == 1 ? lid : ro * iconst(tab, threads) + lid;
    const bool padded = steps * threads != n;
    any_padded = any_padded || padded;
    UOpRef valid = lt(pos, iconst(tab, n));
    const Ops op = std::get<Ops>(u->arg);
    const DType pd = partial_type(u->dtype);
    std::unordered_map<const UOp*, UOpRef> loops;
    int64_t stride = 1;
    for (size_t i = u->src.size(); i-- > 1;) {
      const UOp* r = u->src[i].get();
      UOpRef x = stride == 1 ? pos : idiv(pos, iconst(tab, stride));
      loops[r] = i == 1 ? x : x % iconst(tab, size_of(r));  // the outermost: past n only where masked
      stride *= size_of(r);
    }
    UOpRef v = substitute(u->src[0], loops);
    if (padded) {
      // loads that could leave their buffer past n read nothing there
      std::unordered_map<const UOp*, UOpRef> gates;
      for (UOp* x : v->toposort())
        if (x->op == Ops::INDEX && x->src[0]->op == Ops::DEFINE_GLOBAL && in_graph(x->src[1].get(), lid.get()) && !inside_buffer(x->src[1], x->dtype)) {
          std::vector<UOpRef> src(x->src.begin(), x->src.end());
          src[2] = src[2] & valid;
          gates[x] = tab.make(Ops::INDEX, x->dtype, std::move(src), x->arg);
        }
      if (!gates.empty()) v = substitute(v, gates);
      v = where(valid, v, identity(tab, op, u->dtype));
    }
    if (pd != u->dtype) v = cast(v, pd);
    partials.push_back(steps == 1 ? v : tab.make(Ops::REDUCE, pd, {v, ro}, u->arg));  // one position each: no loop
  }

  // The combine: one shared buffer per reduction, one barrier per step for all of them.
  std::vector<UOpRef> locals;
  for (size_t i = 0; i < reds.size(); i++)
    locals.push_back(tab.make(Ops::DEFINE_LOCAL, partials[i]->dtype.ptr(threads, AddrSpace::Local), {}, int64_t(i)));
  UOpRef truth = tab.cnst(dtypes::bool_, int64_t(1));
  auto at = [&](size_t i, const UOpRef& idx, const UOpRef& gate) { return tab.make(Ops::INDEX, locals[i]->dtype, {locals[i], idx, gate}); };
  auto load = [&](size_t i, const UOpRef& idx, const UOpRef& gate, const UOpRef& after) {
    return tab.make(Ops::LOAD, partials[i]->dtype, {at(i, idx, gate), after});
  };
  std::vector<UOpRef> stores;
  for (size_t i = 0; i < reds.size(); i++) stores.push_back(tab.make(Ops::STORE, dtypes::void_, {at(i, lid, truth), partials[i]}));
  UOpRef bar = tab.make(Ops::BARRIER, dtypes::void_, stores);
  for (int64_t s = threads / 2; s >= 1; s /= 2) {
    UOpRef active = lt(lid, iconst(tab, s));
    stores.clear();
    for (size_t i = 0; i < reds.size(); i++) {
      UOpRef v = alu(std::get<Ops>(reds[i]->arg), {load(i, lid, active, bar), load(i, lid + iconst(tab, s), active, bar)});
      stores.push_back(tab.make(Ops::STORE, dtypes::void_, {at(i, lid, active), v}));
    }
    bar = tab.make(Ops::BARRIER, dtypes::void_, stores);
  }
  for (size_t i = 0; i < reds.size(); i++) {
    UOpRef res = load(i, iconst(tab, 0), truth, bar);
    subs[reds[i]] = res->dtype == reds[i]->dtype ? res : cast(res, reds[i]->dtype);
  }
  UOpRef res = substitute(g, subs);

  // Thread 0 stores the outputs (every thread computed the same values).
  std::vector<UOpRef> outs;
  UOpRef first = eq(lid, iconst(tab, 0));
  for (const UOpRef& st : res->src) {
    std::vector<UOpRef> src(st->src.begin(), st->src.end());
    const UOpRef& idx = src[0];
    src[0] = tab.make(Ops::INDEX, idx->dtype, {idx->src[0], idx->src[1], idx->src[2] & first}, idx->arg);
    outs.push_back(tab.make(Ops::STORE, st->dtype, std::move(src), st->arg));
  }
  res = sink(std::move(outs));
  k.group = threads;
  k.opts.push_back("GROUP " + std::to_string(longest) + " x" + std::to_string(threads) + (any_padded ? " padded" : ""));
  if (trace) {  // one step in VIZ: the whole kernel before and after
    TraceStep& step = trace->add_step("group reduce", false, g);
    step.output = res;
    step.matches.push_back({g, res, "group reduce", "src/codegen/group_reduce.cpp", 0});
  }
  return res;
}

}  // namespace mg::codegen
