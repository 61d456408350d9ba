// Integer sums as linear forms: sum(coef * term) + k. The division rules read the dividend
// this way, and the sum rule rebuilds a sum from it when that makes the graph smaller,
// which merges like terms and constants however the sum is associated.
#include <algorithm>
#include <optional>

#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
// Arithmetic modulo 2^bits of one dtype; the bit count is looked up once per sum.
struct Ring {
  int bits;
  explicit Ring(DType dt) : bits(scalar_bits(dt.scalar)) {}
  // v modulo 2^bits, as the representative in [-2^(bits-1), 2^(bits-1)): the low bits,
  // sign-extended (bits <= 64).
  i128 rep(i128 v) const { return rep64(uint64_t(v)); }
  int64_t rep64(uint64_t v) const {
    const int drop = 64 - bits;
    return int64_t(v << drop) >> drop;
  }
};
i128 ring_rep(DType dt, i128 v) { return Ring(dt).rep(v); }

// b divides a (b != 0), and -a / b: in 64 bits when both fit, the usual case (i128 division is
// a library call). (b == -1 is left to i128: INT64_MIN / -1 overflows.)
bool fits64(i128 v) { return v == i128(int64_t(v)); }
bool divides(i128 b, i128 a) {
  if (fits64(a) && fits64(b) && b != -1) return int64_t(a) % int64_t(b) == 0;
  return a % b == 0;
}
i128 neg_quot(i128 a, i128 b) {
  if (fits64(a) && fits64(b) && b != -1) return -i128(int64_t(a) / int64_t(b));
  return -a / b;
}

// A node's bit in a 64-bit filter (filter_bit, symbolic_util.h): the sets below are searched
// only on a (rare) hit.
uint64_t node_bit(const UOp* u) { return filter_bit(uint64_t(uintptr_t(u))); }

// l's term v gets c more; `terms` filters l.v
[[gnu::always_inline]] inline void add_term(Linear& l, UOp* v, i128 c, uint64_t& terms) {
  const uint64_t bit = node_bit(v);
  size_t i = 0, n = l.v.size();
  if (terms & bit)
    while (i < n && l.v[i].get() != v) i++;
  else i = n;
  terms |= bit;
  if (i == n) { l.v.push_back(UOpRef(v)); l.coef.push_back(c); }
  else l.coef[i] += c;
}
}  // namespace

namespace {
// A coefficient other than 0 and +-1: the form needs a MUL (and its constant) for it.
// (c + 1 outside {0, 1, 2}: one comparison)
bool needs_mul(i128 c) { return static_cast<unsigned __int128>(c + 1) > 2; }
bool needs_mul(int64_t c) { return uint64_t(c) + 1 > 2; }
// The coefficients not 0, and those of them that need a MUL.
struct CoefCount { size_t nonzero = 0, scaled = 0; };
CoefCount count_coefs(std::span<const i128> coef) {
  CoefCount n;
  for (i128 c : coef) { n.nonzero += c != 0; n.scaled += needs_mul(c); }
  return n;
}
}  // namespace

bool Linear::redundant() const {
  const CoefCount n = count_coefs(coef);
  return redundant(n.scaled, n.nonzero);
}
bool Linear::redundant(size_t scaled, size_t nonzero) const {
  return term_uses > v.size() || consts > 1 || (consts == 1 && k == 0) || muls > scaled || negs > 0 || nonzero < coef.size();
}

void Linear::materialize() {
  if (!mod_of) return;
  for (UOpRef& t : v)
    if (!t) t = mod_of->src[0] % mod_of->src[1];
  mod_of = nullptr;
}

namespace {
void meet_const(SumNodes& nodes, const UOp* c) {
  if (nodes.n_consts == 2 * SumNodes::kMax) nodes.all = false;
  else nodes.consts[nodes.n_consts++] = c;
}
}  // namespace

void add_term(Linear& l, const UOp* v, i128 c) {
  size_t i = 0, n = l.v.size();
  while (i < n && l.v[i].get() != v) i++;
  if (i == n) { l.v.push_back(v->ref()); l.coef.push_back(c); }
  else l.coef[i] += c;
}

