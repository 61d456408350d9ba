// Shared by the symbolic rule files (not part of the public API): dtype predicates for
// patterns, constant builders that refuse values a dtype cannot hold, and the rule tables
// that symbolic.cpp joins.
#pragma once
#include <span>
#include <vector>

#include "rewrite/pattern_matcher.h"
#include "rewrite/small_vec.h"
#include "uop/exec_alu.h"

namespace mg::sym {

// ---- predicates, for UPat::where ----
inline bool is_scalar_value(const UOp& u) { return !u.dtype.is_vec() && !u.dtype.is_ptr(); }
// Integers and index (not bool), scalar: the ring rules and the range rules apply.
inline bool int_scalar(const UOp& u) { return u.dtype.is_int() && is_scalar_value(u); }
// Integers, index and bool, scalar: vmin/vmax are meaningful.
inline bool intlike_scalar(const UOp& u) { return (u.dtype.is_int() || u.dtype.is_bool()) && is_scalar_value(u); }
inline bool not_const(const UOp& u) { return u.op != Ops::CONST; }
inline bool pos_const(const UOp& u) { return u.op == Ops::CONST && u.dtype.is_int() && u.const_int() > 0 && !u.dtype.is_vec(); }

// p, restricted to nodes of an integer / index scalar dtype.
inline UPat ints(const UPat& p) { return p.where(int_scalar); }
inline UPat intlike(const UPat& p) { return p.where(intlike_scalar); }

// ALU ops (unary, binary, ternary; not CAST or BITCAST)
OpSet alu_ops();

// ---- building results ----
inline bool fits(DType dt, i128 v) {
  if (dt.scalar == Scalar::Index || dt.scalar == Scalar::Int64) return v >= INT64_MIN && v <= INT64_MAX;  // the usual case, inline
  return v >= int_min(dt.scalar) && v <= int_max(dt.scalar);
}
// A CONST of like's dtype holding v exactly; nullptr when v does not fit.
inline UOpRef int_const(const UOp* like, i128 v) {
  if (!fits(like->dtype, v)) return nullptr;
  // what make_const makes of an integer that fits: the int64_t (uint64 as its bit pattern)
  const DType dt = like->dtype;
  return like->table->make(Ops::CONST, dt, {}, dt.is_float() ? make_const(dt, v) : Arg(int64_t(v)));
}
inline UOpRef bool_const(const UOp* like, bool v) { return like->table->cnst(dtypes::bool_, int64_t(v)); }
// The exact integer value of a CONST (uint64 unpacked). Inline: the sum rules read constants in
// their inner loops.
inline i128 cval(const UOp& c) {
  if (const int64_t* i = std::get_if<int64_t>(&c.arg)) return c.dtype.scalar == Scalar::UInt64 ? i128(uint64_t(*i)) : i128(*i);
  return const_as_int(c.dtype.scalar, c.arg);
}
inline i128 cval(const UOpRef& c) { return cval(*c); }
// A bound node as the result, but only if it keeps the root's dtype (a malformed graph with
// mixed dtypes is left alone rather than turned into an engine error).
inline UOpRef keep(const B& b, const UOpRef& u) { return u->dtype == b.root->dtype ? u : nullptr; }
// The constant `a op b` of a's dtype, with C semantics (wrap-around); nullptr if undefined.
UOpRef fold_consts(Ops op, const UOpRef& a, const UOpRef& b);
// cand may replace root: it has fewer unique nodes, and it is no larger even if every leaf
// (CONST, DEFINE_VAR) of root stays in use elsewhere (cand's inner nodes plus the leaves it
// adds are at most root's inner nodes).
bool smaller(const UOpRef& cand, const UOpRef& root);

// |v| < 2^62: products of two such values stay far inside i128.
inline bool small(i128 v) { return v > -(i128(1) << 62) && v < (i128(1) << 62); }

// ---- floor and ceiling division of exact integers (b > 0), gcd ----
inline i128 floor_div(i128 a, i128 b) { return a / b - ((a % b != 0) && (a < 0)); }
inline i128 ceil_div(i128 a, i128 b) { return a / b + ((a % b != 0) && (a > 0)); }
inline i128 gcd(i128 a, i128 b) {
  a = a < 0 ? -a : a;
  b = b < 0 ? -b : b;
  while (b != 0) { i128 t = a % b; a = b; b = t; }
  return a;
}

// ---- what linearize looks through ----
// linearize looks through a sum under the one it is asked about only when that sum has at
// most kMaxInner such nodes itself; a bigger one is taken whole, as one term. Every walk is
// bounded that way, and a long chain of additions is seen in pieces.
constexpr uint32_t kMaxInner = 24;

// ADD, SUB, NEG, and MUL by a constant: the nodes linearize looks through.
inline bool is_sum_op(const UOp* u) {
  if (u->op == Ops::ADD || u->op == Ops::SUB || u->op == Ops::NEG) return true;
  return u->op == Ops::MUL && (u->src[0]->is_const() || u->src[1]->is_const());
}

// One bit of a 64-bit filter: a clear bit means "not in the set".
inline uint64_t filter_bit(uint64_t x) { return uint64_t(1) << ((x * 0x9e3779b97f4a7c15ull) >> 58); }
// |v| of a value below 2^64 in magnitude (coefficients, constants and representatives of the
// 64-bit sums), the key of the constant filters: v and -v share it.
inline uint64_t magnitude(i128 v) { return uint64_t(v < 0 ? -v : v); }

// ---- sums with constant coefficients (symbolic_linear.cpp) ----
// x == sum(coef[i] * v[i]) + k in the ring of x's dtype, and exactly when x cannot wrap.
// Term lists stay inline up to kInlineTerms (sums of index arithmetic have a handful).
constexpr size_t kInlineTerms = 16;
using Coefs = SmallVec<i128, kInlineTerms>;
struct Linear {
  SmallVec<UOpRef, kInlineTerms> v;
  Coefs coef;
  i128 k = 0;
  size_t inner = 0;  // ADD, SUB, NEG and MUL-by-constant nodes looked through (with repeats)
  size_t inner_unique = 0;  // the same, each node once
  // Values (ring representatives, sign dropped) of the CONST nodes met: leaves and the factors
  // of MULs looked through; past kMaxKnown of them, known_all (any constant may be there).
  // Magnitudes fit 64 bits (a constant's value is below 2^64, a representative's below 2^63).
  static constexpr size_t kMaxKnown = 12;
  uint64_t known[kMaxKnown];
  size_t n_known = 0;
  bool known_all = false;
  uint64_t known_bits = 0;  // a one-word filter over known[]: most values asked for are not there
  // Exactly the magnitudes below 64 in known[] (bit a): the usual coefficients and constants of
  // index arithmetic are answered without a search.
  uint64_t known_small = 0;
  // Inline: linearize calls know for every constant it meets.
  void know(i128 v) {
    if (known_all) return;
    const uint64_t a = magnitude(v), bit = filter_bit(a);
    if (known_bits & bit)
      for (size_t i = 0; i < n_known; i++)
        if (known[i] == a) return;
    if (n_known == kMaxKnown) { known_all = true; return; }
    known[n_known++] = a;
    known_bits |= bit;
    if (a < 64) known_small |= uint64_t(1) << a;
  }
  bool knows(i128 v) const {
    const i128 m = v < 0 ? -v : v;
    return m > i128(UINT64_MAX) ? known_all : knows_magnitude(uint64_t(m));
  }
  bool knows_magnitude(uint64_t a) const {
    if (known_all) return true;
    if (a < 64) return (known_small >> a) & 1;
    if (!(known_bits & filter_bit(a))) return false;
    for (size_t i = 0; i < n_known; i++)
      if (known[i] == a) return true;
    return false;
  }
  size_t term_uses = 0, consts = 0, muls = 0, negs = 0;  // terms and CONST leaves met, MULs, NEGs
  // divmod_forms' trade form: x%c of this x//c is a term not made yet (its entry in v is
  // empty); build makes it, materialize() before anything else reads the terms.
  UOpRef mod_of;
  void materialize();
  // Rebuilding can only shrink a sum with something to merge: a term met twice, two constants
  // (or one that adds 0), stacked multiplications, or a negation.
  bool redundant() const;
  // The same, given how many coefficients are not 0 and how many of them are not +-1 either.
  bool redundant(size_t scaled, size_t nonzero) const;
};
// Looks through x and the sums under it (ADD, SUB, NEG, MUL by a constant) that are complete
// (SumFacts); anything else is a term (equal terms merge). false on big coefficients. ring:
// coefficients and constant modulo 2^bits (signed representatives), for rules that hold with
// wrap-around.
// The nodes of x that linearize met, for smaller_sum: the sums looked through (each once) and
// the constants (leaves and MUL factors, with repeats); `all` false when there were too many.
struct SumNodes {
  static constexpr size_t kMax = 2 * kMaxInner + 1;
  const UOp* inner[kMax];
  const UOp* consts[2 * kMax];
  size_t n_inner = 0, n_consts = 0;
  bool all = true;
};
bool linearize(const UOpRef& x, Linear& out, bool ring = false, SumNodes* nodes = nullptr);
// The walk itself (linearize is this walk; the facts of the sums under x must exist already).
bool linearize_walk(const UOp* x, Linear& out, bool ring, SumNodes* nodes = nullptr);
// smaller(cand, root) for cand built from the linear form of the sum root, counted from what
// linearize met (nodes; terms: root's terms) instead of a region, so cheaper; false when that
// does not show it (smaller() may still).
bool smaller_sum(const UOpRef& cand, const UOpRef& root, const SumNodes& nodes, std::span<const UOpRef> terms);
// l's term v gets coef more (a new term when v is none yet).
void add_term(Linear& l, const UOp* v, i128 coef);

// ---- what each sum holds, kept with the node (symbolic_sumfacts.cpp) ----
// Counts and filters of a sum's linear form, kept with the node (UOp::memo) and made from
// those of its parts in O(1) per node (no term list: linearize walks the nodes). The sum rule
// reads them to see that a sum has nothing to merge without walking it. (What they say is a
// base of its own, so that a sum's facts can start as a copy of those of its first part.)
struct SumFactsData {
  // (The counts stay below 2^16: a sum looks through complete parts only, each of at most
  // kMaxInner nodes. uint16_t keeps the facts in 256 bytes.)
  uint16_t inner = 0;  // nodes looked through, with repeats
  bool complete() const { return inner <= kMaxInner; }  // a sum above looks through this one
  // The rest holds only when `exact`: every multiplier, coefficient and constant linearize
  // meets on the way (bounded by the sums of their magnitudes) is below 2^62 and 2^(bits-1),
  // so the ring and the exact forms agree.
  bool exact = true;
  // Two parts may share a term (a filter hit that was not ruled out): the counts no longer tell
  // the form, and redundant and may_divmod both say "maybe".
  bool fuzzy = false;
  // Conservative: when false, Linear::redundant() of the form is false, and divmod_forms finds
  // nothing. When true, they may hold.
  bool redundant = false;
  bool may_divmod = false;
  // The counts Linear::redundant() reads (terms distinct unless fuzzy).
  // zeros: terms with coefficient 0 (a MUL by 0 looked through); scaled: those with one not
  // 0, 1 or -1.
  uint16_t terms = 0, scaled = 0, zeros = 0, term_uses = 0, consts = 0, muls = 0, negs = 0;
  int64_t k = 0;
  // Bounds for `exact`: the largest multiplier met, and the sum of the magnitudes of the
  // coefficients and constants (with repeats).
  int64_t max_s = 1, sum_abs = 0;
  // A term and its coefficient.
  struct Term { const UOp* u; int64_t c; };
  // The terms x//c (c a constant), the first kDivs of them (divs_all: more).
  static constexpr size_t kDivs = 2;
  Term divs[kDivs];
  uint8_t n_divs = 0;
  bool divs_all = false;
  // Some terms (at most kSample), each once, with its coefficient: the sum rule's size check
  // reads coefficient values from them without a walk.
  static constexpr size_t kSample = 4;
  Term sample[kSample];
  uint8_t n_sample = 0;
  // Filters: over the terms, over the (x, c) of the x//c and x%c terms, and over the
  // magnitudes (value_bit) of the constants linearize meets (leaves, MUL factors) and of the
  // terms' constant sources: a clear bit says a constant of that value is not there.
  static constexpr size_t kWords = 4;
  uint64_t term_bits[kWords] = {};
  uint64_t div_keys = 0, mod_keys = 0, const_bits = 0;
};
struct SumFacts : UOp::Memo, SumFactsData {
  SumFacts();
  explicit SumFacts(const SumFactsData& from);
};
// A value's bit in SumFacts::const_bits (its magnitude's, so v and -v share it).
inline uint64_t value_bit(i128 v) { return filter_bit(magnitude(v)); }
// A node's bit in a filter of SumFacts::kWords words: set and tested.
inline uint64_t node_hash(const UOp* u) { return uint64_t(uintptr_t(u)) * 0x9e3779b97f4a7c15ull; }
inline void set_bit(const UOp* u, uint64_t bits[SumFacts::kWords]) {
  const uint64_t h = node_hash(u);
  bits[h >> 62] |= uint64_t(1) << ((h >> 56) & 63);
}
inline bool has_bit(const UOp* u, const uint64_t bits[SumFacts::kWords]) {
  const uint64_t h = node_hash(u);
  return (bits[h >> 62] >> ((h >> 56) & 63)) & 1;
}
// The bit of (x, c) of a term x//c or x%c in SumFacts::div_keys / mod_keys.
inline uint64_t divmod_key(const UOp* t) {
  return filter_bit(uint64_t(uintptr_t(t->src[0].get())) * 31 + uint64_t(uintptr_t(t->src[1].get())));
}
// u: a sum op (is_sum_op). Also makes the facts of every sum linearize(u) looks through.
const SumFacts& sum_facts(const UOp* u);
// The coefficient (in `out`) of u among the terms of `sum`, whose facts f are exact and not
// fuzzy: from f's sample, else by a walk of the sum. 1: u is a term, 0: it is not, -1: unknown
// (a multiplier too big for exact facts).
int term_coef(const UOp* sum, const SumFacts& f, const UOp* u, int64_t& out);
// x*c with x no sum op: a sum above takes it as the term x times c, and it needs no facts of its
// own (most terms of a sum are such).
inline bool scaled_term(const UOp* u) {
  if (u->op != Ops::MUL) return false;
  const bool right = u->src[1]->is_const();
  if (!right && !u->src[0]->is_const()) return false;
  return !is_sum_op(u->src[right ? 0 : 1].get());
}
// A sum op that a sum above looks through (its facts are complete).
inline bool looked_through(const UOp* u) { return scaled_term(u) || sum_facts(u).complete(); }
// linearize takes an ADD's second source first when only that one is a sum it looks through:
// the terms then keep that sum's order (`v + S` lists S's terms, then v), and rebuilding the
// sum reuses S's nodes up to the first term that changed. Inline: the walk and the facts ask it
// of every ADD.
inline bool sum_first(const UOp* add) {
  const UOp *a = add->src[0].get(), *b = add->src[1].get();
  return !is_sum_op(a) && is_sum_op(b) && looked_through(b);
}

// sum(coef[i] * v[i]) + k with like's dtype: terms with positive coefficients in order, then
// the negative ones subtracted, the constant last; nullptr when a constant does not fit.
UOpRef build(const UOp* like, const Linear& l, std::span<const i128> coef, i128 k);
// The same sum with (x//c)*c + x%c pairs among its terms folded into x, or q*(x//c) traded for
// x%c and x's terms; ring: coefficients compared modulo 2^bits.
std::vector<Linear> divmod_forms(const Linear& l, DType dt, bool ring);
// The sum rule: an integer ADD/SUB/NEG rebuilt from its linear form when that is smaller.
// fold_sum asks the facts first; rebuild_sum walks the sum.
UOpRef fold_sum(B& b);
UOpRef rebuild_sum(const UOpRef& root);
// Whether the facts f of `sum` show that every form rebuild_sum would try is too big to pass
// its precheck (so it returns nullptr); false: it may not. (At most a walk of the sum.)
bool no_form_fits(const UOp* sum, const SumFacts& f);

// ---- the tables, in the order symbolic() tries them ----
std::vector<Rule> fold_rules();      // symbolic_fold.cpp: constants
std::vector<Rule> identity_rules();  // symbolic_identity.cpp
std::vector<Rule> assoc_rules();     // symbolic_assoc.cpp: ring re-association (ints)
std::vector<Rule> range_rules();     // symbolic_range.cpp: vmin/vmax, comparisons
std::vector<Rule> divmod_rules();    // symbolic_divmod.cpp

}  // namespace mg::sym
