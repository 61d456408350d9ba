// SumFacts: a sum's linear form and counts, made from those of the sums under it in O(terms)
// per node. The sum rule then need not walk every sum it is asked about (on a long chain,
// every ADD walked the sums below it), and linearize copies the form. The facts equal what
// linearize_walk finds, term order included.
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
// A node's bit in the filter of nodes looked through: by id, so that the nodes of one sum,
// mostly made one after another, take different bits (two sums rarely seem to share a node).
void set_inner_bit(const UOp* u, uint64_t bits[SumFacts::kWords]) {
  const uint64_t b = u->id & (64 * SumFacts::kWords - 1);
  bits[b >> 6] |= uint64_t(1) << (b & 63);
}
// Adds `from` to `to`; true when they shared a bit.
bool merge_bits(uint64_t to[SumFacts::kWords], const uint64_t from[SumFacts::kWords]) {
  bool hit = false;
  for (size_t i = 0; i < SumFacts::kWords; i++) {
    hit = hit || (to[i] & from[i]);
    to[i] |= from[i];
  }
  return hit;
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

// Builds n's facts from its parts'. Values are int64_t: an exact form keeps everything below
// 2^62, and whatever would not stay there (or overflow on the way) makes the facts inexact.
class Builder {
 public:
  Builder(const UOp* n, SumFacts& f) : f_(f) {
    const int bits = scalar_bits(n->dtype.scalar);
    lim_ = bits >= 63 ? int64_t(1) << 62 : int64_t(1) << (bits - 1);
    f_.inner = 1;
    f_.negs = n->op == Ops::NEG;
    if (n->op == Ops::MUL) {  // linearize notes the left constant when both are
      f_.muls = 1;
      know(cval(*n->src[n->src[0]->is_const() ? 0 : 1]));
    }
    set_inner_bit(n, f_.inner_bits);
  }

  void add(const UOp* u, i128 s128) {
    const int64_t s = small_value(s128);
    f_.max_s = std::max(f_.max_s, abs64(s));
    if (u->is_const()) {
      f_.consts++;
      know(cval(*u));
      add_k(s, small_value(cval(*u)));
      return;
    }
    if (is_sum_op(u)) {
      if (scaled_term(u)) return merge_scaled_term(u, s);
      const SumFacts& g = sum_facts(u);
      if (g.complete()) return merge(g, s);
    }
    f_.term_uses++;
    add_term(u, s);
  }

  void finish() {
    f_.exact = f_.exact && f_.max_s < lim_ && f_.sum_abs_k < lim_;
    if (!f_.exact) {  // only `inner` (and the filters) are kept
      f_.terms.clear();
      return;
    }
    size_t scaled = 0;
    bool zero = false;
    for (const SumTerm& t : f_.terms) {
      scaled += t.c != 0 && t.c != 1 && t.c != -1;
      zero = zero || t.c == 0;
    }
    f_.redundant = f_.term_uses > f_.terms.size() || f_.consts > 1 || (f_.consts == 1 && f_.k == 0) ||
                   f_.muls > scaled || f_.negs > 0 || zero;
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

  void merge(const SumFacts& g, int64_t s) {
    f_.inner += g.inner;
    f_.shared = merge_bits(f_.inner_bits, g.inner_bits) || g.shared || f_.shared;
    f_.exact = f_.exact && g.exact;
    if (!f_.exact) return;
    f_.max_s = std::max(f_.max_s, mul(abs64(s), g.max_s));
    f_.term_uses += g.term_uses;
    f_.consts += g.consts;
    f_.muls += g.muls;
    f_.negs += g.negs;
    if (f_.n_known == 0) {  // the first constants: g's, as they are
      std::copy(g.known, g.known + g.n_known, f_.known);
      f_.n_known = g.n_known;
      f_.known_bits = g.known_bits;
    } else {
      for (uint32_t i = 0; i < g.n_known; i++) know(g.known[i]);
    }
    f_.known_all = f_.known_all || g.known_all;
    f_.sum_abs_k += mul(abs64(s), g.sum_abs_k);
    f_.k += mul(s, g.k);
    if (!f_.terms.empty()) {
      for (const SumTerm& t : g.terms) add_term(t.u, mul(s, t.c));
      return;
    }
    // The first terms: g's are distinct already; scaled, and g's filter taken whole.
    std::copy(g.term_bits, g.term_bits + SumFacts::kWords, f_.term_bits);
    f_.terms.resize(g.terms.size(), SumTerm{nullptr, 0});
    for (size_t i = 0; i < g.terms.size(); i++) f_.terms[i] = {g.terms[i].u, s == 1 ? g.terms[i].c : mul(s, g.terms[i].c)};
  }

  // What merge(sum_facts(m), s) does for m = x*c with x no sum op (see the constructor and add).
  void merge_scaled_term(const UOp* m, int64_t s) {
    const bool right = m->src[1]->is_const();
    const UOp* x = m->src[right ? 0 : 1].get();
    const int64_t c = small_value(cval(*m->src[right ? 1 : 0]));
    f_.inner += 1;
    uint64_t bits[SumFacts::kWords] = {};
    set_inner_bit(m, bits);
    f_.shared = merge_bits(f_.inner_bits, bits) || f_.shared;
    if (!f_.exact) return;
    f_.max_s = std::max(f_.max_s, mul(abs64(s), std::max<int64_t>(1, abs64(c))));
    f_.muls++;
    know(cval(*m->src[m->src[0]->is_const() ? 0 : 1]));
    const int64_t sc = mul(s, c);
    if (x->is_const()) {
      f_.consts++;
      know(cval(*x));
      add_k(sc, small_value(cval(*x)));
      return;
    }
    f_.term_uses++;
    add_term(x, sc);
  }

  void add_term(const UOp* u, int64_t c) {
    if (!f_.exact) return;
    if (has_bit(u, f_.term_bits))
      for (SumTerm& t : f_.terms)
        if (t.u == u) {
          t.c += c;  // both below 2^62: no overflow; checked below
          if (t.c >= lim_ || t.c <= -lim_) f_.exact = false;
          return;
        }
    set_bit(u, f_.term_bits);
    f_.terms.push_back({u, c});
  }

  void add_k(int64_t s, int64_t c) {
    const int64_t v = mul(s, c);
    f_.sum_abs_k += abs64(v);  // (below 2^62 each, checked as a whole in finish)
    f_.k += v;
    if (f_.sum_abs_k >= lim_) f_.exact = false;
  }

  // Linear::know, on the constant's value (exact facts hold small values: no ring to reduce in)
  void know(i128 v128) {
    const int64_t a = abs64(small_value(v128));
    const uint64_t bit = uint64_t(1) << ((uint64_t(a) * 0x9e3779b97f4a7c15ull) >> 58);
    if (f_.known_bits & bit)
      for (uint32_t i = 0; i < f_.n_known; i++)
        if (f_.known[i] == a) return;
    if (f_.n_known == Linear::kMaxKnown) { f_.known_all = true; return; }
    f_.known[f_.n_known++] = a;
    f_.known_bits |= bit;
  }

  // divmod_forms' conditions, loosened for x%c (any coefficient)
  bool may_divmod() const {
    for (const SumTerm& d : f_.terms) {
      if (d.u->op != Ops::IDIV || !d.u->src[1]->is_const() || d.c == 0) continue;
      const i128 c = cval(*d.u->src[1]);
      if (c == 0 || !small(c)) continue;
      if (i128(d.c) % c == 0) return true;
      for (const SumTerm& m : f_.terms)
        if (m.u->op == Ops::MOD && m.u->src[0] == d.u->src[0] && m.u->src[1] == d.u->src[1]) return true;
    }
    return false;
  }

  SumFacts& f_;
  int64_t lim_ = 0;
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
