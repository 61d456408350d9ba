// Symbolic simplification: one check per rule (and the cases where it must not fire),
// constant folding on many dtypes, and a randomized equivalence check.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <unordered_map>

#include "rewrite/symbolic.h"
#include "uop/exec_alu.h"

using namespace mg;

namespace {
std::string simp(const UOpRef& u) { return render(simplify(u)); }
size_t nodes(const UOpRef& u) { return u->toposort().size(); }
// Some node other than a variable or constant has two or more parents.
bool shares_inner_nodes(const UOpRef& root) {
  std::unordered_map<const UOp*, int> parents;
  for (const UOp* u : root->toposort()) {
    std::vector<const UOp*> seen;
    for (const UOpRef& s : u->src)
      if (std::find(seen.begin(), seen.end(), s.get()) == seen.end()) { seen.push_back(s.get()); parents[s.get()]++; }
  }
  for (auto [u, n] : parents)
    if (n > 1 && u->op != Ops::CONST && u->op != Ops::DEFINE_VAR) return true;
  return false;
}

// ---- a reference evaluator: exec_alu per node, so C semantics in each node's dtype ----
struct Evaluator {
  std::vector<const UOp*> order;
  std::vector<std::vector<size_t>> src;
  explicit Evaluator(const UOpRef& root) {
    std::unordered_map<const UOp*, size_t> id;
    for (const UOp* u : root->toposort()) {
      id[u] = order.size();
      order.push_back(u);
      src.emplace_back();
      for (const UOpRef& s : u->src) src.back().push_back(id.at(s.get()));
    }
  }
  // nullopt: undefined (division by zero, shift out of range) somewhere in the graph
  std::optional<Arg> run(const std::unordered_map<const UOp*, int64_t>& env) const {
    std::vector<Arg> val(order.size());
    for (size_t i = 0; i < order.size(); i++) {
      const UOp* u = order[i];
      if (u->op == Ops::CONST) { val[i] = u->arg; continue; }
      if (u->op == Ops::DEFINE_VAR) { val[i] = make_const(u->dtype, i128(env.at(u))); continue; }
      std::vector<Arg> in;
      for (size_t s : src[i]) in.push_back(val[s]);
      if (u->op == Ops::CAST) { val[i] = exec_cast(in[0], u->src[0]->dtype, u->dtype); continue; }
      DType in_dt = u->op == Ops::WHERE ? u->src[1]->dtype : u->src[0]->dtype;
      std::optional<Arg> r = exec_alu(u->op, u->dtype, in_dt, in);
      if (!r) return std::nullopt;
      val[i] = *r;
    }
    return val.back();
  }
};

// ---- random integer expressions ----
struct ExprGen {
  std::mt19937_64& rng;
  UOpTable& t;
  DType dt;
  std::vector<UOpRef> vars;
  UOpRef divisor_var;  // a variable with a positive range
  bool idioms = false;  // also build idioms that use one subexpression twice

