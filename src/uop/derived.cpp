// Derived facts of a node (shape, value range, toposort), computed once and cached on it.
#include <algorithm>
#include <unordered_set>

#include "uop/error.h"
#include "uop/exec_alu.h"
#include "uop/uop.h"

namespace mg {

namespace {
// Computes u after the not-yet-done nodes under it when none is more than `depth` levels
// down; false otherwise (what it computed stays done).
template <class Done, class Compute>
bool shallow(const UOp* u, int depth, Done done, Compute compute) {
  for (const UOpRef& s : u->src)
    if (!done(s.get()) && (depth == 0 || !shallow(s.get(), depth - 1, done, compute))) return false;
  compute(u);
  return true;
}

// Visits the not-yet-done nodes under root, sources first, without recursion: graphs can be
// long chains.
template <class Done, class Compute>
void bottom_up(const UOp* root, Done done, Compute compute) {
  if (done(root)) return;
  // Usually only the root or a few nodes under it are new (their sources were asked first):
  // no stack to allocate then.
  if (shallow(root, 3, done, compute)) return;
  std::vector<std::pair<const UOp*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [u, i] = stack.back();
    if (i < u->src.size()) {
      const UOp* s = u->src[i++].get();
      if (!done(s)) stack.push_back({s, 0});
      continue;
    }
    if (!done(u)) compute(u);
    stack.pop_back();
  }
}
}  // namespace

// The "derived facts" computers are members of a friend struct so they may fill the caches.
struct DerivedFacts {
  static void shape(const UOp* u) {
    u->facts_ |= UOp::kShapeDone;
    std::optional<Shape> s = derive_shape(u);
    if (s) { u->extra().shape = std::move(*s); u->facts_ |= UOp::kHasShape; }
  }

  static std::optional<Shape> derive_shape(const UOp* u) {
    auto src_shape = [&](size_t i) -> const Shape* { return i < u->src.size() ? u->src[i]->shape() : nullptr; };
    auto ints = [&]() -> const std::vector<int64_t>& {
      if (auto* v = std::get_if<std::vector<int64_t>>(&u->arg)) return *v;
      fail(ErrorKind::Invalid, std::string(op_name(u->op)) + ": arg must be a list of integers, got " + arg_str(u->arg));
    };
    auto need_src = [&]() -> const Shape& {
      const Shape* s = src_shape(0);
      if (!s) fail(ErrorKind::Shape, std::string(op_name(u->op)) + ": source has no shape");
      return *s;
    };
    switch (u->op) {
      case Ops::BUFFER: return Shape{std::get<int64_t>(u->arg)};
      case Ops::CONST: case Ops::DEFINE_VAR: return Shape{};
      case Ops::RESHAPE: case Ops::EXPAND: need_src(); return ints();
      case Ops::FLIP: return need_src();
      case Ops::WINDOW: return window_shape(need_src(), ints());
      case Ops::PERMUTE: {
        const Shape& s = need_src();
        const auto& p = ints();
        if (p.size() != s.size()) fail(ErrorKind::Shape, "PERMUTE: order has " + std::to_string(p.size()) + " dims for shape " + shape_str(s));
        Shape r;
        for (int64_t a : p) r.push_back(s.at(size_t(a)));
        return r;
      }
      case Ops::PAD: case Ops::SHRINK: {
        const Shape& s = need_src();
        const auto& a = ints();
        if (a.size() != 2 * s.size()) fail(ErrorKind::Shape, std::string(op_name(u->op)) + ": needs one pair per dim of " + shape_str(s));
        Shape r;
        for (size_t i = 0; i < s.size(); i++) {
          const int64_t lo = a[2 * i], hi = a[2 * i + 1];
          if (!is_sym(s[i]) && !is_sym(lo) && !is_sym(hi)) {
            r.push_back(u->op == Ops::PAD ? s[i] + lo + hi : hi - lo);
            continue;
          }
          // a symbolic size passes through whole, and a shrink may end at a variable
          if (u->op == Ops::PAD ? lo == 0 && hi == 0 : lo == 0 && (hi == s[i] || (is_sym(hi) && !is_sym(s[i])))) {
            r.push_back(u->op == Ops::PAD ? s[i] : hi);
            continue;
          }
          fail(ErrorKind::Shape, std::string(op_name(u->op)) + " " + arg_str(u->arg) + " of " + shape_str(s, *u->table) +
                                     ": a variable size can only be kept whole or be a shrink's end from 0");
        }
        return r;
      }
      case Ops::REDUCE_AXIS: {
        Shape r = need_src();
        for (int64_t ax : std::get<ReduceArg>(u->arg).axes) r.at(size_t(ax)) = 1;
        return r;
      }
      case Ops::CONTIGUOUS: case Ops::DETACH: case Ops::COPY: case Ops::ASSIGN: case Ops::AFTER:
        if (const Shape* s = src_shape(0)) return *s;
        return std::nullopt;
      default: break;
    }
    if (!is_alu(u->op) && u->op != Ops::CAST && u->op != Ops::BITCAST) return std::nullopt;
    // Elementwise: every source with a shape has the same one (broadcasting is explicit).
    const Shape* first = nullptr;
    for (size_t i = 0; i < u->src.size(); i++) {
      const Shape* s = src_shape(i);
      if (!s) continue;
      if (first && *s != *first)
        fail(ErrorKind::Shape, std::string(op_name(u->op)) + ": operand shapes " + shape_str(*first) + " and " + shape_str(*s) + " differ");
      if (!first) first = s;
    }
    if (first) return *first;
    return std::nullopt;
  }