bool linearize(const UOpRef& x, Linear& out, bool ring, SumNodes* nodes) {
  // The facts of the sums under x first (made without recursion), which say what to look through.
  if (is_sum_op(x.get())) sum_facts(x.get());
  return linearize_walk(x.get(), out, ring, nodes);
}

namespace {
// The walk's arithmetic. In the ring (at most 64 bits) every value is a representative, and
// sums and products modulo 2^64 have the low bits of the exact ones: int64_t, wrapping.
// Exact values stay i128 (a multiplier times a uint64 constant needs more than 64 bits).
struct RingMath {
  using T = int64_t;
  Ring rg;
  T norm(i128 v) const { return rg.rep64(uint64_t(v)); }
  T add(T a, T b) const { return rg.rep64(uint64_t(a) + uint64_t(b)); }
  T mul(T a, T b) const { return rg.rep64(uint64_t(a) * uint64_t(b)); }
  T neg(T a) const { return rg.rep64(-uint64_t(a)); }
  static bool small(T v) { return v > -(int64_t(1) << 62) && v < (int64_t(1) << 62); }
};
struct ExactMath {
  using T = i128;
  T norm(i128 v) const { return v; }
  T add(T a, T b) const { return a + b; }
  T mul(T a, T b) const { return a * b; }
  T neg(T a) const { return -a; }
  static bool small(T v) { return sym::small(v); }
};

template <class M>
bool walk(const UOp* x, Linear& out, const M& m, SumNodes* nodes) {
  using T = typename M::T;
  // x's parts are each looked through only if complete (at most kMaxInner nodes each): at most
  // 2 * kMaxInner + 1 nodes are looked through, each pushing at most two and popping one.
  constexpr size_t kMaxThrough = 2 * kMaxInner + 1;
  struct Item { UOp* u; T s; };
  Item stack[kMaxThrough + 2];
  const UOp* own_seen[kMaxThrough];
  const UOp** seen_inner = nodes ? nodes->inner : own_seen;  // (nodes keeps them: no copy)
  static_assert(SumNodes::kMax == kMaxThrough);
  size_t top = 0, n_seen = 0;
  uint64_t seen_bits = 0, term_bits = 0;  // filters over seen_inner and out.v
  for (const UOpRef& t : out.v) term_bits |= node_bit(t.get());
  T k = m.norm(out.k);
  stack[top++] = {const_cast<UOp*>(x), 1};
  while (top > 0) {
    // (every multiplier pushed is small: a negation keeps it so, a MUL's is checked below)
    auto [u, s] = stack[--top];
    const Ops op = u->op;
    if (op == Ops::CONST) {
      if (nodes) meet_const(*nodes, u);
      const T c = m.norm(cval(*u));
      out.consts++;
      out.know(c);
      k = m.add(k, m.mul(s, c));
      out.k = k;
      if (!M::small(k)) return false;
      continue;
    }
    // a sum under x is looked through when it is complete; anything else is a term
    if (!is_sum_op(u) || (u != x && !looked_through(u))) {
      out.term_uses++;
      add_term(out, u, s, term_bits);
      continue;
    }
    out.inner++;
    const uint64_t bit = node_bit(u);
    size_t i = 0;
    if (seen_bits & bit)
      while (i < n_seen && seen_inner[i] != u) i++;
    else i = n_seen;
    seen_bits |= bit;
    if (i == n_seen) seen_inner[n_seen++] = u;
    const SrcList& src = u->src;
    switch (op) {
      case Ops::ADD: {  // the first source pushed last
        const bool swap = sum_first(u);  // the second source first when only it is a sum looked through
        stack[top++] = {src[!swap].get(), s};
        stack[top++] = {src[swap].get(), s};
        break;
      }
      case Ops::SUB: stack[top++] = {src[1].get(), m.neg(s)}; stack[top++] = {src[0].get(), s}; break;
      case Ops::NEG: out.negs++; stack[top++] = {src[0].get(), m.neg(s)}; break;
      default: {  // MUL by a constant, on either side
        out.muls++;
        // the constant met is the left one when both are, the factor the right one
        const UOp* met = src[src[0]->is_const() ? 0 : 1].get();
        const bool right = src[1]->is_const();
        const T c = m.norm(cval(*met));
        out.know(c);
        if (nodes) meet_const(*nodes, met);
        const UOp* factor = src[right ? 1 : 0].get();
        const T s2 = m.mul(s, factor == met ? c : m.norm(cval(*factor)));
        if (!M::small(s2)) return false;
        stack[top++] = {src[right ? 0 : 1].get(), s2};
      }
    }
  }
  out.inner_unique += n_seen;
  if (nodes) nodes->n_inner = n_seen;
  for (i128& c : out.coef) {
    c = m.norm(c);
    if (!M::small(T(c))) return false;
  }
  return true;
}
}  // namespace

