// SumFacts: counts and filters of a sum's linear form, made from those of the sums under it in
// O(1) per node. The sum rule then need not walk every sum it is asked about (on a long chain,
// every ADD walked the sums below it). What they say agrees with linearize_walk, or errs toward
// "maybe" (redundant, may_divmod), never the other way.
#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
// Whose memo a SumFacts is (UOp::memo's key).
constexpr char kFactsKey = 0;

// The sources linearize looks at under a sum op, with their multipliers (MUL: the other
// source, times the constant; the right one when both are constants, as linearize does). A
// multiplier of 2^63 or more in magnitude saturates: the facts find it too big either way.
struct Part { const UOp* u; int64_t s; };
int64_t saturate(i128 v) { return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : int64_t(v); }
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
      out[0] = {n->src[right ? 0 : 1].get(), saturate(cval(*n->src[right ? 1 : 0]))};
      return 1;
    }
  }
}

// The bound below which the facts of a sum of dtype dt are exact: 2^62, and 2^(bits-1).
int64_t coef_lim(DType dt) {
  const int bits = scalar_bits(dt.scalar);
  return bits >= 63 ? int64_t(1) << 62 : int64_t(1) << (bits - 1);
}
// |v| < lim (a coef_lim), in one unsigned comparison: v + lim - 1 falls in [0, 2 lim - 2] just
// then, and a value at or below -lim wraps above it.
bool below(i128 v, int64_t lim) {
  using u128 = unsigned __int128;
  return u128(v) + u128(lim - 1) < 2 * u128(lim) - 1;
}
// (2 lim in unsigned arithmetic: lim is up to 2^62)
bool below(int64_t v, int64_t lim) { return uint64_t(v) + uint64_t(lim - 1) < 2 * uint64_t(lim) - 1; }

// The coefficient of the term u in the sum `sum` (a complete one): the walk linearize makes,
// without the rest of its arithmetic. Asked only when a filter cannot rule u out. 1: u is a term
// (coefficient in `out`), 0: it is not, -1: a multiplier reached lim (the facts then say
// "maybe"). first: stop at u's first use (when each term of the sum is used once). bounded: the
// sum's facts are exact within lim, so no multiplier or partial sum on the way reaches it, and
// the facts of each sum below hold a complete filter: the walk skips what cannot hold u.
int coef_in(const UOp* sum, const UOp* u, bool first, bool bounded, int64_t lim, int64_t& out) {
  // What the walk does with a node below sum: looks through it, compares it with u, or skips it.
  enum Step { Through, Leaf, Skip };
  auto step = [&](const UOp* n) {
    if (n->is_const()) return Skip;
    if (!is_sum_op(n)) return Leaf;
    if (scaled_term(n)) return bounded && n->src[n->src[1]->is_const() ? 0 : 1].get() != u ? Skip : Through;
    const SumFacts& t = sum_facts(n);
    if (!t.complete()) return Leaf;
    return bounded && !has_bit(u, t.term_bits) ? Skip : Through;
  };
  struct Item { const UOp* n; int64_t s; };
  SmallVec<Item, 64> stack;
  out = 0;
  bool found = false;
  // n (times s) is taken now, the rest waits on the stack. A sum looked through hands on its
  // last source at once and leaves the first waiting: the order in which a stack of both would
  // give them back.
  const UOp* n = sum;
  int64_t s = 1;
  for (Step st = Through;;) {
    if (st == Through) {
      switch (n->op) {
        case Ops::ADD: stack.push_back({n->src[0].get(), s}); n = n->src[1].get(); break;
        case Ops::SUB: stack.push_back({n->src[0].get(), s}); n = n->src[1].get(); s = -s; break;
        case Ops::NEG: n = n->src[0].get(); s = -s; break;
        default: {
          const bool right = n->src[1]->is_const();
          const i128 m = i128(s) * cval(*n->src[right ? 1 : 0]);
          if (m >= lim || m <= -lim) return -1;
          n = n->src[right ? 0 : 1].get();
          s = int64_t(m);
        }
      }
      st = step(n);
      continue;
    }
    if (st == Leaf && n == u) {
      out += s;
      found = true;
      if (out >= lim || out <= -lim) return -1;
      if (first) return 1;
    }
    if (stack.empty()) return found;
    n = stack.back().n;
    s = stack.back().s;
    stack.pop_back();
    st = step(n);
  }
}

