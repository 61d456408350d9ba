// Sums as the symbolic rules see them: the facts kept with each sum (SumFacts) must say what a
// walk of the sum finds, term order included, so that the sum rule may trust them instead of
// walking; and the fast division rules fire where they should and only there.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include "rewrite/symbolic.h"
#include "rewrite/symbolic_util.h"

using namespace mg;
using namespace mg::sym;

namespace {
// Random sums over a few variables: ADD, SUB, NEG, MUL by constants, with shared parts and
// terms that are no sums (x//c, x%c, products of variables).
struct SumGen {
  std::mt19937_64& rng;
  DType dt;
  std::vector<UOpRef> vars, made;
  UOpRef k(int64_t v) { return vars[0]->table->cnst(dt, v); }
  UOpRef gen(int depth) {
    if (!made.empty() && rng() % 6 == 0) return made[rng() % made.size()];  // shared
    UOpRef out;
    if (depth == 0 || rng() % 7 == 0) {
      switch (rng() % 6) {
        case 0: out = k(int64_t(rng() % 9) - 4); break;
        case 1: out = vars[rng() % vars.size()] / k(int64_t(rng() % 3) + 2); break;
        case 2: out = vars[rng() % vars.size()] % k(int64_t(rng() % 3) + 2); break;
        case 3: out = vars[rng() % vars.size()] * vars[rng() % vars.size()]; break;
        default: out = vars[rng() % vars.size()];
      }
    } else {
      switch (rng() % 6) {
        case 0: case 1: out = gen(depth - 1) + gen(depth - 1); break;
        case 2: out = gen(depth - 1) - gen(depth - 1); break;
        case 3: out = -gen(depth - 1); break;
        case 4: out = gen(depth - 1) * k(int64_t(rng() % 9) - 4); break;
        default: out = k(int64_t(rng() % 70) - 35) * gen(depth - 1); break;
      }
    }
    made.push_back(out);
    return out;
  }
};

// f(u) for each node of 300 random sums per dtype, over 4 variables in [0, 5].
template <class F>
void each_random_node(std::mt19937_64& rng, std::initializer_list<DType> dts, F&& f) {
  for (DType dt : dts)
    for (int round = 0; round < 300; round++) {
      UOpTable t;
      SumGen g{rng, dt, {}, {}};
      for (int i = 0; i < 4; i++) g.vars.push_back(t.var("v" + std::to_string(i), 0, 5, dt));
      UOpRef root = g.gen(int(rng() % 7) + 1);
      for (UOp* u : root->toposort()) f(u);
    }
}

}  // namespace

TEST_CASE("symbolic sums: the facts kept with a sum say what a walk finds") {
  std::mt19937_64 rng(7);
  size_t checked = 0, exact = 0, redundant = 0, maybe = 0, nothing_fits = 0;
  each_random_node(rng, {dtypes::index, dtypes::int32, dtypes::int8, dtypes::uint8}, [&](UOp* u) {
    if (!is_sum_op(u)) return;
    const SumFacts& f = sum_facts(u);
    for (bool ring : {false, true}) {
      Linear a;
      bool ok = linearize(UOpRef(u), a, ring);
      if (ok) CHECK(a.inner == f.inner);
      // exact facts: the walk cannot fail, and finds the constant the facts hold
      if (f.exact) {
        REQUIRE(ok);
        if (!f.fuzzy) CHECK(a.k == f.k);
      }
      checked++;
    }
    if (!f.exact) return;
    exact++;
    // what the sum rule asks of them: "no" must be right, "maybe" may be wrong (a shared term)
    Linear l;
    REQUIRE(linearize_walk(u, l, true));
    if (!f.fuzzy) {
      CHECK(f.redundant == l.redundant());
      CHECK(f.terms == l.v.size());
      CHECK(f.term_uses == l.term_uses);
      CHECK(f.consts == l.consts);
      CHECK(f.muls == l.muls);
      CHECK(f.negs == l.negs);
      // the sampled coefficients are the walk's, and every constant the sum rule counts as
      // present is in the filter
      for (uint8_t i = 0; i < f.n_sample; i++) {
        size_t j = 0;
        while (j < l.v.size() && l.v[j].get() != f.sample[i].u) j++;
        REQUIRE(j < l.v.size());
        CHECK(l.coef[j] == f.sample[i].c);
      }
      for (size_t i = 0; i < l.n_known; i++) CHECK((f.const_bits & value_bit(l.known[i])) != 0);
      for (const UOpRef& v : l.v)
        for (const UOpRef& s : v->src)
          if (s->is_const()) CHECK((f.const_bits & value_bit(cval(s))) != 0);
    }
    // "no form fits" must be right: the walk then finds nothing to rebuild
    if (no_form_fits(u, f)) {
      nothing_fits++;
      CHECK(rebuild_sum(UOpRef(u)) == nullptr);
    }
    if (l.redundant()) CHECK(f.redundant);
    maybe += f.redundant && !l.redundant();
    redundant += l.redundant();
    if (!divmod_forms(l, u->dtype, true).empty()) CHECK(f.may_divmod);
  });
  MESSAGE(checked << " sums compared, " << exact << " with exact facts, " << redundant << " redundant, " << maybe
                  << " said maybe redundant, " << nothing_fits << " shown too big by the facts");
  CHECK(exact > 1000);
  CHECK(nothing_fits > 100);
}

