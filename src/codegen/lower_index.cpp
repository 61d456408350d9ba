// Index lowering: the kernel AST's tensor-level ops become scalar code over RANGEs.
// INDEX(x, i_1..i_n, gate) (a value dtype, not a pointer) means "x at these indices"; the
// rules push it down through movement and elementwise ops until it reaches a buffer (a LOAD)
// or a constant. A gate is true where the value is read: padding makes it a condition, and
// loads under a false gate do not happen (they give 0).
#include "codegen/codegen.h"
#include "rewrite/graph_rewrite.h"
#include "uop/error.h"

namespace mg::codegen {

namespace {
struct LowerCtx {
  int64_t next_range = 0;  // RANGE ids: the output's axes first, then each reduction's
};

using Idx = std::vector<UOpRef>;

UOpRef iconst(UOpTable& t, int64_t v) { return t.cnst(dtypes::index, v); }
Idx idx_of(const UOp& i) { return Idx(i.src.begin() + 1, i.src.end() - 1); }
const UOpRef& gate_of(const UOp& i) { return i.src.back(); }

UOpRef at(const UOpRef& x, Idx idx, const UOpRef& gate) {
  idx.insert(idx.begin(), x);
  idx.push_back(gate);
  return x->table->make(Ops::INDEX, x->dtype, std::move(idx));
}

// Sizes may be symbolic dims (a variable's DEFINE_VAR): loops and strides then use it.
UOpRef range(UOpTable& t, int64_t size, int64_t id) { return t.make(Ops::RANGE, dtypes::index, {t.dim_node(size)}, id); }

const std::vector<int64_t>& ints(const UOp& u) { return std::get<std::vector<int64_t>>(u.arg); }

// A product of dims: a number times the variables among them.
struct Stride {
  int64_t n = 1;
  UOpRef vars;
  void mul(UOpTable& t, int64_t d) {
    if (!is_sym(d)) n *= d;
    else vars = vars ? vars * t.dim_node(d) : t.dim_node(d);
  }
  bool one() const { return n == 1 && !vars; }
  UOpRef node(UOpTable& t) const { return !vars ? iconst(t, n) : n == 1 ? vars : vars * iconst(t, n); }
};

// Row-major linear index of idx in shape s, and back.
UOpRef flatten(UOpTable& t, const Idx& idx, const Shape& s) {
  UOpRef lin = iconst(t, 0);
  Stride stride;
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] != 1) lin = lin + idx[i] * stride.node(t);
    stride.mul(t, s[i]);
  }
  return lin;
}
Idx unflatten(UOpTable& t, const UOpRef& lin, const Shape& s) {
  Idx out(s.size());
  Stride stride;
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] == 1) out[i] = iconst(t, 0);
    else {
      UOpRef q = stride.one() ? lin : lin / stride.node(t);
      out[i] = i == 0 ? q : q % t.dim_node(s[i]);
    }
    stride.mul(t, s[i]);
  }
  return out;
}

// ---- the rules' callbacks: b["i"] is the INDEX, b["x"] the op it reads ----
UOpRef store(B& b) {
  UOpTable& t = *b.root->table;
  const UOpRef& v = b["v"];
  const Shape& s = *v->shape();
  auto& ctx = b.ctx_as<LowerCtx>();
  Idx r;
  for (size_t i = 0; i < s.size(); i++) r.push_back(range(t, s[i], int64_t(i)));
  ctx.next_range = int64_t(s.size());
  UOpRef truth = t.cnst(dtypes::bool_, int64_t(1));
  UOpRef ptr = t.make(Ops::INDEX, b["dg"]->dtype, {b["dg"], flatten(t, r, s), truth});
  std::vector<UOpRef> src{ptr, at(v, r, truth)};
  src.insert(src.end(), r.begin(), r.end());
  return t.make(Ops::STORE, dtypes::void_, std::move(src));
}

UOpRef load(B& b) {
  const UOp& i = *b["i"];
  UOpTable& t = *i.table;
  const UOpRef& dg = b["x"]->src[0];
  return t.make(Ops::LOAD, i.dtype, {t.make(Ops::INDEX, dg->dtype, {dg, i.src[1], gate_of(i)})});
}

UOpRef elementwise(B& b) {
  const UOp& i = *b["i"];
  const UOpRef& x = b["x"];
  std::vector<UOpRef> src;
  for (const UOpRef& s : x->src) src.push_back(at(s, idx_of(i), gate_of(i)));
  return x->replace_src(std::move(src));
}

UOpRef constant(B& b) { return b["x"]; }

UOpRef reshape(B& b) {
  const UOp& i = *b["i"];
  const UOpRef& x = b["x"];
  UOpTable& t = *i.table;
  const UOpRef& src = x->src[0];
  return at(src, unflatten(t, flatten(t, idx_of(i), ints(*x)), *src->shape()), gate_of(i));
}

UOpRef permute(B& b) {
  const UOp& i = *b["i"];
  const UOpRef& x = b["x"];
  Idx in = idx_of(i), out(in.size());
  const auto& p = ints(*x);
  for (size_t k = 0; k < p.size(); k++) out[size_t(p[k])] = in[k];
  return at(x->src[0], out, gate_of(i));
}

UOpRef expand(B& b) {
  const UOp& i = *b["i"];
  const UOpRef& x = b["x"];
  Idx idx = idx_of(i);
  const Shape& s = *x->src[0]->shape();
  for (size_t k = 0; k < s.size(); k++)
    if (s[k] == 1) idx[k] = iconst(*i.table, 0);
  return at(x->src[0], idx, gate_of(i));
}

