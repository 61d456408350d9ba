// Gradients: one rule per op (the table below), applied from the loss back to the targets.
// A rule gets the node and the gradient flowing into it, and gives one gradient per source
// (empty where there is none: integer, bool and index operands, DETACH, comparisons).
#include "tensor/gradient.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "uop/error.h"
#include "uop/exec_alu.h"

namespace mg::tensor {

namespace {
using Grads = std::vector<UOpRef>;

// Builds tensor-level nodes (with shapes) on the loss's device.
struct Builder {
  UOpTable& t;
  UOpRef dev;

  UOpRef full(double v, DType dt, const Shape& s) {
    UOpRef c = dt.is_float() ? t.make(Ops::CONST, dt, {dev}, make_const(dt, v)) : t.make(Ops::CONST, dt, {dev}, make_const(dt, i128(int64_t(v))));
    if (s.empty()) return c;
    c = t.make(Ops::RESHAPE, dt, {c}, Shape(s.size(), 1));
    bool ones = true;
    for (int64_t d : s) ones = ones && d == 1;
    return ones ? c : t.make(Ops::EXPAND, dt, {c}, s);
  }
  UOpRef like(const UOpRef& x, double v) { return full(v, x->dtype, *x->shape()); }
  UOpRef mv(Ops op, const UOpRef& x, std::vector<int64_t> arg) { return t.make(op, x->dtype, {x}, std::move(arg)); }
  UOpRef expand_to(const UOpRef& g, const Shape& s) { return *g->shape() == s ? g : mv(Ops::EXPAND, g, s); }
  // Sums g over the axes where s has 1 and g does not (the reverse of an expand).
  UOpRef sum_to(const UOpRef& g, const Shape& s) {
    std::vector<int64_t> axes;
    const Shape& gs = *g->shape();
    for (size_t i = 0; i < s.size(); i++)
      if (s[i] == 1 && gs[i] != 1) axes.push_back(int64_t(i));
    if (axes.empty()) return g;
    return t.make(Ops::REDUCE_AXIS, g->dtype, {g}, ReduceArg{Ops::ADD, axes});
  }
  UOpRef cast(const UOpRef& x, DType dt) { return x->dtype == dt ? x : t.make(Ops::CAST, dt, {x}); }
  UOpRef sin(const UOpRef& x) { return alu(Ops::SIN, {x}); }
  UOpRef where(const UOpRef& c, const UOpRef& a, const UOpRef& b) { return alu(Ops::WHERE, {c, a, b}); }
};

const std::vector<int64_t>& ints(const UOp& u) { return std::get<std::vector<int64_t>>(u.arg); }
bool is_float(const UOpRef& x) { return x->dtype.is_float(); }

using Rule = Grads (*)(Builder& b, const UOpRef& ret, const UOpRef& g);

// WINDOW sends each window position back where it was read: for every offset a in the window
// (a_j < k_j), the slice g[..., :, a] spread out by the stride and shifted by a*d. One term per
// offset keeps every index affine (no // or %), so the kernels reading it stay vectorizable.
Grads window_grad(Builder& b, const UOpRef& r, const UOpRef& g) {
  const auto& a = ints(*r);
  const Shape& in = *r->src[0]->shape();
  const Shape& gs = *g->shape();
  const size_t n = a.size() / 3, pre = in.size() - n;
  std::vector<int64_t> at(n, 0);  // the offset of the current term
  UOpRef sum;
  for (;;) {
    std::vector<int64_t> sh;
    for (size_t i = 0; i < gs.size(); i++) {
      int64_t lo = i < pre + n ? 0 : at[i - pre - n];
      sh.push_back(lo);
      sh.push_back(i < pre + n ? gs[i] : lo + 1);
    }
    UOpRef t = b.mv(Ops::RESHAPE, b.mv(Ops::SHRINK, g, sh), Shape(gs.begin(), gs.begin() + int64_t(pre + n)));
    std::vector<int64_t> pd(2 * pre, 0);
    for (size_t j = 0; j < n; j++) {
      int64_t o = gs[pre + j], s = a[3 * j + 1], len = (o - 1) * s + 1;
      if (s > 1) {  // o -> {o, 1} -> {o, s} -> o*s, keep the first (o-1)*s + 1
        Shape one = *t->shape(), flat = one;
        one.insert(one.begin() + int64_t(pre + j) + 1, 1);
        std::vector<int64_t> spread(2 * one.size(), 0), keep;
        spread[2 * (pre + j + 1) + 1] = s - 1;
        flat[pre + j] = o * s;
        for (size_t i = 0; i < flat.size(); i++) { keep.push_back(0); keep.push_back(i == pre + j ? len : flat[i]); }
        t = b.mv(Ops::SHRINK, b.mv(Ops::RESHAPE, b.mv(Ops::PAD, b.mv(Ops::RESHAPE, t, one), spread), flat), keep);
      }
      int64_t before = at[j] * a[3 * j + 2];
      pd.push_back(before);
      pd.push_back(in[pre + j] - before - len);
    }
    t = b.mv(Ops::PAD, t, pd);
    sum = sum ? sum + t : t;
    size_t j = n;  // next offset, the last dim fastest
    while (j-- > 0 && ++at[j] == a[3 * j]) at[j] = 0;
    if (j == size_t(-1)) break;
  }
  return {sum};
}

// d/dx of each op. ret is the node, g the gradient flowing into it (same shape and dtype).
const std::array<Rule, kNumOps>& rules() {
  static const std::array<Rule, kNumOps> table = [] {
    std::array<Rule, kNumOps> r{};
    auto set = [&](Ops op, Rule f) { r[size_t(op)] = f; };
    // ---- elementwise ----
    set(Ops::ADD, [](Builder&, const UOpRef&, const UOpRef& g) -> Grads { return {g, g}; });
    set(Ops::SUB, [](Builder&, const UOpRef&, const UOpRef& g) -> Grads { return {g, -g}; });
    set(Ops::MUL, [](Builder&, const UOpRef& r, const UOpRef& g) -> Grads { return {g * r->src[1], g * r->src[0]}; });
    set(Ops::FDIV, [](Builder&, const UOpRef& r, const UOpRef& g) -> Grads {
      const UOpRef &a = r->src[0], &d = r->src[1];
      return {g / d, -(g * a) / (d * d)};
    });
    set(Ops::NEG, [](Builder&, const UOpRef&, const UOpRef& g) -> Grads { return {-g}; });
    set(Ops::RECIPROCAL, [](Builder&, const UOpRef& r, const UOpRef& g) -> Grads { return {-(g * r * r)}; });
    set(Ops::SQRT, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads { return {g / (r * b.like(r, 2.0))}; });
    set(Ops::EXP2, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads { return {g * r * b.like(r, std::log(2.0))}; });
    set(Ops::LOG2, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads { return {g / (r->src[0] * b.like(r, std::log(2.0)))}; });
    set(Ops::SIN, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      return {g * b.sin(b.like(r, M_PI / 2) - r->src[0])};  // cos x = sin(pi/2 - x)
    });
    set(Ops::POW, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      if (!is_float(r)) return {UOpRef(), UOpRef()};
      const UOpRef &a = r->src[0], &e = r->src[1];
      UOpRef da = g * e * alu(Ops::POW, {a, e - b.like(e, 1.0)});
      UOpRef de = g * r * alu(Ops::LOG2, {a}) * b.like(r, std::log(2.0));
      return {da, de};
    });
    // max: the larger operand gets the gradient; ties split it evenly
    set(Ops::MAX, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      const UOpRef &a = r->src[0], &c = r->src[1];
      UOpRef half = b.like(g, 0.5), one = b.like(g, 1.0), zero = b.like(g, 0.0);
      UOpRef to_a = b.where(alu(Ops::CMPEQ, {a, c}), half, b.where(alu(Ops::CMPLT, {c, a}), one, zero));
      return {g * to_a, g * (one - to_a)};
    });
    set(Ops::WHERE, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      UOpRef zero = b.like(g, 0.0);
      return {UOpRef(), b.where(r->src[0], g, zero), b.where(r->src[0], zero, g)};
    });
    set(Ops::CAST, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      if (!is_float(r->src[0])) return {UOpRef()};
      return {b.cast(g, r->src[0]->dtype)};
    });
    // ---- reductions (keepdim shapes: g has 1 on the reduced axes) ----
    set(Ops::REDUCE_AXIS, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      const UOpRef& x = r->src[0];
      const Shape& s = *x->shape();
      Ops op = std::get<ReduceArg>(r->arg).op;
      UOpRef ge = b.expand_to(g, s);
      if (op == Ops::ADD) return {ge};
      if (op == Ops::MUL) return {ge * b.expand_to(r, s) / x};  // prod / x: undefined where x is 0
      // MAX: to the elements equal to the max, shared evenly among ties
      UOpRef hit = b.cast(alu(Ops::CMPEQ, {x, b.expand_to(r, s)}), g->dtype);
      UOpRef count = b.t.make(Ops::REDUCE_AXIS, g->dtype, {hit}, ReduceArg{Ops::ADD, std::get<ReduceArg>(r->arg).axes});
      return {ge * hit / b.expand_to(count, s)};
    });
    // ---- movement ----
    set(Ops::RESHAPE, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads { return {b.mv(Ops::RESHAPE, g, *r->src[0]->shape())}; });
    set(Ops::PERMUTE, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      const auto& p = ints(*r);
      std::vector<int64_t> inv(p.size());
      for (size_t i = 0; i < p.size(); i++) inv[size_t(p[i])] = int64_t(i);
      return {b.mv(Ops::PERMUTE, g, inv)};
    });
    set(Ops::EXPAND, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads { return {b.sum_to(g, *r->src[0]->shape())}; });
    set(Ops::PAD, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      const auto& a = ints(*r);
      const Shape& s = *r->src[0]->shape();
      std::vector<int64_t> sh;
      for (size_t i = 0; i < s.size(); i++) { sh.push_back(a[2 * i]); sh.push_back(a[2 * i] + s[i]); }
      return {b.mv(Ops::SHRINK, g, sh)};
    });
    set(Ops::SHRINK, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      const auto& a = ints(*r);
      const Shape& s = *r->src[0]->shape();
      std::vector<int64_t> pd;
      for (size_t i = 0; i < s.size(); i++) { pd.push_back(a[2 * i]); pd.push_back(s[i] - a[2 * i + 1]); }
      return {b.mv(Ops::PAD, g, pd)};
    });
    set(Ops::FLIP, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads { return {b.mv(Ops::FLIP, g, ints(*r))}; });
    set(Ops::WINDOW, window_grad);
    // ---- graph ----
    set(Ops::CONTIGUOUS, [](Builder&, const UOpRef&, const UOpRef& g) -> Grads { return {g}; });
    set(Ops::COPY, [](Builder& b, const UOpRef& r, const UOpRef& g) -> Grads {
      // back to the source's device
      const UOp* s = r->src[0].get();
      while (s->op != Ops::BUFFER && s->op != Ops::CONST && s->op != Ops::COPY) s = s->src[0].get();
      const UOpRef& dev = s->op == Ops::CONST ? s->src[0] : s->src[1];
      return {b.t.make(Ops::COPY, g->dtype, {g, dev}), UOpRef()};
    });
    return r;
  }();
  return table;
}
}  // namespace