// Sums like those of the rewrite benchmark's chain: q*((y*4+w)//4) and scaled variables, grown
// link by link as S*4 + v, where x//c's trade form merges y and w into terms the sum already
// has. no_form_fits then needs their coefficients: from the sample, or by a walk of the sum.
TEST_CASE("symbolic sums: no_form_fits rules out trade forms only where rebuild_sum finds nothing") {
  std::mt19937_64 rng(5);
  size_t sums = 0, ruled_out = 0, rewritten = 0;
  for (int round = 0; round < 400; round++) {
    UOpTable t;
    const DType dt = round % 4 == 3 ? dtypes::int32 : dtypes::index;
    std::vector<UOpRef> v;
    for (int i = 0; i < 6; i++) v.push_back(t.var("v" + std::to_string(i), -3, 3, dt));
    auto k = [&](int64_t c) { return t.cnst(dt, c); };
    auto pick = [&] { return v[rng() % v.size()]; };
    UOpRef s = idiv(pick() * k(4) + pick(), k(4)) * k(4 * int64_t(rng() % 3 + 1));
    for (int i = 0, n = int(rng() % 4); i < n; i++) s = s + pick() * k(int64_t(rng() % 9) + 1);
    for (int link = 0; link < 6; link++) {
      s = rng() % 3 ? s * k(4) + pick() : s + k(int64_t(rng() % 5) - 2);
      for (UOp* u : s->toposort()) {
        if (!is_sum_op(u) || u->op == Ops::MUL) continue;
        const SumFacts& f = sum_facts(u);
        if (!f.exact || f.fuzzy) continue;
        sums++;
        const bool found = rebuild_sum(UOpRef(u)) != nullptr;
        rewritten += found;
        if (no_form_fits(u, f)) {
          ruled_out++;
          CHECK(!found);
        }
      }
    }
  }
  MESSAGE(sums << " sums, " << rewritten << " rewritten, " << ruled_out << " ruled out by the facts");
  // (without the sample and the walk for a term of x the filter finds: 1359 of them)
  CHECK(ruled_out == 2723);
  CHECK(rewritten == 6027);
}

TEST_CASE("symbolic sums: smaller_sum says smaller only where the whole graphs say so") {
  std::mt19937_64 rng(11);
  size_t shown = 0;
  each_random_node(rng, {dtypes::index, dtypes::int32, dtypes::int8}, [&](UOp* u) {
    if (!is_sum_op(u) || u->op == Ops::MUL) return;
    Linear l;
    SumNodes nodes;
    if (!linearize(UOpRef(u), l, true, &nodes)) return;
    for (i128& c : l.coef) c = c % 5;  // some terms dropped or changed, some kept
    UOpRef cand = build(u, l, l.coef, l.k % 7);
    if (!cand || !smaller_sum(cand, UOpRef(u), nodes, l.v)) return;
    shown++;
    // the nodes only cand has, against those only root has (all of them, and the inner ones)
    std::vector<UOp*> rs = UOpRef(u)->toposort(), cs = cand->toposort();
    std::set<UOp*> r(rs.begin(), rs.end()), c(cs.begin(), cs.end());
    size_t added = 0, dropped = 0, dropped_inner = 0;
    for (UOp* x : c) added += !r.count(x);
    for (UOp* x : r)
      if (!c.count(x)) { dropped++; dropped_inner += !x->src.empty(); }
    CHECK(added < dropped);
    CHECK(added <= dropped_inner);
  });
  MESSAGE(shown << " candidates shown smaller");
  CHECK(shown > 100);
}