bool linearize_walk(const UOp* x, Linear& out, bool ring, SumNodes* nodes) {
  if (ring) return walk(x, out, RingMath{Ring(x->dtype)}, nodes);
  return walk(x, out, ExactMath{}, nodes);
}

namespace {
// The value of a coefficient's constant: v exactly, or for unsigned dtypes v modulo 2^bits (x*-2
// is x*(2^32-2)); the division rules reject what wraps through their no-wrap check.
std::optional<i128> coef_value(DType dt, i128 v) {
  if (fits(dt, v)) return v;
  if (!dt.is_unsigned() || v >= 0 || v < -int_max(dt.scalar)) return std::nullopt;
  return v + int_max(dt.scalar) + 1;
}
UOpRef coef_const(const UOp* like, i128 v) {
  const std::optional<i128> c = coef_value(like->dtype, v);
  return c ? int_const(like, *c) : nullptr;
}
UOpRef scaled(const UOp* like, const UOpRef& v, i128 c) {
  if (c == 1) return v;
  if (c == -1) return -v;
  UOpRef k = coef_const(like, c);
  return k ? v * k : nullptr;
}
}  // namespace

namespace {
// The sum under `like` as build would have made it, bottom first: the first (scaled) term, then
// each ADD/SUB above it. Down from like through the source that is an ADD/SUB (the first one,
// or the second of an ADD whose first is none: v + S).
size_t spine_of(const UOp* like, const UOp* out[], size_t max) {
  auto sum = [](const UOp* u) { return u->op == Ops::ADD || u->op == Ops::SUB; };
  const UOp* top[64];
  size_t n = 0;
  for (const UOp* u = like; sum(u) && n < 64;) {
    top[n++] = u;
    if (sum(u->src[0].get())) u = u->src[0].get();
    else if (u->op == Ops::ADD && sum(u->src[1].get())) u = u->src[1].get();
    else break;
  }
  if (n == 0) return 0;
  size_t m = 0;
  // the bottom's first source is the first term; (v + S: the bottom is S's, found the same way)
  const UOp* bottom = top[n - 1];
  out[m++] = bottom->src[0].get();
  for (size_t i = n; i-- > 0 && m < max;) out[m++] = top[i];
  return m;
}
// Whether x is what scaled(like, v, c) makes, without making it, for c other than 1 (dt: like's
// dtype, held: -fno-strict-aliasing would reload it at each test). The constant's value is tested
// before the dtypes: a changed coefficient is the usual miss.
bool is_scaled(DType dt, const UOp* x, const UOp* v, i128 c) {
  if (c == -1) return x->op == Ops::NEG && x->src[0].get() == v && x->dtype == dt && v->dtype == dt;
  if (x->op != Ops::MUL || x->src[0].get() != v) return false;
  const UOp* k = x->src[1].get();
  const int64_t* a = k->is_const() ? std::get_if<int64_t>(&k->arg) : nullptr;
  // (the int64_t coef_const makes of c when c fits dt, so also the value cval reads)
  return a && *a == int64_t(c) && x->dtype == dt && v->dtype == dt && k->dtype == dt && fits(dt, c);
}
// Whether p is the node a op b (of a's dtype, as the operators make it).
[[gnu::always_inline]] inline bool made_by(const UOp* p, Ops op, const UOpRef& a, const UOpRef& b) {
  return p && p->op == op && p->src.size() == 2 && p->src[0] == a && p->src[1] == b && p->dtype == a->dtype && p->arg.index() == 0;
}
// Whether c is the constant coef_const(like, v) makes, without looking it up (nodes are interned:
// a CONST of like's dtype holding that int64_t is that node).
bool is_coef_const(const UOp* like, const UOp* c, i128 v) {
  if (c->op != Ops::CONST || !(c->dtype == like->dtype)) return false;
  const int64_t* a = std::get_if<int64_t>(&c->arg);
  const std::optional<i128> w = coef_value(like->dtype, v);
  return a && w && *a == int64_t(*w);  // (the int64_t int_const makes of it)
}
}  // namespace