// The same, from the sum's facts g when its sample holds u (the sampled coefficients are u's
// whole coefficient), else by the walk.
int coef_in(const UOp* sum, const SumFacts& g, const UOp* u, int64_t lim, int64_t& out) {
  for (uint8_t i = 0; i < g.n_sample; i++)
    if (g.sample[i].u == u) { out = g.sample[i].c; return 1; }
  const bool bounded = g.exact && g.max_s < lim && g.sum_abs < lim;
  return coef_in(sum, u, g.term_uses == g.terms, bounded, lim, out);
}

// Builds n's facts from its parts' in O(1): counts add up, filters join, and a term is checked
// against the terms of the part before it (a filter first, a walk on a hit). A term met again
// that way merges with its first use (its coefficient found by the walk); two sums that may
// share a term make the facts fuzzy. Values are int64_t: whatever would not stay below the
// limit (or overflow on the way) makes the facts inexact.
class Builder {
 public:
  // (f: new facts, or a copy of the first part's: see copied())
  Builder(const UOp* n, SumFacts& f) : f_(f) {
    lim_ = coef_lim(n->dtype);
    f_.inner += 1;
    f_.negs += n->op == Ops::NEG;
    if (n->op == Ops::MUL) {
      f_.muls += 1;
      for (const UOpRef& c : n->src)
        if (c->is_const()) know(cval(*c));
    }
  }

  void add(const UOp* u, int64_t s64) {
    const int64_t s = small_value(s64);
    f_.max_s = std::max(f_.max_s, abs64(s));
    if (u->is_const()) {
      f_.consts++;
      const int64_t v = small_value(cval(*u));
      know(v);
      add_k(s, v);
      return;
    }
    if (is_sum_op(u)) {
      if (scaled_term(u)) return merge_scaled_term(u, s);
      const SumFacts& g = sum_facts(u);
      if (g.complete()) return merge(u, g, s);
    }
    f_.term_uses++;
    add_term(u, s);
  }

  // Whether the facts of n may start as a copy of g, the facts of its first part p (a sum, times
  // 1): merging g into empty facts would give the same (sum_abs stays below lim_, as in a sum
  // of another dtype it might not).
  static bool copies(const UOp* n, const Part& p, const SumFacts*& g) {
    if (p.s != 1 || !is_sum_op(p.u) || scaled_term(p.u)) return false;
    g = &sum_facts(p.u);
    return g->complete() && g->exact && g->sum_abs < coef_lim(n->dtype);
  }
  // The first part u, whose facts g the facts started as a copy of: what merge(u, g, 1) does
  // besides.
  void copied(const UOp* u, const SumFacts& g) {
    copied_ = &g;
    became_prev(u, g, 1);
  }

