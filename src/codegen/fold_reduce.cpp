// Reductions with a closed form, found after index lowering (REDUCE over explicit RANGEs):
//   count    sum over r of where(bounds on r, c, 0), or of c, c not depending on r: c times the
//            number of positions within the bounds. A lazy arange is such a count (ops_create.lua);
//            so is the size of a variable axis (a mean over one, docs/variables.md).
//   one-hot  sum over r of where(f(r) == v and rest, x(r), 0) with f(r) = r + e or e - r: the one
//            term where r solves f(r) = v, if that position exists. Indexing by a tensor (x[idx])
//            builds its one-hot sum; this makes it one load.
// Both are exact; counts only for integers (a float sum of n copies rounds differently from c*n).
#include "codegen/codegen.h"
#include "rewrite/graph_rewrite.h"
#include "rewrite/symbolic.h"

namespace mg::codegen {

namespace {
UOpRef iconst(UOpTable& t, int64_t v) { return t.cnst(dtypes::index, v); }

void clauses_of(const UOpRef& c, std::vector<UOpRef>& out) {
  if (c->op == Ops::AND && c->dtype.is_bool()) {
    for (const UOpRef& s : c->src) clauses_of(s, out);
    return;
  }
  out.push_back(c);
}

UOpRef all_of(UOpTable& t, const std::vector<UOpRef>& cs) {
  UOpRef r = t.cnst(dtypes::bool_, int64_t(1));
  for (const UOpRef& c : cs) r = r & c;
  return r;
}

// e as an index: itself, the index an integer CAST of it came from when every value of that
// index fits the cast's type, or a widening of a (signed, or narrower than 64-bit) integer.
UOpRef as_index(const UOpRef& e0) {
  UOpRef e = simplify(e0);  // a reduction folded just below is not simplified yet
  if (e->dtype == dtypes::index) return e;
  if (!e->dtype.is_int() || e->dtype.count != 1) return nullptr;
  const UOpRef& s = e->src.empty() ? e : e->src[0];
  if (e->op == Ops::CAST && s->dtype == dtypes::index && s->vmin() >= int_min(e->dtype.scalar) && s->vmax() <= int_max(e->dtype.scalar))
    return s;
  if (e->dtype.itemsize() < 8 || !e->dtype.is_unsigned()) return cast(e, dtypes::index);
  return nullptr;
}

// d == s*r + rest with s = +1 or -1 and rest free of r.
struct Unit {
  int64_t s = 0;
  UOpRef rest;
};
std::optional<Unit> unit_in(const UOpRef& d, const UOp* r) {
  std::optional<int64_t> s = index_stride(d, r);
  if (!s || (*s != 1 && *s != -1)) return std::nullopt;
  UOpRef rest = simplify(d - r->ref() * iconst(*r->table, *s));
  if (in_graph(rest.get(), r)) return std::nullopt;
  return Unit{*s, rest};
}

// The parts of a reduced value: cast(where(cond, x, zero)), with `cast` possibly absent.
struct Masked {
  const UOp* cast = nullptr;
  std::vector<UOpRef> clauses;
  UOpRef x, zero;
  UOpRef rebuild(const UOpRef& cond, const UOpRef& value) const {
    UOpRef w = where(cond, value, zero);
    return cast ? mg::cast(w, cast->dtype) : w;
  }
};
std::optional<Masked> masked(const UOpRef& v) {
  Masked m;
  const UOpRef* w = &v;
  if (v->op == Ops::CAST) m.cast = v.get(), w = &v->src[0];
  if ((*w)->op != Ops::WHERE) {  // a value with no bounds (its cast included): every position counts
    m.cast = nullptr;
    m.x = v;
    m.zero = const_like(v, 0);
    return m;
  }
  if (!(*w)->src[2]->is_const() || (*w)->src[2]->const_int() != 0) return std::nullopt;
  clauses_of((*w)->src[0], m.clauses);
  m.x = (*w)->src[1];
  m.zero = (*w)->src[2];
  return m;
}

// x with its loads whose address uses `at` gated by `valid`: where the solved position is out of
// range, the load must not happen (it could read outside its buffer).
UOpRef gate_loads(const UOpRef& x, const UOp* at, const UOpRef& valid) {
  std::unordered_map<const UOp*, UOpRef> sub;
  for (UOp* u : x->toposort())
    if (u->op == Ops::INDEX && u->dtype.is_ptr() && in_graph(u->src[1].get(), at))
      sub[u] = u->table->make(Ops::INDEX, u->dtype, {u->src[0], u->src[1], u->src[2] & valid});
  return sub.empty() ? x : substitute(x, sub);
}

UOpRef one_hot(const Masked& m, const UOp* r) {
  UOpTable& t = *r->table;
  for (size_t i = 0; i < m.clauses.size(); i++) {
    const UOpRef& c = m.clauses[i];
    if (c->op != Ops::CMPEQ || c->dtype.count != 1) continue;
    UOpRef a = as_index(c->src[0]), b = as_index(c->src[1]);
    if (!a || !b) continue;
    std::optional<Unit> u = unit_in(simplify(a - b), r);
    if (!u) continue;
    UOpRef at = u->s == 1 ? -u->rest : u->rest;  // s*r + rest == 0
    std::unordered_map<const UOp*, UOpRef> sub{{r, at}};
    std::vector<UOpRef> cond{lt(iconst(t, -1), at), lt(at, r->src[0])};
    for (size_t j = 0; j < m.clauses.size(); j++)
      if (j != i) cond.push_back(substitute(m.clauses[j], sub));
    UOpRef valid = all_of(t, cond);
    return m.rebuild(valid, gate_loads(substitute(m.x, sub), at.get(), valid));
  }
  return nullptr;
}

UOpRef count(const Masked& m, const UOp* r) {
  UOpTable& t = *r->table;
  // c * count in the sum's own type: an integer (a float sum of n copies rounds differently)
  if (in_graph(m.x.get(), r) || !m.x->dtype.is_int() || (m.cast && !m.cast->dtype.is_int())) return nullptr;
  UOpRef lo = iconst(t, 0), hi = r->src[0];
  std::vector<UOpRef> free;
  for (const UOpRef& c : m.clauses) {
    if (!in_graph(c.get(), r)) { free.push_back(c); continue; }
    if (c->op != Ops::CMPLT || c->dtype.count != 1) return nullptr;
    UOpRef a = as_index(c->src[0]), b = as_index(c->src[1]);
    if (!a || !b) return nullptr;
    std::optional<Unit> u = unit_in(simplify(b - a), r);  // a < b: s*r + rest > 0
    if (!u) return nullptr;
    if (u->s == 1) lo = maximum(lo, iconst(t, 1) - u->rest);  // r >= 1 - rest
    else hi = -maximum(-hi, -u->rest);                          // r < rest
  }
  UOpRef n = maximum(hi - lo, iconst(t, 0));
  UOpRef c = m.cast ? cast(m.x, m.cast->dtype) : m.x;  // widened before it is multiplied
  return where(all_of(t, free), c * cast(n, c->dtype), const_like(c, 0));
}

UOpRef fold(B& b) {
  const UOp& red = *b.root;
  if (std::get<Ops>(red.arg) != Ops::ADD) return nullptr;
  std::optional<Masked> m = masked(red.src[0]);
  if (!m) return nullptr;
  for (size_t i = 1; i < red.src.size(); i++) {
    const UOp* r = red.src[i].get();
    if (r->op != Ops::RANGE) continue;
    UOpRef done = one_hot(*m, r);
    if (!done) done = count(*m, r);
    if (!done) continue;
    std::vector<UOpRef> src{done};
    for (size_t j = 1; j < red.src.size(); j++)
      if (j != i) src.push_back(red.src[j]);
    return src.size() == 1 ? done : red.table->make(Ops::REDUCE, red.dtype, std::move(src), red.arg);
  }
  return nullptr;
}
}  // namespace

UOpRef fold_reductions(const UOpRef& g, RewriteTrace* trace) {
  static const PatternMatcher pm({{UPat(Ops::REDUCE), fold, "reduction with a closed form"}});
  UOpRef out = graph_rewrite(g, pm, nullptr, {.name = "fold reductions", .trace = trace});
  if (out == g) return g;
  return graph_rewrite(out, symbolic(), nullptr, {.name = "symbolic after folding", .bottom_up = true, .trace = trace});
}

}  // namespace mg::codegen