UOpRef build(const UOp* like, const Linear& l, std::span<const i128> coef, i128 k) {
  if (l.mod_of) {  // make the pending x%c term first
    Linear m = l;
    m.materialize();
    return build(like, m, coef, k);
  }
  // The sum under `like` is usually the one built with a term changed: step j of the build
  // would make spine[j] again. Its nodes are taken as they are, without a lookup each, up to
  // the step that differs; past it, the scaled terms (v*c) still are.
  const DType dt = like->dtype;
  const UOp* spine[64];
  const size_t n_spine = spine_of(like, spine, 64);
  size_t depth = 0;
  bool same = true;  // acc is spine[depth - 1]
  // Terms with positive coefficients first, then the others subtracted: a - b*32 rather than
  // a + b*-32, which unsigned dtypes could not even write.
  UOpRef acc;
  bool has_neg = false;  // (the second pass only when there are: most sums have none)
  for (int pass = 0; pass < 1 + has_neg; pass++) {
    const bool positive = pass == 0;
    for (size_t i = 0; i < l.v.size(); i++) {
      if (positive ? coef[i] <= 0 : coef[i] >= 0) {
        has_neg = has_neg || coef[i] != 0;
        continue;
      }
      const UOp* v = l.v[i].get();
      // the spine's node for this step, and the term it adds
      const UOp* p = depth < n_spine ? spine[depth] : nullptr;
      const UOp* hint = !p ? nullptr : depth == 0 ? p : p->src.size() == 2 ? p->src[1].get() : nullptr;
      depth++;
      auto term = [&](i128 c) { return hint && (c == 1 ? hint == v : is_scaled(dt, hint, v, c)) ? hint->ref() : scaled(like, l.v[i], c); };
      UOpRef t;
      // acc - v*(-c) for c < 0, unless that term is a NEG; else acc + v*c
      if (acc && coef[i] < 0 && (t = term(-coef[i])) && t->op != Ops::NEG) {
        same = same && made_by(p, Ops::SUB, acc, t);
        acc = same ? p->ref() : acc - t;
        continue;
      }
      if (!(t = term(coef[i]))) return nullptr;
      if (!acc) {
        same = same && t.get() == p;
        acc = t;
        continue;
      }
      same = same && made_by(p, Ops::ADD, acc, t);
      acc = same ? p->ref() : acc + t;
    }
  }
  if (k == 0 && acc) return acc;
  // the sum replaced often adds the same constant at this step (its node, if so, without a lookup)
  const UOp* pk = depth < n_spine && acc ? spine[depth] : nullptr;
  UOpRef kc = pk && pk->op == Ops::ADD && is_coef_const(like, pk->src[1].get(), k) ? pk->src[1] : coef_const(like, k);
  if (!kc) return nullptr;
  return acc ? acc + kc : kc;
}

namespace {
// The terms and constant of linearize(x), kept with x for divmod_forms' trade form: a term
// q*(x//c) often stays in a sum that grows link by link (index arithmetic), and each new sum
// would walk the same x again (on the rewrite benchmark's chain, one x about 1,500 times).
// The terms are nodes under x (alive while x is); the graph is immutable, so the form is too.
struct KeptLinear : UOp::Memo {
  explicit KeptLinear(const void* key) : UOp::Memo(key) {}
  bool ok = false;
  SmallVec<const UOp*, kInlineTerms> v;
  Coefs coef;
  i128 k = 0;
};
constexpr char kKept[2] = {};  // UOp::memo keys (their addresses): exact, ring

// x's kept form (made on first use).
const KeptLinear& kept_form(const UOpRef& x, bool ring) {
  const void* key = &kKept[ring];
  if (const UOp::Memo* m = x->memo(key)) return static_cast<const KeptLinear&>(*m);
  KeptLinear& kl = x->add_memo<KeptLinear>(key);
  Linear l;
  kl.ok = linearize(x, l, ring);
  if (kl.ok) {
    for (const UOpRef& t : l.v) kl.v.push_back(t.get());
    kl.coef = l.coef;
    kl.k = l.k;
  }
  return kl;
}

}  // namespace