  void finish() {
    f_.exact = f_.exact && f_.max_s < lim_ && f_.sum_abs < lim_;
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
    if (!below(v, lim_)) { f_.exact = false; return lim_; }
    return int64_t(v);
  }
  int64_t small_value(int64_t v) {
    if (!below(v, lim_)) { f_.exact = false; return lim_; }
    return v;
  }
  int64_t mul(int64_t a, int64_t b) {
    if (a == 1) return b;  // (most multipliers are 1; both factors are below lim_ already)
    if (b == 1) return a;
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || !below(r, lim_)) { f_.exact = false; return lim_; }
    return r;
  }
  void add_abs(int64_t& to, int64_t v) {  // (both below 2^62: no overflow)
    to += v;
    if (to >= lim_) { f_.exact = false; to = lim_; }
  }
  void know(i128 v) { f_.const_bits |= value_bit(v); }

  // Whether u is among the terms met so far (those of the part before): 1 yes (its coefficient
  // in `old`), 0 no, -1 maybe.
  int seen_term(const UOp* u, int64_t& old) {
    if (!has_bit(u, f_.term_bits)) return 0;
    if (single_) {
      old = single_c_;
      return single_ == u;
    }
    if (!prev_sum_) return -1;
    int64_t c;
    const int found = coef_in(prev_sum_, *prev_, u, lim_, c);
    if (found == 1) old = mul(c, prev_s_);
    return found;
  }

  // The term u, met before with coefficient a, gets b more: the counts of one term, not two.
  // (A x//c or x%c term met twice makes the facts fuzzy: divs and the keys keep one entry each.)
  void merge_repeat(const UOp* u, int64_t a, int64_t b) {
    if ((u->op == Ops::IDIV || u->op == Ops::MOD) && u->src[1]->is_const()) { f_.fuzzy = true; return; }
    const int64_t n = small_value(i128(a) + b);
    f_.scaled += (abs64(n) >= 2) - (abs64(a) >= 2);
    f_.zeros += (n == 0) - (a == 0);
    size_t j = 0;
    for (size_t i = 0; i < f_.n_sample; i++)
      if (f_.sample[i].u != u) f_.sample[j++] = f_.sample[i];
    f_.n_sample = uint8_t(j);
    add_sample(u, n);
  }
  void add_sample(const UOp* u, int64_t c) {
    if (f_.n_sample < SumFacts::kSample) f_.sample[f_.n_sample++] = {u, c};
  }

  void merge(const UOp* u, const SumFacts& g, int64_t s) {
    f_.inner += g.inner;
    f_.exact = f_.exact && g.exact;
    f_.fuzzy = f_.fuzzy || g.fuzzy;
    if (!f_.exact) return;
    // a term of g among those met so far: the single term before, found in g by a walk
    const UOp* again = nullptr;
    int64_t in_g = 0;
    if (f_.terms > 0 && merge_bits_hit(g.term_bits)) {
      // (two sums: not worth a walk of each)
      const int found = single_ ? coef_in(u, g, single_, lim_, in_g) : -1;
      if (found < 0) f_.fuzzy = true;
      else if (found == 1) again = single_;
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
    add_abs(f_.sum_abs, mul(as, g.sum_abs));
    f_.divs_all = f_.divs_all || g.divs_all;
    for (uint8_t i = 0; i < g.n_divs; i++) add_div(g.divs[i].u, mul(s, g.divs[i].c));
    for (uint8_t i = 0; i < g.n_sample; i++) add_sample(g.sample[i].u, mul(s, g.sample[i].c));
    f_.div_keys |= g.div_keys;
    f_.mod_keys |= g.mod_keys;
    f_.const_bits |= g.const_bits;
    if (again) {
      // the two entries of `again` (single_c_ and s*in_g, each counted above) are one
      const int64_t b = mul(s, in_g);
      f_.terms--;
      f_.scaled -= abs64(b) >= 2;
      f_.zeros -= b == 0;
      merge_repeat(again, single_c_, b);
    }
    became_prev(u, g, s);
  }
  void became_prev(const UOp* u, const SumFacts& g, int64_t s) {
    single_ = nullptr;
    prev_sum_ = u;
    prev_ = &g;
    prev_s_ = s;
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
    know(c);
    f_.max_s = std::max(f_.max_s, mul(abs64(s), std::max<int64_t>(1, abs64(c))));
    f_.muls++;
    const int64_t sc = mul(s, c);
    if (x->is_const()) {
      f_.consts++;
      const int64_t v = small_value(cval(*x));
      know(v);
      add_k(sc, v);
      return;
    }
    f_.term_uses++;
    add_term(x, sc);
  }

  // A term met (term_uses counted by the caller); it becomes the part before. (This and
  // count_term inline: a call would take the builder's address, and its fields would then be
  // reloaded from memory after each store to the facts.)
  [[gnu::always_inline]] void add_term(const UOp* u, int64_t c) {
    if (f_.exact) count_term(u, c);
    single_ = u;
    single_c_ = c;
  }
  [[gnu::always_inline]] void count_term(const UOp* u, int64_t c) {
    for (const UOpRef& s : u->src)
      if (s->is_const()) know(cval(*s));
    add_abs(f_.sum_abs, abs64(c));
    if (f_.terms > 0) {
      int64_t old = 0;
      switch (seen_term(u, old)) {
        case 1: return merge_repeat(u, old, c);
        case -1: f_.fuzzy = true; break;
        default: break;
      }
    }
    set_bit(u, f_.term_bits);
    f_.terms++;
    f_.zeros += c == 0;
    f_.scaled += abs64(c) >= 2;
    add_sample(u, c);
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
    add_abs(f_.sum_abs, abs64(v));
    f_.k += v;
  }

  // divmod_forms' conditions, loosened for x%c (any coefficient, a filter for the pair)
  bool may_divmod() const {
    if (f_.divs_all) return true;
    // Facts copied from g (not fuzzy, as these are not) keep g's x//c terms first, with the
    // same coefficients, and mod_keys only gains bits: g's answer holds for them.
    uint8_t from = 0;
    if (copied_) {
      if (copied_->may_divmod) return true;
      if (copied_->mod_keys == f_.mod_keys) from = copied_->n_divs;
    }
    for (uint8_t i = from; i < f_.n_divs; i++) {
      const SumFacts::Term& d = f_.divs[i];
      if (d.c == 0) continue;
      const i128 c = cval(*d.u->src[1]);
      if (c == 0 || !small(c)) continue;
      // in 64 bits (small c; -1 divides everything, and INT64_MIN % -1 would trap)
      if (c == -1 || d.c % int64_t(c) == 0 || (divmod_key(d.u) & f_.mod_keys)) return true;
    }
    return false;
  }

  SumFacts& f_;
  int64_t lim_ = 0;
  const SumFacts* copied_ = nullptr;  // the facts these started as a copy of
  const UOp* single_ = nullptr;    // the part before, when it was one term (coefficient single_c_)
  int64_t single_c_ = 0;
  const UOp* prev_sum_ = nullptr;  // the part before, when it was a sum looked through (times prev_s_)
  const SumFacts* prev_ = nullptr;  // its facts
  int64_t prev_s_ = 0;
};

