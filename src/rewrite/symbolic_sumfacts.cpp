// SumFacts: counts and filters of a sum's linear form, made from those of the sums under it in
// O(1) per node. The sum rule then need not walk every sum it is asked about (on a long chain,
// every ADD walked the sums below it). What they say agrees with linearize_walk, or errs toward
// "maybe" (redundant, may_divmod), never the other way.
#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
// Whose memo a SumFacts is (UOp::memo's key).
constexpr char kFactsKey = 0;

// A node's bit in a filter of SumFacts::kWords words.
void set_bit(const UOp* u, uint64_t bits[SumFacts::kWords]) {
  const uint64_t h = uint64_t(uintptr_t(u)) * 0x9e3779b97f4a7c15ull;
  bits[h >> 62] |= uint64_t(1) << ((h >> 56) & 63);
}
bool has_bit(const UOp* u, const uint64_t bits[SumFacts::kWords]) {
  const uint64_t h = uint64_t(uintptr_t(u)) * 0x9e3779b97f4a7c15ull;
  return (bits[h >> 62] >> ((h >> 56) & 63)) & 1;
}
// The sources linearize looks at under a sum op, with their multipliers (MUL: the other
// source, times the constant; the right one when both are constants, as linearize does).
struct Part { const UOp* u; i128 s; };
size_t parts(const UOp* n, Part out[2]) {
  switch (n->op) {
    case Ops::ADD: {
      const bool swap = sum_first(n);
      out[0] = {n->src[swap].get(), 1};
      out[1] = {n->src[!swap].get(), 1};
      return 2;
    }
    case Ops::SUB: out[0] = {n->src[0].get(), 1}; out[1] = {n->src[1].get(), -1}; return 2;
    case Ops::NEG: out[0] = {n->src[0].get(), -1}; return 1;
    default: {
      const bool right = n->src[1]->is_const();
      out[0] = {n->src[right ? 0 : 1].get(), cval(*n->src[right ? 1 : 0])};
      return 1;
    }
  }
}

// Whether u is a term of the sum `sum` (a complete one): the walk linearize makes, without
// the arithmetic. Asked only when a filter cannot rule u out.
bool has_term(const UOp* sum, const UOp* u) {
  SmallVec<const UOp*, 64> stack;
  stack.push_back(sum);
  while (!stack.empty()) {
    const UOp* n = stack.back();
    stack.pop_back();
    if (n->is_const()) continue;
    if (!is_sum_op(n) || (n != sum && !looked_through(n))) {
      if (n == u) return true;
      continue;
    }
    switch (n->op) {
      case Ops::ADD: case Ops::SUB: stack.push_back(n->src[0].get()); stack.push_back(n->src[1].get()); break;
      case Ops::NEG: stack.push_back(n->src[0].get()); break;
      default: stack.push_back(n->src[n->src[1]->is_const() ? 0 : 1].get());
    }
  }
  return false;
}

// A key of (x, c) for x//c and x%c terms, one bit of a 64-bit filter.
uint64_t divmod_key(const UOp* t) {
  const uint64_t h = (uint64_t(uintptr_t(t->src[0].get())) * 31 + uint64_t(uintptr_t(t->src[1].get()))) * 0x9e3779b97f4a7c15ull;
  return uint64_t(1) << (h >> 58);
}

// Builds n's facts from its parts' in O(1): counts add up, filters join, and a term is checked
// against the terms of the part before it (a filter first, a walk on a hit). Values are
// int64_t: whatever would not stay below the limit (or overflow on the way) makes the facts
// inexact.
class Builder {
 public:
  Builder(const UOp* n, SumFacts& f) : f_(f) {
    const int bits = scalar_bits(n->dtype.scalar);
    lim_ = bits >= 63 ? int64_t(1) << 62 : int64_t(1) << (bits - 1);
    f_.inner = 1;
    f_.negs = n->op == Ops::NEG;
    f_.muls = n->op == Ops::MUL;
  }

