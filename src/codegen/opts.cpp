// Heuristic optimizations (tinygrad's hand-coded ones, simplified), applied to the lowered and
// simplified kernel. Each change is a substitution of one RANGE, run as a named graph_rewrite:
//   unroll reduce   a reduction axis of at most 8 becomes that many copies of its value
//   upcast          the output's innermost axis (when every access is contiguous in it) becomes
//                   the lanes of a vector: r -> r_o*W + lane
//   unroll          in reduction kernels, an outer output axis becomes 4 copies of the kernel
//                   body (4 accumulators sharing each load of the other operand): r -> r_o*4 + c
//   group           GPU targets: a reduction over few outputs split across a block's threads
//                   (group_reduce.cpp); then neither upcast nor unroll
#include <algorithm>
#include <unordered_set>

#include "codegen/codegen.h"
#include "rewrite/graph_rewrite.h"
#include "rewrite/symbolic.h"

namespace mg::codegen {

namespace {
constexpr int64_t kUnrollReduceMax = 8;  // a reduction axis this small is unrolled, while the
                                         // unrolled copies stay within this many in all
constexpr int64_t kUnrollOutput = 4;
constexpr int64_t kLaneIds = 1 << 20;  // lane RANGE ids: apart from loop ids

UOpRef iconst(UOpTable& t, int64_t v) { return t.cnst(dtypes::index, v); }
// -1 for a loop to a variable: no opt splits or unrolls it
int64_t size_of(const UOp* r) { return r->src[0]->op == Ops::CONST ? r->src[0]->const_int() : -1; }
// g with the node `from` replaced by `to` everywhere, as a named rewrite (VIZ shows it). `to`
// must not contain `from`.
UOpRef substitute(const UOpRef& g, const UOp* from, const UOpRef& to, std::string_view name, RewriteTrace* trace) {
  PatternMatcher pm({{UPat(from->op).where([from](const UOp& u) { return &u == from; }), [to](B&) { return to; }, "substitute"}});
  return graph_rewrite(g, pm, nullptr, {.name = name, .trace = trace});
}

// The loops of the output: the ranges the stores' addresses use (lanes excluded), outer first.
std::vector<const UOp*> output_ranges(const UOpRef& g) {
  std::vector<const UOp*> out;
  for (const UOpRef& st : g->src)
    for (UOp* u : st->src[0]->toposort())
      if (u->op == Ops::RANGE && std::get<int64_t>(u->arg) < kLaneIds && std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
  std::sort(out.begin(), out.end(), [](const UOp* a, const UOp* b) { return std::get<int64_t>(a->arg) < std::get<int64_t>(b->arg); });
  return out;
}

// Every load and store of g is contiguous in r (stride 1) or does not depend on it.
bool contiguous_in(const UOpRef& g, const UOp* r) {
  for (UOp* u : g->toposort()) {
    if (u->op != Ops::INDEX || !u->dtype.is_ptr()) continue;
    std::optional<int64_t> s = index_stride(u->src[1], r);
    if (!s || (*s != 0 && *s != 1)) return false;
  }
  return true;
}

// Lanes for an axis of n, at most `most`: the most that divide it among most and most/2, else
// most/2 lanes over the axis padded up to a multiple of them (20 as 3 x 8, the last 4 lanes
// masked), else 4 lanes (3 as 4, one masked).
int64_t lane_count(int64_t n, int64_t most) {
  for (int64_t w = most; w >= std::max<int64_t>(most / 2, 4); w /= 2)
    if (n % w == 0) return w;
  if (n >= 5 && most >= 8) return most / 2;
  return n >= 3 && most >= 4 ? 4 : 1;
}

// Padded lanes (r -> r_o*w + lane over more than the n positions of r): stores are masked to the
// real positions, and so are the loads that could otherwise read past their buffer's end and its
// slack (the others read what is there, into lanes that are never stored).
UOpRef mask_padded_lanes(const UOpRef& g, const UOpRef& pos, int64_t n, const Target& target, RewriteTrace* trace) {
  UOpTable& t = *g->table;
  UOpRef valid = lt(pos, iconst(t, n));
  std::unordered_set<const UOp*> stores;
  for (const UOpRef& st : g->src) stores.insert(st->src[0].get());
  const UOp* lane_dep = pos.get();
  PatternMatcher pm({{UPat(Ops::INDEX).where([&](const UOp& u) { return u.dtype.is_ptr() && in_graph(u.src[1].get(), lane_dep); }),
                      [&](B& b) -> UOpRef {
                        const UOp& i = *b.root;
                        if (in_graph(i.src[2].get(), valid.get())) return nullptr;  // masked already
                        bool store = stores.count(&i) > 0;
                        int64_t slack = target.read_slack_bytes / std::max(i.dtype.base().itemsize(), 1);
                        if (!store && inside_buffer(i.src[1], i.dtype, slack)) return nullptr;
                        return t.make(Ops::INDEX, i.dtype, {i.src[0], i.src[1], i.src[2] & valid});
                      },
                      "mask padded lanes"}});
  return graph_rewrite(g, pm, nullptr, {.name = "mask padded lanes", .trace = trace});
}

// The loads inside reductions that do not depend on r (each copy of an unroll of r shares them),
// counted by lanes: a vector load counts as wide as it is.
int64_t shared_loads(const UOpRef& g, const UOp* r, const UOp* lane) {
  int64_t n = 0;
  for (UOp* u : g->toposort()) {
    if (u->op != Ops::LOAD) continue;
    const UOp* addr = u->src[0]->src[1].get();
    if (in_graph(addr, r)) continue;
    n += lane && in_graph(addr, lane) ? size_of(lane) : 1;
  }
  return n;
}

UOpRef fold(Ops op, const std::vector<UOpRef>& xs) {
  UOpRef acc = xs[0];
  for (size_t i = 1; i < xs.size(); i++) acc = alu(op, {acc, xs[i]});
  return acc;
}

UOpRef unroll_reduce(const UOpRef& g, const UOp* r, RewriteTrace* trace) {
  PatternMatcher pm({{UPat(Ops::REDUCE).where([r](const UOp& u) { return std::find(u.src.begin() + 1, u.src.end(), r) != u.src.end(); }),
                      [r, trace](B& b) {
                        const UOp& red = *b.root;
                        std::vector<UOpRef> copies;
                        for (int64_t c = 0; c < size_of(r); c++) copies.push_back(substitute(red.src[0], r, iconst(*r->table, c), "unroll copy", trace));
                        std::vector<UOpRef> src{fold(std::get<Ops>(red.arg), copies)};
                        for (size_t i = 1; i < red.src.size(); i++)
                          if (red.src[i].get() != r) src.push_back(red.src[i]);
                        if (src.size() == 1) return src[0];  // no loop left: the folded value
                        return red.table->make(Ops::REDUCE, red.dtype, std::move(src), red.arg);
                      },
                      "unroll reduce"}});
  return graph_rewrite(g, pm, nullptr, {.name = "unroll reduce", .trace = trace});
}

// r -> r_o*k + c for each c: k copies of every store.
UOpRef unroll_output(const UOpRef& g, const UOp* r, int64_t k, RewriteTrace* trace) {
  UOpTable& t = *g->table;
  UOpRef ro = t.make(Ops::RANGE, dtypes::index, {iconst(t, size_of(r) / k)}, r->arg);
  std::vector<UOpRef> stores;
  for (const UOpRef& st : g->src)
    for (int64_t c = 0; c < k; c++) stores.push_back(substitute(st, r, ro * iconst(t, k) + iconst(t, c), "unroll", trace));
  return sink(std::move(stores));
}
}  // namespace

std::optional<int64_t> index_stride(const UOpRef& idx, const UOp* r) {
  if (!in_graph(idx.get(), r)) return 0;
  UOpRef next = mg::substitute(idx, {{r, r->ref() + iconst(*r->table, 1)}});
  UOpRef d = simplify(next - idx);
  if (d->op != Ops::CONST) return std::nullopt;
  return d->const_int();
}

UOpRef apply_opts(const UOpRef& g0, const Target& target, Kernel& k, RewriteTrace* trace) {
  if (!target.opts) return g0;
  UOpRef g = g0;
  UOpTable& t = *g->table;
  // small reductions: unrolled, innermost axis first, while the copies stay few
  int64_t copies = 1;
  for (bool again = true; again;) {
    again = false;
    for (UOp* u : g->toposort()) {
      if (u->op != Ops::REDUCE) continue;
      for (size_t i = u->src.size() - 1; i >= 1 && !again; i--) {
        const UOp* r = u->src[i].get();
        if (r->op == Ops::RANGE && size_of(r) > 0 && copies * size_of(r) <= kUnrollReduceMax) {
          copies *= size_of(r);
          k.opts.push_back("UNROLL reduce " + std::to_string(std::get<int64_t>(r->arg)) + " x" + std::to_string(size_of(r)));
          g = unroll_reduce(g, r, trace);
          again = true;
        }
      }
      if (again) break;
    }
  }
  // GPU targets: reductions over few outputs split across a block; such a kernel keeps its
  // output axes whole (each is a block of threads already)
  if (target.gpu) {
    UOpRef grouped = group_reductions(g, target, k, trace);
    if (grouped != g) return graph_rewrite(grouped, symbolic(), nullptr, {.name = "symbolic after opts", .bottom_up = true, .trace = trace});
  }
  std::vector<const UOp*> out = output_ranges(g);
  bool has_reduce = false;
  for (UOp* u : g->toposort()) has_reduce = has_reduce || u->op == Ops::REDUCE;
  // upcast: the innermost output axis into vector lanes
  const UOp* lane_of = nullptr;
  if (!out.empty() && target.vector_bytes > 0) {
    const UOp* r = out.back();
    int item = g->src[0]->src[1]->dtype.itemsize();
    int64_t n = size_of(r), w = n < 0 ? 1 : lane_count(n, std::max<int64_t>(target.vector_bytes / std::max(item, 1), 1));
    if (w > 1 && contiguous_in(g, r)) {
      int64_t groups = (n + w - 1) / w;
      UOpRef lane = t.make(Ops::RANGE, dtypes::index, {iconst(t, w)}, kLaneIds + std::get<int64_t>(r->arg));
      UOpRef to = groups == 1 ? lane : t.make(Ops::RANGE, dtypes::index, {iconst(t, groups)}, r->arg) * iconst(t, w) + lane;
      k.opts.push_back("UPCAST " + std::to_string(std::get<int64_t>(r->arg)) + " x" + std::to_string(w) + (groups * w != n ? " padded" : ""));
      g = substitute(g, r, to, "upcast", trace);
      if (groups * w != n) g = mask_padded_lanes(g, to, n, target, trace);
      lane_of = lane.get();
      k.width = int(w);
    }
  }
  // unroll output axes of a reduction kernel (not the only loop left to split): by 4 the one
  // whose copies share the most loads (vector loads counting for their lanes), then by 2 the
  // next one, when its copies share some: a register tile of 4 x 2 vectors
  if (has_reduce) {
    int64_t done = -1;  // the axis unrolled by 4 (its outer part keeps the id)
    for (int64_t by : {kUnrollOutput, int64_t(2)}) {
      const UOp* best = nullptr;
      int64_t best_shared = by == kUnrollOutput ? -1 : 0;
      for (const UOp* r : output_ranges(g)) {
        if (size_of(r) % by || size_of(r) < 2 * by || std::get<int64_t>(r->arg) == done) continue;
        int64_t shared = shared_loads(g, r, lane_of);
        if (shared > best_shared) best = r, best_shared = shared;
      }
      if (!best) break;
      k.opts.push_back("UNROLL " + std::to_string(std::get<int64_t>(best->arg)) + " x" + std::to_string(by));
      done = std::get<int64_t>(best->arg);
      g = unroll_output(g, best, by, trace);
    }
  }
  g = graph_rewrite(g, symbolic(), nullptr, {.name = "symbolic after opts", .bottom_up = true, .trace = trace});
  if (lane_of)
    for (UOp* u : g->toposort())
      if (u->op == Ops::RANGE && std::get<int64_t>(u->arg) >= kLaneIds) k.lane = u;
  if (lane_of && !k.lane) k.width = 1;  // folded away
  return g;
}

}  // namespace mg::codegen
