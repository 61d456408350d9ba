// SumFacts: a sum's linear form and counts, made from those of the sums under it in O(terms)
// per node. The sum rule then need not walk every sum it is asked about (on a long chain,
// every ADD walked the sums below it), and linearize copies the form. The facts equal what
// linearize_walk finds, term order included.
#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
// Whose memo a SumFacts is (UOp::memo's key).
constexpr char kFactsKey = 0;

i128 abs128(i128 v) { return v < 0 ? -v : v; }

// A node's bit in a filter of SumFacts::kWords words.
void set_bit(const UOp* u, uint64_t bits[SumFacts::kWords]) {
  const uint64_t h = uint64_t(uintptr_t(u)) * 0x9e3779b97f4a7c15ull;
  bits[h >> 62] |= uint64_t(1) << ((h >> 56) & 63);
}
bool has_bit(const UOp* u, const uint64_t bits[SumFacts::kWords]) {
  const uint64_t h = uint64_t(uintptr_t(u)) * 0x9e3779b97f4a7c15ull;
  return (bits[h >> 62] >> ((h >> 56) & 63)) & 1;
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

class Builder {
 public:
  Builder(const UOp* n, SumFacts& f) : n_(n), f_(f) {
    const int bits = scalar_bits(n->dtype.scalar);
    lim_ = bits >= 63 ? i128(1) << 62 : i128(1) << (bits - 1);
    f_.inner = 1;
    f_.negs = n->op == Ops::NEG;
    if (n->op == Ops::MUL) {  // linearize notes the left constant when both are
      f_.muls = 1;
      know(cval(*n->src[n->src[0]->is_const() ? 0 : 1]));
    }
    set_bit(n, f_.inner_bits);
  }

  void add(const Part& p) {
    f_.max_s = std::max(f_.max_s, abs128(p.s));
    if (p.u->is_const()) {
      const i128 c = cval(*p.u);
      f_.consts++;
      know(c);
      add_k(p.s * c);
      return;
    }
    if (is_sum_op(p.u)) {
      const SumFacts& g = sum_facts(p.u);
      if (g.complete()) return merge(g, p.s);
    }
    f_.term_uses++;
    add_term(p.u, p.s);
  }

  void finish() {
    if (!f_.exact) {  // only `inner` (and the filters) are kept
      f_.terms.clear();
      return;
    }
    f_.k = int64_t(k_);
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
  void merge(const SumFacts& g, i128 s) {
    f_.inner += g.inner;
    f_.shared = merge_bits(f_.inner_bits, g.inner_bits) || g.shared || f_.shared;
    f_.exact = f_.exact && g.exact;
    f_.max_s = std::max(f_.max_s, abs128(s) * g.max_s);  // (g.max_s < 2^62 when g is exact)
    if (!f_.exact) return;
    f_.term_uses += g.term_uses;
    f_.consts += g.consts;
    f_.muls += g.muls;
    f_.negs += g.negs;
    for (uint32_t i = 0; i < g.n_known; i++) know(g.known[i]);
    f_.known_all = f_.known_all || g.known_all;
    f_.sum_abs_k += abs128(s) * g.sum_abs_k;
    k_ += s * g.k;
    check();
    for (const SumTerm& t : g.terms) add_term(t.u, s * t.c);
  }

  void add_term(const UOp* u, i128 c) {
    if (!f_.exact) return;
    size_t i = f_.terms.size();
    if (has_bit(u, f_.term_bits)) {
      i = 0;
      while (i < f_.terms.size() && f_.terms[i].u != u) i++;
    }
    if (i == f_.terms.size()) {
      if (abs128(c) >= lim_) { f_.exact = false; return; }
      set_bit(u, f_.term_bits);
      f_.terms.push_back({u, int64_t(c)});
      return;
    }
    const i128 sum = i128(f_.terms[i].c) + c;
    if (abs128(c) >= lim_ || abs128(sum) >= lim_) { f_.exact = false; return; }
    f_.terms[i].c = int64_t(sum);
  }

  void add_k(i128 v) {
    f_.sum_abs_k += abs128(v);
    k_ += v;
    check();
  }
  void check() { f_.exact = f_.exact && f_.max_s < lim_ && f_.sum_abs_k < lim_; }

  // Linear::know, on the constant's value (exact facts hold small values: no ring to reduce in)
  void know(i128 v) {
    if (abs128(v) >= lim_) { f_.exact = false; return; }
    const int64_t a = int64_t(abs128(v));
    for (uint32_t i = 0; i < f_.n_known; i++)
      if (f_.known[i] == a) return;
    if (f_.n_known == Linear::kMaxKnown) f_.known_all = true;
    else f_.known[f_.n_known++] = a;
  }

  // divmod_forms' conditions, loosened for x%c (any coefficient)
  bool may_divmod() const {
    for (const SumTerm& d : f_.terms) {
      if (d.u->op != Ops::IDIV || !d.u->src[1]->is_const() || d.c == 0) continue;
      const i128 c = cval(*d.u->src[1]);
      if (c == 0 || !small(c)) continue;
      if (d.c % c == 0) return true;
      for (const SumTerm& m : f_.terms)
        if (m.u->op == Ops::MOD && m.u->src[0] == d.u->src[0] && m.u->src[1] == d.u->src[1]) return true;
    }
    return false;
  }

  const UOp* n_;
  SumFacts& f_;
  i128 lim_ = 0, k_ = 0;
};

std::unique_ptr<SumFacts> compute(const UOp* n) {
  auto f = std::make_unique<SumFacts>();
  Part ps[2];
  Builder b(n, *f);
  for (size_t i = 0, np = parts(n, ps); i < np; i++) b.add(ps[i]);
  b.finish();
  return f;
}
}  // namespace

SumFacts::SumFacts() : UOp::Memo(&kFactsKey) {}

bool sum_first(const UOp* add) {
  const UOp *a = add->src[0].get(), *b = add->src[1].get();
  return !is_sum_op(a) && is_sum_op(b) && sum_facts(b).complete();
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
    Part ps[2];
    bool ready = true;
    for (size_t i = 0, np = parts(n, ps); i < np; i++)
      if (is_sum_op(ps[i].u) && !ps[i].u->memo(&kFactsKey)) { stack.push_back(ps[i].u); ready = false; }
    if (!ready) continue;
    stack.pop_back();
    n->add_memo(compute(n));
  }
  return static_cast<const SumFacts&>(*u->memo(&kFactsKey));
}

}  // namespace mg::sym