  // Value ranges. A node's range is made after its sources' (bottom_up), so it reads theirs
  // without asking again.
  static void range(const UOp* u) {
    uint8_t srcs = 0;
    for (const UOpRef& s : u->src) srcs |= s->facts_;
    range(u, (srcs & UOp::kWraps) != 0);
  }
  // The ranges of u and of the nodes under it not yet done: out of line, so that the usual
  // case (only u is new) saves no registers for the walk.
  [[gnu::noinline]] static void ranges_under(const UOp* u) {
    bottom_up(u, [](const UOp* n) { return (n->facts_ & UOp::kRangeDone) != 0; }, [](const UOp* n) { range(n); });
  }

  struct R { i128 lo, hi; };

  static void set_range(const UOp* u, i128 lo, i128 hi, bool wraps) {
    u->vmin_ = lo;
    u->vmax_ = hi;
    u->facts_ |= UOp::kRangeDone | (wraps ? UOp::kWraps : 0);
  }

  // Bounds under 2^63 in magnitude: products and quotients of two are exact in 64-bit
  // operations (a 64x64->128 multiply, a 64-bit divide), far cheaper than 128-bit ones.
  static bool fits64(const R& r) { return r.lo > INT64_MIN && r.hi <= INT64_MAX; }
  static R min_max(i128 a, i128 b, i128 c, i128 d) {
    return {std::min(std::min(a, b), std::min(c, d)), std::max(std::max(a, b), std::max(c, d))};
  }
  [[gnu::always_inline]] static R mul_corners(const R& a, const R& b) {
    const int64_t al = int64_t(a.lo), ah = int64_t(a.hi), bl = int64_t(b.lo), bh = int64_t(b.hi);
    // one factor (the usual x*c): the product is monotonic in x
    if (bl == bh) return bl >= 0 ? R{i128(al) * bl, i128(ah) * bl} : R{i128(ah) * bl, i128(al) * bl};
    return min_max(i128(al) * bl, i128(al) * bh, i128(ah) * bl, i128(ah) * bh);
  }
  static R div_corners(const R& a, const R& b) {  // b holds no 0
    if (!fits64(a) || !fits64(b)) return min_max(a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi);
    const int64_t al = int64_t(a.lo), ah = int64_t(a.hi), bl = int64_t(b.lo), bh = int64_t(b.hi);
    // one divisor (the usual x//c): the quotient is monotonic in x
    if (bl == bh) return bl > 0 ? R{al / bl, ah / bl} : R{ah / bl, al / bl};
    return min_max(al / bl, al / bh, ah / bl, ah / bh);
  }