// C's definition of %: x == (x//c)*c + x%c for c != 0, also in the ring. So a sum holding
// r*(x%c) + q*(x//c) with q == r*c holds r*x; and one holding q*(x//c) with q == -p*c can
// trade it for p*(x%c) - p*x. Each gives a candidate form; callers keep the smallest.
std::vector<Linear> divmod_forms(const Linear& l, DType dt, bool ring) {
  auto same = [&](i128 a, i128 b) { return ring ? ring_rep(dt, a) == ring_rep(dt, b) : a == b; };
  std::vector<Linear> out;  // (no memory until a form is found: most sums have none)
  // a new form, a copy of l made in place (the reference holds until the next one)
  auto form = [&out, &l]() -> Linear& {
    if (out.empty()) out.reserve(2);
    return out.emplace_back(l);
  };
  for (size_t i = 0; i < l.v.size(); i++) {
    const UOp* d = l.v[i].get();
    if (d->op != Ops::IDIV || !d->src[1]->is_const() || l.coef[i] == 0) continue;
    const UOpRef &x = d->src[0], &c = d->src[1];
    const i128 cv = cval(c), q = l.coef[i];
    if (cv == 0 || !small(cv)) continue;
    for (size_t j = 0; j < l.v.size(); j++) {
      const UOp* m = l.v[j].get();
      if (m->op != Ops::MOD || m->src[0] != x || m->src[1] != c || !same(l.coef[j] * cv, q)) continue;
      Linear& f = form();
      f.coef[i] = 0;
      if (std::find(f.v.begin(), f.v.end(), x) == f.v.end()) f.v[j] = x;  // x takes x%c's place
      else { add_term(f, x.get(), f.coef[j]); f.coef[j] = 0; }
    }
    if (!divides(cv, q)) continue;
    const KeptLinear& lx = kept_form(x, ring);  // linearize(x, ring)'s terms, coefficients, constant
    if (!lx.ok) continue;
    const i128 p = neg_quot(q, cv);
    Linear& f = form();
    f.coef[i] = 0;
    // x%c: the term already there, or one made only if the form is used (most are not)
    size_t m = 0;
    while (m < f.v.size() && !(f.v[m]->op == Ops::MOD && f.v[m]->src[0] == x && f.v[m]->src[1] == c)) m++;
    if (m < f.v.size()) add_term(f, f.v[m].get(), p);
    else { f.v.push_back(nullptr); f.coef.push_back(p); f.mod_of = l.v[i]; }
    for (size_t t = 0; t < lx.v.size(); t++) add_term(f, lx.v[t], -p * lx.coef[t]);
    f.k -= p * lx.k;
  }
  return out;
}

namespace {
// Distinct magnitudes of the constants a form needs that the facts' filter says the sum lacks:
// each is a node the form adds (fold_sum's precheck counts them the same way).
class Fresh {
 public:
  explicit Fresh(uint64_t present) : present_(present) {}
  // (|v| < 2^64: the values are coefficients and constants of 64-bit facts, and representatives)
  void need(i128 v) {
    const uint64_t a = magnitude(v);
    if ((present_ & filter_bit(a)) || n_ == kMax) return;
    for (size_t i = 0; i < n_; i++)
      if (seen_[i] == a) return;
    seen_[n_++] = a;
  }
  size_t count() const { return n_; }

 private:
  static constexpr size_t kMax = 16;
  uint64_t present_;
  uint64_t seen_[kMax];
  size_t n_ = 0;
};
// The nodes a form of `terms` nonzero terms, `muls` of them scaled, and constant k needs at
// least, before constants: a MUL per coefficient other than +-1, an ADD/SUB per further term
// and for k. rebuild_sum's precheck and the facts' version of it both count this way.
size_t form_nodes(size_t terms, size_t muls, i128 k) { return muls + (terms ? terms - 1 : 0) + (terms && k != 0); }
size_t at_least(size_t terms, size_t muls, i128 k, const Fresh& fresh) { return form_nodes(terms, muls, k) + fresh.count(); }
}  // namespace