const SumFacts& compute(const UOp* n) {
  Part ps[2];
  const size_t np = parts(n, ps);
  // Most sums are a sum plus a term or a constant: their facts start as a copy of the sum's.
  const SumFacts* g = nullptr;
  const bool copy = Builder::copies(n, ps[0], g);
  SumFacts& f = copy ? n->add_memo<SumFacts>(static_cast<const SumFactsData&>(*g)) : n->add_memo<SumFacts>();
  Builder b(n, f);
  size_t i = 0;
  if (copy) b.copied(ps[i++].u, *g);
  for (; i < np; i++) b.add(ps[i].u, ps[i].s);
  b.finish();
  return f;
}
}  // namespace

SumFacts::SumFacts() : UOp::Memo(&kFactsKey) {}
SumFacts::SumFacts(const SumFactsData& from) : UOp::Memo(&kFactsKey), SumFactsData(from) {}

int term_coef(const UOp* sum, const SumFacts& f, const UOp* u, int64_t& out) {
  return coef_in(sum, f, u, coef_lim(sum->dtype), out);
}


namespace {
// A source of a sum whose facts that sum's facts are made from.
[[gnu::always_inline]] inline bool has_facts(const UOp* s) { return !is_sum_op(s) || scaled_term(s) || s->memo(&kFactsKey); }

// The facts of the sums under u that have none yet, sources first, without recursion (a chain
// of additions can be long). Out of line: most sums are made on sums that have theirs.
[[gnu::noinline]] void make_under(const UOp* u) {
  SmallVec<const UOp*, 32> stack;
  for (const UOpRef& s : u->src)
    if (!has_facts(s.get())) stack.push_back(s.get());
  while (!stack.empty()) {
    const UOp* n = stack.back();
    if (n->memo(&kFactsKey)) { stack.pop_back(); continue; }
    bool ready = true;
    for (const UOpRef& s : n->src)
      if (!has_facts(s.get())) { stack.push_back(s.get()); ready = false; }
    if (!ready) continue;
    stack.pop_back();
    compute(n);
  }
}

// The facts of u, and of the sums under it that have none yet. Out of line: most calls find
// the facts made, and that path then needs no stack frame. (The sources themselves, not
// parts(): the order of parts asks the sources' facts.)
[[gnu::noinline]] const SumFacts& make_facts(const UOp* u) {
  for (const UOpRef& s : u->src)
    if (!has_facts(s.get())) { make_under(u); break; }
  return compute(u);
}
}  // namespace

const SumFacts& sum_facts(const UOp* u) {
  if (UOp::Memo* m = u->memo(&kFactsKey)) return static_cast<const SumFacts&>(*m);
  return make_facts(u);
}

}  // namespace mg::sym