  // Most of the other index ops have a constant right side (x-c, x*c, x//c, x%c): their
  // ranges in a few operations, int64 bounds without the dtype tables. false: u is none of
  // these (range() does it).
  [[gnu::noinline]] static bool index_by_const(const UOp* u, const UOp* a, const UOp* b, bool srcs_wrap) {
    const i128 c = b->vmin_;
    if (c != b->vmax_) return false;
    R r{a->vmin_, a->vmax_};
    switch (u->op) {
      case Ops::SUB: r = {r.lo - c, r.hi - c}; break;
      case Ops::MUL: case Ops::IDIV: {  // monotonic in x
        if (c == 0 || !fits64(r) || !fits64({c, c})) return false;  // x//0: no bound but the type's
        const int64_t lo = int64_t(r.lo), hi = int64_t(r.hi), k = int64_t(c);
        r = u->op == Ops::MUL ? R{i128(lo) * k, i128(hi) * k} : R{lo / k, hi / k};
        if (k < 0) std::swap(r.lo, r.hi);
        break;
      }
      case Ops::MOD: {
        if (c == 0) return false;
        const i128 m = (c < 0 ? -c : c) - 1;
        r = {r.lo >= 0 ? 0 : std::max(r.lo, -m), r.hi <= 0 ? 0 : std::min(r.hi, m)};
        break;
      }
      default: return false;
    }
    set_index_range(u, r.lo, r.hi, srcs_wrap);
    return true;
  }
  // An index node's range: index is int64, so bounds past it wrapped (the whole range then).
  static void set_index_range(const UOp* u, i128 lo, i128 hi, bool srcs_wrap) {
    const bool fits = lo >= INT64_MIN && hi <= INT64_MAX;
    set_range(u, fits ? lo : INT64_MIN, fits ? hi : INT64_MAX, !fits || srcs_wrap);
  }

  // u's range from its sources' (done); srcs_wrap: one of them may have wrapped.
  static void range(const UOp* u, bool srcs_wrap) {
    const DType dt = u->dtype;
    if (!(dt.is_int() || dt.is_bool()) || dt.is_vec()) return set_range(u, int_min(Scalar::Int64), int_max(Scalar::UInt64), false);
    const i128 tmin = int_min(dt.scalar), tmax = int_max(dt.scalar);
    auto S = [&](size_t i) { const UOp* s = u->src[i].get(); return R{s->vmin_, s->vmax_}; };
    auto wrapped = [&] { set_range(u, tmin, tmax, true); };  // bounds too large to multiply exactly
    auto unbounded = [&] { set_range(u, tmin, tmax, srcs_wrap); };  // no bound but the type's
    R r;
    switch (u->op) {
      case Ops::CONST: { i128 v = const_as_int(dt.scalar, u->arg); return set_range(u, v, v, false); }
      case Ops::DEFINE_VAR: { const auto& v = std::get<VarArg>(u->arg); return set_range(u, v.lo, v.hi, false); }
      case Ops::RANGE: case Ops::SPECIAL: r = {0, std::max<i128>(0, S(0).hi - 1)}; break;
      case Ops::ADD: { R a = S(0), b = S(1); r = {a.lo + b.lo, a.hi + b.hi}; break; }
      case Ops::SUB: { R a = S(0), b = S(1); r = {a.lo - b.hi, a.hi - b.lo}; break; }
      case Ops::NEG: { R a = S(0); r = {-a.hi, -a.lo}; break; }
      case Ops::MUL: {
        R a = S(0), b = S(1);
        if (!fits64(a) || !fits64(b)) return wrapped();
        r = mul_corners(a, b);
        break;
      }
      case Ops::MAX: { R a = S(0), b = S(1); r = {std::max(a.lo, b.lo), std::max(a.hi, b.hi)}; break; }
      case Ops::IDIV: {
        R a = S(0), b = S(1);
        if (b.lo <= 0 && b.hi >= 0) return unbounded();  // the divisor may be zero
        r = div_corners(a, b);
        break;
      }
      case Ops::MOD: {
        R a = S(0), b = S(1);
        if (b.lo <= 0 && b.hi >= 0) return unbounded();
        i128 m = std::max(b.lo < 0 ? -b.lo : b.lo, b.hi < 0 ? -b.hi : b.hi) - 1;
        r = {a.lo >= 0 ? 0 : std::max(a.lo, -m), a.hi <= 0 ? 0 : std::min(a.hi, m)};
        break;
      }
      case Ops::CMPLT: { R a = S(0), b = S(1); r = a.hi < b.lo ? R{1, 1} : a.lo >= b.hi ? R{0, 0} : R{0, 1}; break; }
      case Ops::CMPNE: case Ops::CMPEQ: {
        R a = S(0), b = S(1);
        bool disjoint = a.hi < b.lo || b.hi < a.lo, same = a.lo == a.hi && b.lo == b.hi && a.lo == b.lo;
        r = disjoint ? R{1, 1} : same ? R{0, 0} : R{0, 1};
        if (u->op == Ops::CMPEQ && r.lo == r.hi) r.lo = r.hi = 1 - r.lo;
        break;
      }
      case Ops::WHERE: {
        R c = S(0), a = S(1), b = S(2);
        r = c.lo == 1 ? a : c.hi == 0 ? b : R{std::min(a.lo, b.lo), std::max(a.hi, b.hi)};
        break;
      }
      case Ops::AND: case Ops::OR: case Ops::XOR: {
        R a = S(0), b = S(1);
        if (dt.is_bool()) {
          r = u->op == Ops::AND ? R{a.lo & b.lo, a.hi & b.hi} : u->op == Ops::OR ? R{a.lo | b.lo, a.hi | b.hi} : R{0, 1};
        } else if (a.lo >= 0 && b.lo >= 0) {
          i128 p = 1;
          while (p <= std::max(a.hi, b.hi)) p <<= 1;
          r = u->op == Ops::AND ? R{0, std::min(a.hi, b.hi)} : R{u->op == Ops::OR ? std::max(a.lo, b.lo) : 0, p - 1};
        } else if (u->op == Ops::AND && (a.lo >= 0 || b.lo >= 0)) {
          r = {0, a.lo >= 0 ? a.hi : b.hi};
        } else {
          return unbounded();
        }
        break;
      }
      case Ops::SHL: case Ops::SHR: {
        R a = S(0), b = S(1);
        if (b.lo != b.hi || b.lo < 0 || b.lo >= scalar_bits(dt.scalar)) return unbounded();
        if (u->op == Ops::SHR) { r = {a.lo >> int(b.lo), a.hi >> int(b.lo)}; break; }
        if (!fits64(a)) return wrapped();
        r = {a.lo * (i128(1) << int(b.lo)), a.hi * (i128(1) << int(b.lo))};
        break;
      }
      case Ops::CAST: {
        const UOp* s = u->src[0].get();
        if (!(s->dtype.is_int() || s->dtype.is_bool()) || s->dtype.is_vec()) return unbounded();  // from floats: saturated
        r = S(0);
        break;
      }
      case Ops::MULACC: {
        R a = S(0), b = S(1), c = S(2);
        if (!fits64(a) || !fits64(b)) return wrapped();
        r = mul_corners(a, b);
        r = {r.lo + c.lo, r.hi + c.hi};
        break;
      }
      default: return unbounded();
    }
    if (r.lo < tmin || r.hi > tmax) return set_range(u, tmin, tmax, true);
    set_range(u, r.lo, r.hi, srcs_wrap);
  }
};