// Counts and a few coefficients from the facts, bounds for the rest. Needs facts that are exact
// and not fuzzy, and at most Linear::kMaxKnown constants met (so linearize knows each of them).
bool no_form_fits(const UOp* sum, const SumFacts& f) {
  const DType dt = sum->dtype;
  if (!f.exact || f.fuzzy || f.consts + f.muls > Linear::kMaxKnown || f.divs_all) return false;
  // root drops at most f.inner nodes (linearize's inner_unique)
  const size_t nz = f.terms - f.zeros;
  {  // l itself
    Fresh fresh(f.const_bits);
    for (uint8_t i = 0; i < f.n_sample; i++)
      if (const int64_t c = f.sample[i].c; needs_mul(c)) fresh.need(c);
    if (f.k != 0) fresh.need(f.k);
    if (at_least(nz, f.scaled, f.k, fresh) <= f.inner) return false;
  }
  const Ring rg(dt);
  for (uint8_t d = 0; d < f.n_divs; d++) {  // divmod_forms' candidates, one per x//c term
    const UOp* div = f.divs[d].u;
    const i128 q = f.divs[d].c, cv = cval(*div->src[1]);
    if (q == 0 || cv == 0 || !small(cv)) continue;
    if (divmod_key(div) & f.mod_keys) return false;  // an x%c term may pair with it
    if (!divides(cv, q)) continue;
    const KeptLinear& lx = kept_form(div->src[0], true);
    if (!lx.ok) continue;
    // the trade form: q*(x//c) becomes p*(x%c) - p*x, x's terms merged into the sum's
    const i128 p = neg_quot(q, cv);
    // Its size as fold_sum's precheck counts it. A term of x that the filter may find in the
    // sum gets a new coefficient there (perhaps 0): unless `resolve` finds its coefficient in
    // the sample or by a walk of the sum, it counts as one term and one MUL fewer.
    auto least = [&](bool resolve) {
      Fresh fresh(f.const_bits);
      size_t terms = nz /* - x//c + x%c */, muls = f.scaled - needs_mul(q) + needs_mul(p), unsure = 0;
      if (needs_mul(p)) fresh.need(p);
      for (size_t t = 0; t < lx.v.size(); t++) {
        const UOp* u = lx.v[t];
        int64_t old = 0;  // u's coefficient in the sum
        int found = has_bit(u, f.term_bits) ? -1 : 0;
        if (found && resolve) found = term_coef(sum, f, u, old);
        if (found < 0) { unsure++; continue; }
        const int64_t n = rg.rep64(uint64_t(old) - uint64_t(p) * uint64_t(lx.coef[t]));  // (modulo 2^64)
        terms = terms + (n != 0) - (old != 0);
        muls = muls + needs_mul(n) - needs_mul(old);
        if (needs_mul(n)) fresh.need(n);
      }
      terms -= std::min(unsure, terms);
      muls -= std::min(unsure, muls);
      for (uint8_t i = 0; i < f.n_sample; i++) {  // coefficients the trade leaves as they are
        const SumFacts::Term& s = f.sample[i];
        if (s.u == div || std::find(lx.v.begin(), lx.v.end(), s.u) != lx.v.end()) continue;
        if (needs_mul(s.c)) fresh.need(s.c);
      }
      const int64_t k = rg.rep64(uint64_t(f.k) - uint64_t(p) * uint64_t(lx.k));
      if (k != 0) fresh.need(k);
      return at_least(terms, muls, k, fresh);
    };
    // (the walks only when the quick count cannot rule the form out)
    if (least(false) <= f.inner && least(true) <= f.inner) return false;
  }
  return true;
}

UOpRef fold_sum(B& b) {
  const UOpRef root(const_cast<UOp*>(b.root));
  // Most sums have nothing to merge; their facts say so without a walk. Of the rest, many have
  // no form small enough to pass rebuild_sum's precheck, and the facts often show that too.
  const SumFacts& facts = sum_facts(root.get());
  if (facts.exact && !facts.may_divmod && !facts.redundant) return nullptr;
  if (no_form_fits(root.get(), facts)) return nullptr;
  return rebuild_sum(root);
}