  int64_t uni(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
  bool chance(int pct) { return uni(0, 99) < pct; }
  UOpRef c(int64_t v) { return t.cnst(dt, v); }
  UOpRef small_const() {
    static const int64_t special[] = {16, 32, 64, 100, 127, 1000, 1 << 20, -128, -100};
    int64_t v = chance(85) ? uni(-10, 10) : special[uni(0, 8)];
    return c(v);
  }
  UOpRef divisor() {
    static const int64_t ds[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 32};
    if (chance(10)) return divisor_var;
    return c(ds[uni(0, 10)]);
  }
  UOpRef leaf() { return chance(70) ? vars[size_t(uni(0, int64_t(vars.size()) - 1))] : small_const(); }
  UOpRef expr(int depth) {
    if (depth == 0 || chance(15)) return leaf();
    auto sub = [&] { return expr(depth - 1); };
    switch (uni(0, 16)) {
      case 0: case 1: return sub() + sub();
      case 2: return sub() - sub();
      case 3: return sub() * (chance(70) ? small_const() : sub());
      case 4: case 5: return idiv(sub(), divisor());
      case 6: case 7: return sub() % divisor();
      case 8: return maximum(sub(), sub());
      case 9: return -sub();
      case 10: return where(cond(depth - 1), sub(), sub());
      case 11: return sub() & sub();
      case 12: return sub() | sub();
      case 13: return sub() ^ sub();
      case 14: return cast(cond(depth - 1), dt);
      default: return idioms ? idiom(depth - 1) : sub() + sub();
    }
  }
  // a bool: comparisons of integer expressions, and bool logic on those
  UOpRef cond(int depth) {
    auto sub = [&] { return expr(depth); };
    if (depth > 0 && chance(30)) {
      auto sc = [&] { return cond(depth - 1); };
      UOpRef tr = t.cnst(dtypes::bool_, int64_t(1)), fa = t.cnst(dtypes::bool_, int64_t(0));
      switch (uni(0, 5)) {
        case 0: return sc() & sc();
        case 1: return sc() | sc();
        case 2: return sc() ^ sc();
        case 3: return where(sc(), fa, tr);
        case 4: return ne(sc(), tr);
        default: { UOpRef c = sc(); return where(c, chance(50) ? tr : sc(), chance(50) ? fa : sc()); }
      }
    }
    switch (uni(0, 2)) {
      case 0: return lt(sub(), sub());
      case 1: return ne(sub(), sub());
      default: return eq(sub(), sub());
    }
  }
  // index-arithmetic idioms that reuse a subexpression
  UOpRef idiom(int depth) {
    UOpRef x = expr(depth), y = expr(depth), d = divisor(), k1 = small_const(), k2 = small_const();
    switch (uni(0, 6)) {
      case 0: return idiv(x, d) * d + x % d;
      case 1: return x - idiv(x, d) * d;
      case 2: return x * k1 - x * k2;
      case 3: return x * k1 + y * k2 + x;
      case 4: return idiv(x * k1 + y, d) * d + (x * k1 + y) % d;
      case 5: { UOpRef c = lt(x, y); return where(c, where(c, x, y), y + k1); }
      default: return idiv(x * d + y % d, d);
    }
  }
};

// Defaults keep the test near a second; SYMBOLIC_RANDOM_COUNT / SYMBOLIC_RANDOM_SEED soak it.
int random_count() { const char* e = std::getenv("SYMBOLIC_RANDOM_COUNT"); return e ? std::atoi(e) : 20000; }
uint64_t random_seed() { const char* e = std::getenv("SYMBOLIC_RANDOM_SEED"); return e ? std::strtoull(e, nullptr, 10) : 20240611; }

struct RandomStats {
  int exprs = 0, evals = 0, shrunk = 0, wrapping = 0, failures = 0;
  int shared = 0;               // expressions with shared inner nodes
  int grew = 0, grew_tree = 0;  // graphs that grew: all, and those without shared inner nodes
  size_t before = 0, after = 0;
  std::map<std::string, int> fired;
};

// Builds `count` random expressions with a fixed seed (every other one with idioms that reuse
// a subexpression), rewrites each with symbolic() in the given direction and evaluates
// original and result on the same 24 assignments (corners of the variables' bounds, then
// random points). A value mismatch always fails; a larger graph fails when `strict_size` and
// no inner node of the expression is shared, and is counted in any case.
RandomStats run_random(int count, bool parents_first, bool strict_size) {
  std::mt19937_64 rng(random_seed());
  const DType types[] = {dtypes::index, dtypes::int32, dtypes::int8, dtypes::uint32, dtypes::uint8};
  RandomStats st;
  for (int n = 0; n < count && st.failures < 5; n++) {
    UOpTable t;
    DType dt = types[n % 5];
    ExprGen g{rng, t, dt, {}, nullptr, n % 2 == 1};
    int nvars = int(g.uni(2, 4));
    for (int i = 0; i < nvars; i++) {
      const bool narrow = dt.itemsize() == 1;
      int64_t lo = dt.is_unsigned() ? (g.chance(50) ? 0 : g.uni(0, 20)) : narrow ? g.uni(-30, 30) : g.chance(50) ? 0 : g.uni(-20, 20);
      int64_t hi = lo + (narrow ? g.uni(0, 60) : g.chance(10) ? g.uni(0, 100000) : g.uni(0, 40));
      g.vars.push_back(t.var(std::string(1, char('a' + i)), lo, hi, dt));
    }
    g.divisor_var = t.var("n", 1, g.uni(1, 12), dt);
    std::vector<UOpRef> all_vars = g.vars;
    all_vars.push_back(g.divisor_var);
    UOpRef e = g.expr(int(g.uni(1, 6)));
    RewriteTrace trace;
    UOpRef s = graph_rewrite(e, symbolic(), nullptr, {.name = "symbolic", .bottom_up = parents_first, .trace = &trace});
    for (const TraceStep& step : trace.contexts.at(0).steps)
      for (const TraceMatch& m : step.matches) st.fired[m.rule]++;
    if (parents_first) CHECK_MESSAGE(s == simplify(e), render(e));
    CHECK_MESSAGE(graph_rewrite(s, symbolic(), nullptr, {.bottom_up = parents_first}) == s, "not a fixed point: " << render(e));
    st.exprs++;
    st.before += nodes(e);
    st.after += nodes(s);
    st.shrunk += nodes(s) < nodes(e);
    st.wrapping += e->may_wrap();
    const bool shared = shares_inner_nodes(e);
    st.shared += shared;
    if (nodes(s) > nodes(e)) {
      st.grew++;
      st.grew_tree += !shared;
      if (strict_size && !shared) {
        st.failures++;
        FAIL_CHECK("graph grew: " << render(e) << " (" << nodes(e) << " nodes) -> " << render(s) << " (" << nodes(s) << ")");
      }
    }
    Evaluator ee(e), es(s);
    for (int k = 0; k < 24; k++) {
      std::unordered_map<const UOp*, int64_t> env;
      for (const UOpRef& v : all_vars) {
        const VarArg& va = std::get<VarArg>(v->arg);
        env[v.get()] = k == 0 ? va.lo : k == 1 ? va.hi : k < 4 ? (g.chance(50) ? va.lo : va.hi) : g.uni(va.lo, va.hi);
      }
      std::optional<Arg> a = ee.run(env);
      if (!a) continue;  // undefined: any result is allowed
      st.evals++;
      std::optional<Arg> b = es.run(env);
      if (!b || !arg_equal(*a, *b)) {
        std::ostringstream os;
        for (const UOpRef& v : all_vars) os << std::get<VarArg>(v->arg).name << "=" << env[v.get()] << " ";
        st.failures++;
        FAIL_CHECK(dt.name() << ": " << render(e) << "\n  -> " << render(s) << "\n  at " << os.str() << ": "
                             << arg_str(*a) << " vs " << (b ? arg_str(*b) : "undefined"));
        break;
      }
    }
  }
  return st;
}
}  // namespace

// Random expressions over 2-4 bounded variables (index, int32, int8, uint32, uint8: the narrow
// and unsigned ones wrap around often) must keep their value under every assignment tried,
// and never grow.
//
// Rules see one node and what it binds, not who else uses those nodes: a rewrite that is
// smaller where it applies still adds nodes when inner nodes it bypasses are shared with the
// rest of the graph (and a same-size one, like (x+c)+y -> (x+y)+c, adds one). So "never grows"
// is asserted for expressions without shared inner nodes; the others are counted. A soak of
// 4 seeds x 200000 expressions saw 1-4 such graphs grow per seed, none without sharing.
TEST_CASE("symbolic: random expressions keep their value and never grow (simplify, parents first)") {
  RandomStats st = run_random(random_count(), true, true);
  std::string never;
  for (const Rule& r : symbolic().rules())
    if (!st.fired.count(r.name)) never += " [" + r.name + "]";
  MESSAGE("random (seed " << random_seed() << "): " << st.exprs << " expressions (" << st.wrapping << " may wrap, "
                          << st.shared << " share inner nodes), " << st.evals << " evaluations, " << st.shrunk
                          << " got smaller, nodes " << st.before << " -> " << st.after << ", " << st.grew
                          << " grew; " << st.fired.size() << " of " << symbolic().size() << " rules fired, never:" << never);
  CHECK(st.exprs == random_count());
  CHECK(st.failures == 0);
  CHECK(st.grew_tree == 0);
  CHECK(st.grew <= st.exprs / 10000);
}

// graph_rewrite's default direction (sources first) must be just as correct. It leaves more
// graphs larger, because an idiom's inner nodes are rewritten before the idiom is seen:
// in (b//3) - ((b//3)//7)*7, (b//3)//7 becomes b//21 first, and b//3 stays for the SUB.
TEST_CASE("symbolic: random expressions keep their value (sources first)") {
  RandomStats st = run_random(random_count(), false, false);
  MESSAGE("random, sources first: nodes " << st.before << " -> " << st.after << ", " << st.grew << " of " << st.exprs
                                          << " grew (" << st.grew_tree << " without shared inner nodes)");
  CHECK(st.exprs == random_count());
  CHECK(st.failures == 0);
  CHECK(st.grew <= st.exprs / 200);
}