  void add(const UOp* u, i128 s128) {
    const int64_t s = small_value(s128);
    f_.max_s = std::max(f_.max_s, abs64(s));
    if (u->is_const()) {
      f_.consts++;
      add_k(s, small_value(cval(*u)));
      return;
    }
    if (is_sum_op(u)) {
      if (scaled_term(u)) return merge_scaled_term(u, s);
      const SumFacts& g = sum_facts(u);
      if (g.complete()) return merge(u, g, s);
    }
    f_.term_uses++;
    add_term(u, s);
    single_ = u;
  }

  void finish() {
    f_.exact = f_.exact && f_.max_s < lim_ && f_.sum_abs_k < lim_ && f_.sum_abs_c < lim_;
    if (f_.fuzzy) {
      f_.redundant = f_.may_divmod = true;
      return;
    }
    f_.redundant = f_.term_uses > f_.terms || f_.consts > 1 || (f_.consts == 1 && f_.k == 0) ||
                   f_.muls > f_.scaled || f_.negs > 0 || f_.zeros > 0;
    f_.may_divmod = may_divmod();
  }

 private:
  static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }
  // v, or lim_ (which makes the facts inexact) when it is not below lim_ in magnitude
  int64_t small_value(i128 v) {
    if (v >= lim_ || v <= -lim_) { f_.exact = false; return lim_; }
    return int64_t(v);
  }
  int64_t mul(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || r >= lim_ || r <= -lim_) { f_.exact = false; return lim_; }
    return r;
  }
  void add_abs(int64_t& to, int64_t v) {  // (both below 2^62: no overflow)
    to += v;
    if (to >= lim_) { f_.exact = false; to = lim_; }
  }

  // Whether u may be among the terms met so far (those of the part before).
  bool seen_term(const UOp* u) {
    if (!has_bit(u, f_.term_bits)) return false;
    if (single_) return single_ == u;
    return prev_sum_ ? has_term(prev_sum_, u) : true;
  }

  void merge(const UOp* u, const SumFacts& g, int64_t s) {
    f_.inner += g.inner;
    f_.exact = f_.exact && g.exact;
    f_.fuzzy = f_.fuzzy || g.fuzzy;
    if (!f_.exact) return;
    // a term of g among those met so far
    if (f_.terms > 0 && merge_bits_hit(g.term_bits)) {
      if (single_) f_.fuzzy = f_.fuzzy || has_term(u, single_);
      else f_.fuzzy = true;  // two sums: not worth a walk of each
    }
    for (size_t i = 0; i < SumFacts::kWords; i++) f_.term_bits[i] |= g.term_bits[i];
    f_.max_s = std::max(f_.max_s, mul(abs64(s), g.max_s));
    f_.term_uses += g.term_uses;
    f_.consts += g.consts;
    f_.muls += g.muls;
    f_.negs += g.negs;
    f_.terms += g.terms;
    const int64_t as = abs64(s);
    f_.scaled += as >= 2 ? g.terms - g.zeros : s == 0 ? 0 : g.scaled;
    f_.zeros += s == 0 ? g.terms : g.zeros;
    f_.k += mul(s, g.k);
    add_abs(f_.sum_abs_k, mul(as, g.sum_abs_k));
    add_abs(f_.sum_abs_c, mul(as, g.sum_abs_c));
    f_.divs_all = f_.divs_all || g.divs_all;
    for (uint8_t i = 0; i < g.n_divs; i++) add_div(g.divs[i].u, mul(s, g.divs[i].c));
    f_.div_keys |= g.div_keys;
    f_.mod_keys |= g.mod_keys;
    single_ = nullptr;
    prev_sum_ = u;
  }
  bool merge_bits_hit(const uint64_t bits[SumFacts::kWords]) const {
    for (size_t i = 0; i < SumFacts::kWords; i++)
      if (f_.term_bits[i] & bits[i]) return true;
    return false;
  }

  // What merge(sum_facts(m), s) does for m = x*c with x no sum op.
  void merge_scaled_term(const UOp* m, int64_t s) {
    const bool right = m->src[1]->is_const();
    const UOp* x = m->src[right ? 0 : 1].get();
    const int64_t c = small_value(cval(*m->src[right ? 1 : 0]));
    f_.inner += 1;
    if (!f_.exact) return;
    f_.max_s = std::max(f_.max_s, mul(abs64(s), std::max<int64_t>(1, abs64(c))));
    f_.muls++;
    const int64_t sc = mul(s, c);
    if (x->is_const()) {
      f_.consts++;
      add_k(sc, small_value(cval(*x)));
      return;
    }
    f_.term_uses++;
    add_term(x, sc);
    single_ = x;
  }

  void add_term(const UOp* u, int64_t c) {
    if (!f_.exact) return;
    if (f_.terms > 0 && seen_term(u)) f_.fuzzy = true;
    set_bit(u, f_.term_bits);
    f_.terms++;
    const int64_t a = abs64(c);
    f_.zeros += c == 0;
    f_.scaled += a >= 2;
    add_abs(f_.sum_abs_c, a);
    if ((u->op == Ops::IDIV || u->op == Ops::MOD) && u->src[1]->is_const()) {
      if (u->op == Ops::IDIV) { add_div(u, c); f_.div_keys |= divmod_key(u); }
      else f_.mod_keys |= divmod_key(u);
    }
  }

  void add_div(const UOp* u, int64_t c) {
    if (f_.n_divs == SumFacts::kDivs) { f_.divs_all = true; return; }
    f_.divs[f_.n_divs++] = {u, c};
  }

  void add_k(int64_t s, int64_t c) {
    const int64_t v = mul(s, c);
    add_abs(f_.sum_abs_k, abs64(v));
    f_.k += v;
  }

  // divmod_forms' conditions, loosened for x%c (any coefficient, a filter for the pair)
  bool may_divmod() const {
    if (f_.divs_all) return true;
    for (uint8_t i = 0; i < f_.n_divs; i++) {
      const SumFacts::Div& d = f_.divs[i];
      if (d.c == 0) continue;
      const i128 c = cval(*d.u->src[1]);
      if (c == 0 || !small(c)) continue;
      if (i128(d.c) % c == 0 || (divmod_key(d.u) & f_.mod_keys)) return true;
    }
    return false;
  }

  SumFacts& f_;
  int64_t lim_ = 0;
  const UOp* single_ = nullptr;    // the part before, when it was one term
  const UOp* prev_sum_ = nullptr;  // the part before, when it was a sum looked through
};