UOpRef rebuild_sum(const UOpRef& root) {
  const DType dt = root->dtype;
  Linear l;
  SumNodes nodes;
  if (!linearize(root, l, true, &nodes)) return nullptr;
  // Constants the candidate may find among root's nodes: those linearize met, and the constant
  // sources of the terms (x//c, x%c, ...). A coefficient or constant of another value is a node
  // the candidate adds. (In the same pass: whether there are x//c terms, all divmod_forms reads.)
  const Ring rg(dt);
  SmallVec<uint64_t, 16> term_consts;  // magnitudes of the terms' constant sources
  uint64_t term_const_bits = 0;
  bool has_div = false;
  for (const UOpRef& t : l.v) {
    has_div = has_div || t->op == Ops::IDIV;
    for (const UOpRef& s : t->src)
      if (s->is_const() && s->dtype == dt) {
        const uint64_t w = magnitude(rg.rep(cval(s)));
        term_consts.push_back(w);
        term_const_bits |= filter_bit(w);
      }
  }
  // (l's coefficients are representatives already: the ring walk leaves them so)
  const CoefCount lc = count_coefs(l.coef);
  const bool redundant = l.redundant(lc.scaled, lc.nonzero);
  if (!has_div && !redundant) return nullptr;  // the same terms, rebuilt, are no smaller
  std::vector<Linear> forms;
  if (has_div) forms = divmod_forms(l, dt, true);
  if (forms.empty() && !redundant) return nullptr;
  // Only a strictly smaller form: a same-size rewrite would add nodes wherever the sum's inner
  // nodes are shared with the rest of the graph (see docs/symbolic.md).
  UOpRef best = root;
  // root drops at most the inner nodes linearize looked through, each counted once
  const size_t root_inner = l.inner_unique;
  auto present = [&](uint64_t a) {
    if (l.knows_magnitude(a)) return true;
    if (!(term_const_bits & filter_bit(a))) return false;
    for (uint64_t w : term_consts)
      if (w == a) return true;
    return false;
  };
  // l itself, then the divmod forms
  for (size_t fi = 0; fi <= forms.size(); fi++) {
    Linear& f = fi == 0 ? l : forms[fi - 1];
    if (fi > 0) {
      for (i128& c : f.coef) c = rg.rep(c);
      f.k = rg.rep(f.k);
    }
    // Skip forms that cannot pass smaller() before building them: the form needs at least a MUL
    // per coefficient other than +-1 and an ADD/SUB per further term; root can drop at most the
    // inner nodes linearize looked through.
    const CoefCount n = fi == 0 ? lc : count_coefs(f.coef);
    size_t least = form_nodes(n.nonzero, n.scaled, f.k);
    if (least <= root_inner) {
      // plus the constants it needs that root does not have (each value once); counted only
      // until the form is too big (most are dropped at their first new constant)
      uint64_t fresh[Linear::kMaxKnown + 1];
      size_t n_fresh = 0;
      const size_t room = root_inner - least;  // new constants the form may still need
      auto need = [&](i128 v) {
        const uint64_t a = magnitude(v);
        if (present(a)) return;
        for (size_t i = 0; i < n_fresh; i++)
          if (fresh[i] == a) return;
        fresh[n_fresh++] = a;
      };
      for (size_t i = 0; i < f.coef.size() && n_fresh <= room && n_fresh <= Linear::kMaxKnown; i++)
        if (const i128 c = f.coef[i]; needs_mul(c)) need(c);
      if (f.k != 0 && n_fresh <= room && n_fresh <= Linear::kMaxKnown) need(f.k);
      least += n_fresh;
    }
    if (least > root_inner) continue;
    UOpRef cand = build(root.get(), f, f.coef, f.k);
    // (against root, what linearize met tells it without a region)
    if (cand && ((best == root && smaller_sum(cand, root, nodes, l.v)) || smaller(cand, best))) best = cand;
  }
  return best == root ? nullptr : best;
}

}  // namespace mg::sym