UOpRef shrink(B& b) {
  const UOp& i = *b["i"];
  const UOpRef& x = b["x"];
  Idx idx = idx_of(i);
  const auto& a = ints(*x);
  for (size_t k = 0; k < idx.size(); k++)
    if (a[2 * k]) idx[k] = idx[k] + iconst(*i.table, a[2 * k]);
  return at(x->src[0], idx, gate_of(i));
}

UOpRef flip(B& b) {
  const UOp& i = *b["i"];
  const UOpRef& x = b["x"];
  Idx idx = idx_of(i);
  const Shape& s = *x->shape();
  for (int64_t k : ints(*x)) idx[size_t(k)] = i.table->dim_node(s[size_t(k)]) - iconst(*i.table, 1) - idx[size_t(k)];
  return at(x->src[0], idx, gate_of(i));
}

// Windows: position o_j*s_j + k_j*d_j of each windowed dim.
UOpRef window(B& b) {
  const UOp& i = *b["i"];
  const UOpRef& x = b["x"];
  UOpTable& t = *i.table;
  Idx idx = idx_of(i);
  const auto& a = ints(*x);
  const size_t n = a.size() / 3, pre = idx.size() - 2 * n;
  Idx in(idx.begin(), idx.begin() + int64_t(pre));
  for (size_t j = 0; j < n; j++)
    in.push_back(idx[pre + j] * iconst(t, a[3 * j + 1]) + idx[pre + n + j] * iconst(t, a[3 * j + 2]));
  return at(x->src[0], in, gate_of(i));
}

// Padding: the value where every index is inside the source, else 0; reads outside are gated.
UOpRef pad(B& b) {
  const UOp& i = *b["i"];
  const UOpRef& x = b["x"];
  UOpTable& t = *i.table;
  Idx idx = idx_of(i);
  const auto& a = ints(*x);
  const Shape& s = *x->src[0]->shape();
  UOpRef valid = t.cnst(dtypes::bool_, int64_t(1));
  for (size_t k = 0; k < idx.size(); k++) {
    if (!a[2 * k] && !a[2 * k + 1]) continue;
    UOpRef in = lt(iconst(t, a[2 * k] - 1), idx[k]) & lt(idx[k], iconst(t, a[2 * k] + s[k]));
    valid = valid & in;
    if (a[2 * k]) idx[k] = idx[k] - iconst(t, a[2 * k]);
  }
  UOpRef inner = at(x->src[0], idx, gate_of(i) & valid);
  return where(valid, inner, t.cnst(i.dtype, int64_t(0)));
}

UOpRef reduce(B& b) {
  const UOp& i = *b["i"];
  const UOpRef& x = b["x"];
  UOpTable& t = *i.table;
  auto& ctx = b.ctx_as<LowerCtx>();
  const ReduceArg& ra = std::get<ReduceArg>(x->arg);
  const Shape& s = *x->src[0]->shape();
  Idx idx = idx_of(i);
  std::vector<UOpRef> src{nullptr};
  for (int64_t ax : ra.axes) {
    UOpRef r = range(t, s[size_t(ax)], ctx.next_range++);
    idx[size_t(ax)] = r;
    src.push_back(r);
  }
  src[0] = at(x->src[0], idx, gate_of(i));
  return t.make(Ops::REDUCE, i.dtype, std::move(src), ra.op);
}

UOpRef passthrough(B& b) { return at(b["x"]->src[0], idx_of(*b["i"]), gate_of(*b["i"])); }

bool value_index(const UOp& u) { return !u.dtype.is_ptr(); }

UPat index_of(UPat x) { return UPat(Ops::INDEX).src_prefix({x.named("x")}).where(value_index).named("i"); }

const PatternMatcher& lower_rules() {
  static const PatternMatcher pm({
      {UPat(Ops::STORE).src({UPat(Ops::BUFFER).src({UPat(Ops::DEFINE_GLOBAL).named("dg")}), var("v")}), store, "store"},
      {index_of(UPat(Ops::BUFFER)), load, "load"},
      {index_of(UPat(Ops::CONST)), constant, "const"},
      {index_of(UPat(OpSet::group(OpGroup::Unary) | OpSet::group(OpGroup::Binary) | OpSet::group(OpGroup::Ternary))), elementwise,
       "elementwise"},
      {index_of(UPat(Ops::RESHAPE)), reshape, "reshape"},
      {index_of(UPat(Ops::PERMUTE)), permute, "permute"},
      {index_of(UPat(Ops::EXPAND)), expand, "expand"},
      {index_of(UPat(Ops::SHRINK)), shrink, "shrink"},
      {index_of(UPat(Ops::FLIP)), flip, "flip"},
      {index_of(UPat(Ops::PAD)), pad, "pad"},
      {index_of(UPat(Ops::WINDOW)), window, "window"},
      {index_of(UPat(Ops::REDUCE_AXIS)), reduce, "reduce"},
      {index_of(UPat(OpSet{Ops::CONTIGUOUS, Ops::DETACH})), passthrough, "passthrough"},
  });
  return pm;
}
}  // namespace

UOpRef lower_indexing(const UOpRef& ast, RewriteTrace* trace) {
  LowerCtx ctx;
  UOpRef out = graph_rewrite(ast, lower_rules(), &ctx, {.name = "lower indexing", .trace = trace});
  for (UOp* u : out->toposort())
    if (u->op == Ops::INDEX && value_index(*u))
      fail(ErrorKind::Internal, "codegen: cannot lower " + node_str(u->src[0].get()) + " inside a kernel");
  return out;
}

}  // namespace mg::codegen