const Shape* UOp::shape() const {
  bottom_up(this, [](const UOp* u) { return (u->facts_ & kShapeDone) != 0; }, DerivedFacts::shape);
  return (facts_ & kHasShape) ? &extra_->shape : nullptr;
}

void UOp::derive_range() const {
  // Usually only this node is new (its sources were asked first): derive it alone, reading
  // whether its sources are done and whether one wrapped in one pass.
  uint8_t all = kRangeDone, any = 0;
  const UOpRef* s = src.begin();
  const size_t n = src.size();
  if (n == 2) {  // most ops: no loop
    all &= s[0]->facts_ & s[1]->facts_;
    any = s[0]->facts_ | s[1]->facts_;
  } else {
    for (size_t i = 0; i < n; i++) { all &= s[i]->facts_; any |= s[i]->facts_; }
  }
  if (!all) return DerivedFacts::ranges_under(this);
  // Most nodes are index sums: their bounds are int64's, known without the dtype tables.
  if (n == 2 && dtype.scalar == Scalar::Index && !dtype.is_ptr() && !dtype.is_vec()) {
    const UOp *a = s[0].get(), *b = s[1].get();
    if (op == Ops::ADD) return DerivedFacts::set_index_range(this, a->vmin_ + b->vmin_, a->vmax_ + b->vmax_, (any & kWraps) != 0);
    if (DerivedFacts::index_by_const(this, a, b, (any & kWraps) != 0)) return;
  }
  DerivedFacts::range(this, (any & kWraps) != 0);
}

const std::vector<UOp*>& UOp::toposort() const {
  if (extra_ && !extra_->topo.empty()) return extra_->topo;
  std::vector<UOp*> out;
  std::vector<std::pair<UOp*, size_t>> stack{{const_cast<UOp*>(this), 0}};
  std::unordered_set<const UOp*> seen{this};
  while (!stack.empty()) {
    auto& [u, i] = stack.back();
    if (i < u->src.size()) {
      UOp* s = u->src[i++].get();
      if (seen.insert(s).second) stack.push_back({s, 0});
      continue;
    }
    out.push_back(u);
    stack.pop_back();
  }
  return extra().topo = std::move(out);
}

}  // namespace mg