TEST_CASE("symbolic sums: a sum's terms keep the order of the sum they come from") {
  UOpTable t;
  UOpRef a = t.var("a", 0, 9), b = t.var("b", 0, 9), c = t.var("c", 0, 9), d = t.var("d", 0, 9);
  UOpRef s = a * 3 + b * 2 + c * 2;
  Linear l;
  REQUIRE(linearize(b + s, l, true));  // b + S: S's terms, b merged where S has it
  REQUIRE(l.v.size() == 3);
  CHECK(l.v[0] == a);
  CHECK(l.v[1] == b);
  CHECK(l.coef[1] == 3);
  CHECK(l.v[2] == c);
  // rebuilt, the merged sum keeps S's order (and reuses a*3)
  CHECK(render(simplify(b + s)) == "(((a*3)+(b*3))+(c*2))");
  CHECK(render(simplify(d + s)) == "(d+(((a*3)+(b*2))+(c*2)))");  // nothing to merge: unchanged
}

TEST_CASE("symbolic sums: (x*c+y)//c and (x*c+y)%c where 0 <= y < c and x >= 0") {
  UOpTable t;
  UOpRef a = t.var("a", 0, 100), b = t.var("b", 0, 3), x = t.var("x", -5, 5), c4 = t.var("c", 0, 4);
  auto k = [&](int64_t v) { return t.cnst(dtypes::index, v); };
  auto fired = [&](const UOpRef& e) {
    RewriteTrace tr;
    UOpRef out = graph_rewrite(e, symbolic(), nullptr, {.name = "t", .trace = &tr});
    std::string rules;
    for (const TraceMatch& m : tr.contexts.back().steps.back().matches) rules += m.rule + ";";
    return std::make_pair(render(out), rules);
  };
  auto [q, qr] = fired(idiv(a * 4 + b, k(4)));
  CHECK(q == "a");
  CHECK(qr.find("(x*c+y)//c -> x when 0 <= y < c") != std::string::npos);
  auto [r, rr] = fired((a * 4 + b) % 4);
  CHECK(r == "b");
  CHECK(rr.find("(x*c+y)%c -> y when 0 <= y < c") != std::string::npos);
  // x may be negative, y may reach c: not this rule (the general one decides)
  CHECK(fired(idiv(x * 4 + b, k(4))).second.find("(x*c+y)//c") == std::string::npos);
  CHECK(fired(idiv(a * 4 + c4, k(4))).second.find("(x*c+y)//c") == std::string::npos);
  // int8: a*4 may wrap past 127
  UOpRef p = t.var("p", 0, 40, dtypes::int8), q8 = t.var("q", 0, 3, dtypes::int8);
  CHECK(render(simplify(idiv(p * 4 + q8, t.cnst(dtypes::int8, int64_t(4))))) == "(((p*4)+q)//4)");
}

TEST_CASE("symbolic sums: long chains of additions, either way round, do not overflow the stack") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), y = t.var("y", 0, 9);
  UOpRef right = x, left = x;
  for (int i = 0; i < 200000; i++) {
    right = (i % 2 ? x : y) + right;  // the sum on the right: linearize takes it first
    left = left + (i % 2 ? x : y);
  }
  // parents first: the sum rule asks the root's facts before any below it exist
  CHECK(render(simplify(right)) == "((x*100001)+(y*100000))");
  CHECK(render(simplify(left)) == "((x*100001)+(y*100000))");
  // sources first the last x is left out: x+(y*a+x*b) -> y*a+x*(b+1) would be no smaller
  CHECK(render(graph_rewrite(right, symbolic())) == "(x+((y*100000)+(x*100000)))");
}
