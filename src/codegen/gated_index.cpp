// Addresses simplified under their load's gate. A gated load reads memory only where its gate
// holds; where the gate bounds a loop (r < 20 in a loop of 24, from padding), the address may
// assume those bounds, and r // 20, r % 20 left by reshapes fold to 0 and r. This keeps the
// indices of padded windows (a convolution's input gradient) affine, hence vectorizable.
#include <unordered_map>

#include "codegen/codegen.h"
#include "rewrite/graph_rewrite.h"
#include "rewrite/symbolic.h"

namespace mg::codegen {

namespace {
using Bounds = std::unordered_map<const UOp*, std::pair<int64_t, int64_t>>;

// The bounds the clauses `r < c` and `c < r` of an AND of comparisons put on loops r.
void gate_bounds(const UOp* g, Bounds& b) {
  if (g->op == Ops::AND) {
    for (const UOpRef& s : g->src) gate_bounds(s.get(), b);
    return;
  }
  if (g->op != Ops::CMPLT || g->dtype.count != 1) return;
  const UOp *x = g->src[0].get(), *y = g->src[1].get();
  const UOp* r = x->op == Ops::RANGE && y->op == Ops::CONST ? x : y->op == Ops::RANGE && x->op == Ops::CONST ? y : nullptr;
  if (!r) return;
  auto it = b.try_emplace(r, 0, int64_t(r->vmax())).first;
  if (r == x) it->second.second = std::min(it->second.second, y->const_int() - 1);
  else it->second.first = std::max(it->second.first, x->const_int() + 1);
}

// The address with the loop bounds the gate implies, when that is simpler.
UOpRef under_gate(const UOp& i) {
  Bounds bounds;
  gate_bounds(i.src[2].get(), bounds);
  std::unordered_map<const UOp*, UOpRef> to_var, back;
  for (const auto& [r, lohi] : bounds) {
    auto [lo, hi] = lohi;
    if (lo > hi || (lo == 0 && hi == int64_t(r->vmax()))) continue;  // never read, or not narrower
    UOpRef v = i.table->var("gated" + std::to_string(std::get<int64_t>(r->arg)), lo, hi);
    to_var[r] = v;
    back[v.get()] = r->ref();
  }
  if (to_var.empty()) return i.src[1];
  return substitute(simplify(substitute(i.src[1], to_var)), back);
}

UOpRef gated_index(B& b) {
  const UOp& i = *b.root;
  UOpRef a = under_gate(i);
  // Inside the buffer whatever the gate: read unconditionally (a plain load rather than a
  // masked one or a gather). Index lowering puts every gated load under a WHERE of its gate
  // (padding, and reductions inside padding), so what it reads where the gate is false is
  // never used.
  if (inside_buffer(a, i.dtype))
    return i.table->make(Ops::INDEX, i.dtype, {i.src[0], a, i.table->cnst(dtypes::bool_, int64_t(1))});
  if (a == i.src[1]) return nullptr;
  return i.table->make(Ops::INDEX, i.dtype, {i.src[0], a, i.src[2]});
}

bool gated(const UOp& u) { return u.dtype.is_ptr() && u.src.size() == 3 && u.src[2]->op != Ops::CONST; }
}  // namespace

UOpRef simplify_gated_indices(const UOpRef& g, RewriteTrace* trace) {
  static const PatternMatcher pm({{UPat(Ops::INDEX).where(gated), gated_index, "index under its gate"}});
  return graph_rewrite(g, pm, nullptr, {.name = "gated indices", .trace = trace});
}

}  // namespace mg::codegen