std::vector<UOpRef> gradient(Engine& e, const mg_tensor* loss, std::span<mg_tensor* const> targets) {
  check_live(loss, "gradient");
  const UOpRef& l = loss->uop;
  if (numel(shape(loss)) != 1)
    fail(ErrorKind::Shape, "gradient: the loss must have one element, got shape " + shape_str(shape(loss)) + " (sum or mean it first)");
  if (!l->dtype.is_float()) fail(ErrorKind::DType, "gradient: the loss must be a float, got " + l->dtype.name());
  std::unordered_map<const UOp*, bool> is_target;
  for (mg_tensor* t : targets) {
    check_live(t, "gradient");
    is_target[t->uop.get()] = true;
  }
  // on_path: nodes some target is reachable from (sources first in the toposort)
  const std::vector<UOp*>& topo = l->toposort();
  std::unordered_map<const UOp*, bool> on_path;
  for (UOp* u : topo) {
    bool p = is_target.count(u) > 0;
    if (u->op != Ops::DETACH)
      for (const UOpRef& s : u->src) p = p || on_path[s.get()];
    on_path[u] = p;
    // a size that is a variable has no backward here: a shrink to one would pad by hi - v
    if (p && u->shape() && std::any_of(u->shape()->begin(), u->shape()->end(), is_sym))
      fail(ErrorKind::Shape, "gradient: not supported through variable sizes (" + std::string(op_name(u->op)) + " of shape " +
                                 shape_str(*u->shape(), e.uops) + "); compute it with a plain size");
  }
  Builder b{e.uops, e.uops.make(Ops::DEVICE, dtypes::void_, {}, loss->device->name())};
  std::unordered_map<const UOp*, UOpRef> grads;
  grads[l.get()] = b.full(1.0, l->dtype, *l->shape());
  for (size_t i = topo.size(); i-- > 0;) {
    UOp* u = topo[i];
    auto git = grads.find(u);
    if (git == grads.end() || !on_path[u]) continue;
    Rule rule = rules()[size_t(u->op)];
    if (!rule) continue;  // leaves, and ops without a gradient (comparisons, integer ops, DETACH...)
    UOpRef g = git->second;
    Grads gs = rule(b, u->ref(), g);
    for (size_t k = 0; k < gs.size() && k < u->src.size(); k++) {
      const UOp* s = u->src[k].get();
      if (!gs[k] || !on_path[s] || !s->dtype.is_float()) continue;
      UOpRef& acc = grads[s];
      acc = acc ? acc + gs[k] : gs[k];
    }
  }
  std::vector<UOpRef> out;
  for (mg_tensor* t : targets) {
    auto it = grads.find(t->uop.get());
    out.push_back(it != grads.end() ? it->second : UOpRef());
  }
  return out;
}

}  // namespace mg::tensor
