// SumFacts: a sum's counts (terms, constants, scaled terms...) made from those of the sums
// under it, in O(1) per node, so that the sum rule need not walk every sum it is asked about
// (on a long chain, every ADD walked the sums below it).
#include "rewrite/symbolic_util.h"

namespace mg::sym {

namespace {
// Whose memo a SumFacts is (UOp::memo's key).
constexpr char kFactsKey = 0;

i128 abs128(i128 v) { return v < 0 ? -v : v; }

// Two bits of the 128-bit term filter.
void term_bit(const UOp* u, uint64_t out[2]) {
  const uint64_t h = uint64_t(uintptr_t(u)) * 0x9e3779b97f4a7c15ull;
  out[(h >> 63) & 1] |= uint64_t(1) << ((h >> 57) & 63);
}

// x//c and x%c with a constant c: the pair's bit in the filters div_keys / mod_keys.
uint64_t divmod_key(const UOp* u) {
  const uint64_t h = (uint64_t(uintptr_t(u->src[0].get())) * 31 + uint64_t(uintptr_t(u->src[1].get()))) * 0x9e3779b97f4a7c15ull;
  return uint64_t(1) << (h >> 58);
}
bool const_divisor(const UOp* u) { return (u->op == Ops::IDIV || u->op == Ops::MOD) && u->src[1]->is_const(); }

// The sources linearize looks at under a sum op, with their signs (MUL: the other source,
// scaled by the constant).
struct Part { const UOp* u; i128 s; };
size_t parts(const UOp* n, Part out[2]) {
  switch (n->op) {
    case Ops::ADD: out[0] = {n->src[0].get(), 1}; out[1] = {n->src[1].get(), 1}; return 2;
    case Ops::SUB: out[0] = {n->src[0].get(), 1}; out[1] = {n->src[1].get(), -1}; return 2;
    case Ops::NEG: out[0] = {n->src[0].get(), -1}; return 1;
    default: {  // MUL by a constant: linearize takes the right one as the factor when both are
      const bool right = n->src[1]->is_const();
      out[0] = {n->src[right ? 0 : 1].get(), cval(*n->src[right ? 1 : 0])};
      return 1;
    }
  }
}

class Builder {
 public:
  Builder(const UOp* n, SumFacts& f) : n_(n), f_(f) {
    f_.inner = 1;
    f_.negs = n->op == Ops::NEG;
    f_.muls = n->op == Ops::MUL;
  }

  void add(const Part& p) {
    if (p.u->is_const()) {
      f_.consts++;
      f_.k += p.s * cval(*p.u);
      return;
    }
    if (is_sum_op(p.u)) {
      const SumFacts& g = sum_facts(p.u);
      if (g.complete()) return merge(g, p.s);
    }
    uint64_t bits[2] = {0, 0};
    term_bit(p.u, bits);
    overlap_ = overlap_ || (f_.term_bits[0] & bits[0]) || (f_.term_bits[1] & bits[1]);
    f_.term_bits[0] |= bits[0];
    f_.term_bits[1] |= bits[1];
    f_.term_uses++;
    f_.terms++;
    f_.zeros += p.s == 0;
    f_.scaled += p.s != 0 && p.s != 1 && p.s != -1;
    f_.max_coef = std::max(f_.max_coef, abs128(p.s));
    divmod_term(p.u, p.s);
  }

  void finish() {
    if (overlap_ && f_.exact) count_merged_terms();
    // small enough that reducing modulo 2^bits changes nothing, and that products stay in i128
    const int bits = scalar_bits(n_->dtype.scalar);
    const i128 lim = bits >= 63 ? i128(1) << 62 : i128(1) << (bits - 1);
    f_.exact = f_.exact && abs128(f_.k) < lim && f_.max_coef < lim;
    if (!f_.exact) f_.k = f_.max_coef = 0;
  }

 private:
  void merge(const SumFacts& g, i128 s) {
    overlap_ = overlap_ || (f_.term_bits[0] & g.term_bits[0]) || (f_.term_bits[1] & g.term_bits[1]);
    f_.term_bits[0] |= g.term_bits[0];
    f_.term_bits[1] |= g.term_bits[1];
    f_.inner += g.inner;
    f_.term_uses += g.term_uses;
    f_.terms += g.terms;
    f_.consts += g.consts;
    f_.muls += g.muls;
    f_.negs += g.negs;
    f_.div_keys |= g.div_keys;
    f_.mod_keys |= g.mod_keys;
    f_.div_all = f_.div_all || g.div_all;
    // scaled by s, a coefficient needs s's share less
    for (size_t i = 0; i < g.n_div; i++) add_need(s == 0 ? 1 : g.div_need[i] / int64_t(gcd(g.div_need[i], s)));
    f_.exact = f_.exact && g.exact;
    if (s == 0) {
      f_.zeros += g.terms;
    } else if (s == 1 || s == -1) {
      f_.zeros += g.zeros;
      f_.scaled += g.scaled;
    } else {
      f_.zeros += g.zeros;
      f_.scaled += g.terms - g.zeros;
    }
    if (!f_.exact) return;  // g's values are not kept; neither are these
    f_.k += s * g.k;        // |g.k|, |g.max_coef| < 2^62 and |s| < 2^64: no overflow
    f_.max_coef = std::max(f_.max_coef, g.max_coef * abs128(s));
  }

  void add_need(int64_t need) {
    for (size_t i = 0; i < f_.n_div; i++)
      if (f_.div_need[i] == need) return;
    if (f_.n_div == SumFacts::kMaxDivs) f_.div_all = true;
    else f_.div_need[f_.n_div++] = need;
  }

  void divmod_term(const UOp* t, i128 coef) {
    if (!const_divisor(t)) return;
    if (t->op == Ops::MOD) { f_.mod_keys |= divmod_key(t); return; }
    f_.div_keys |= divmod_key(t);
    const i128 c = cval(*t->src[1]);
    if (c == 0 || !small(c)) return;  // divmod_forms skips these
    if (coef == 0) return add_need(1);  // (zeros make the sum redundant anyway)
    add_need(int64_t(abs128(c) / gcd(c, coef)));
  }

  // Some term may occur twice (or the filter says so): count the merged terms exactly.
  void count_merged_terms() {
    Linear l;
    if (!linearize_walk(n_, l, false)) { f_.exact = false; return; }
    f_.terms = uint32_t(l.v.size());
    f_.zeros = f_.scaled = 0;
    f_.max_coef = 0;
    f_.div_keys = f_.mod_keys = 0;
    f_.n_div = 0;
    f_.div_all = false;
    for (size_t i = 0; i < l.v.size(); i++) {
      const i128 c = l.coef[i];
      f_.zeros += c == 0;
      f_.scaled += c != 0 && c != 1 && c != -1;
      f_.max_coef = std::max(f_.max_coef, abs128(c));
      divmod_term(l.v[i].get(), c);
    }
  }

  const UOp* n_;
  SumFacts& f_;
  bool overlap_ = false;
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

bool SumFacts::may_divmod() const {
  if (div_all || (div_keys & mod_keys) != 0) return true;
  for (size_t i = 0; i < n_div; i++)
    if (div_need[i] == 1) return true;
  return false;
}

bool SumFacts::redundant() const {
  return term_uses > terms || consts > 1 || (consts == 1 && k == 0) || muls > scaled || negs > 0 || zeros > 0;
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