void compute(const UOp* n) {
  SumFacts& f = n->add_memo<SumFacts>();
  Part ps[2];
  Builder b(n, f);
  for (size_t i = 0, np = parts(n, ps); i < np; i++) b.add(ps[i].u, ps[i].s);
  b.finish();
}
}  // namespace

SumFacts::SumFacts() : UOp::Memo(&kFactsKey) {}

bool sum_first(const UOp* add) {
  const UOp *a = add->src[0].get(), *b = add->src[1].get();
  return !is_sum_op(a) && is_sum_op(b) && looked_through(b);
}

const SumFacts& sum_facts(const UOp* u) {
  if (UOp::Memo* m = u->memo(&kFactsKey)) return static_cast<const SumFacts&>(*m);
  // Sources first, without recursion (a chain of additions can be long): a node is summarized
  // once the sums among its parts are.
  SmallVec<const UOp*, 32> stack;
  stack.push_back(u);
  while (!stack.empty()) {
    const UOp* n = stack.back();
    if (n->memo(&kFactsKey)) { stack.pop_back(); continue; }
    // (the sources themselves, not parts(): the order of parts asks the sources' facts)
    bool ready = true;
    for (const UOpRef& s : n->src)
      if (is_sum_op(s.get()) && !scaled_term(s.get()) && !s->memo(&kFactsKey)) { stack.push_back(s.get()); ready = false; }
    if (!ready) continue;
    stack.pop_back();
    compute(n);
  }
  return static_cast<const SumFacts&>(*u->memo(&kFactsKey));
}

}  // namespace mg::sym
