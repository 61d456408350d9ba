// The rewrite engine: UPat matching, PatternMatcher, graph_rewrite, tracing, bad rules.
#include <doctest/doctest.h>

#include "rewrite/graph_rewrite.h"
#include "rewrite/symbolic.h"
#include "uop/error.h"

using namespace mg;

namespace {
UOpRef same(B& b) { return b["x"]; }
// Rewrites the matched node to a constant marker so a test can see which rule fired.
RuleFn mark(int64_t v) { return [v](B& b) { return const_like(b.root->ref(), v); }; }
UOpRef rw(const UOpRef& x, const PatternMatcher& pm) { return graph_rewrite(x, pm); }
}  // namespace

TEST_CASE("upat: ordered sources must match in order and in number") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), y = t.var("y", 0, 9);
  PatternMatcher pm({{UPat(Ops::SUB).src({var("a"), UPat::cnst(1)}), mark(100)}});
  CHECK(rw(x - 1, pm)->const_int() == 100);
  CHECK(rw(1 - x, pm) == 1 - x);  // SUB is not commutative
  PatternMatcher two({{UPat(Ops::WHERE).src({var(), var()}), mark(1)}});
  CHECK(rw(where(lt(x, y), x, y), two) == where(lt(x, y), x, y));  // three sources, not two
}

TEST_CASE("upat: commutative patterns match either order and backtrack") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), y = t.var("y", 0, 9);
  PatternMatcher pm({{var("x") + 0, same}});
  CHECK(rw(x + 0, pm) == x);
  CHECK(rw(0 + x, pm) == x);
  // (x*c)+x: the first permutation binds x to the MUL; the match must back up and try the other.
  PatternMatcher back({{var("x") * cvar("c") + var("x"), [](B& b) { return b["x"] * (b["c"]->const_int() + 1); }}});
  CHECK(render(rw(x * 3 + x, back)) == "(x*4)");
  CHECK(render(rw(x + x * 3, back)) == "(x*4)");
  CHECK(rw(x * 3 + y, back) == x * 3 + y);  // x and y are different nodes
}

TEST_CASE("upat: a name used twice must bind the same node") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), y = t.var("y", 0, 9);
  PatternMatcher pm({{var("a") - var("a"), mark(0)}});
  CHECK(rw(x - x, pm)->is_const(0));
  CHECK(rw(x - y, pm) == x - y);
}

TEST_CASE("upat: repeated and prefix sources of any length") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  UOpRef c1 = t.cnst(dtypes::index, int64_t(1)), c2 = t.cnst(dtypes::index, int64_t(2));
  PatternMatcher all_const({{UPat(Ops::SINK).rep(cvar()), [](B& b) { return sink({b.root->src[0]}); }}});
  CHECK(rw(sink({c1, c2, c1}), all_const) == sink({c1}));
  CHECK(rw(sink({c1, x}), all_const) == sink({c1, x}));
  PatternMatcher prefix({{UPat(Ops::SINK).src_prefix({var("first")}), [](B& b) { return sink({b["first"]}); }}});
  CHECK(rw(sink({x, c1, c2}), prefix) == sink({x}));
}

TEST_CASE("upat: dtype sets, args, predicates and alternatives") {
  UOpTable t;
  UOpRef i = t.var("i", 0, 9, dtypes::int32), f = t.cnst(dtypes::float32, 2.0);
  PatternMatcher by_dtype({{UPat(Ops::CONST).dtype({dtypes::float32, dtypes::float16}), [](B& b) { return const_like(b.root->ref(), 7.0); }}});
  CHECK(rw(f, by_dtype)->const_float() == 7.0);
  CHECK(rw(t.cnst(dtypes::int32, int64_t(2)), by_dtype)->const_int() == 2);
  PatternMatcher by_arg({{UPat(Ops::DEFINE_VAR).arg(VarArg{"i", 0, 9}), mark(5)}});
  CHECK(rw(i, by_arg)->const_int() == 5);
  CHECK(rw(t.var("j", 0, 9, dtypes::int32), by_arg)->op == Ops::DEFINE_VAR);
  PatternMatcher by_pred({{UPat(Ops::DEFINE_VAR).where([](const UOp& u) { return u.vmax() > 100; }), mark(1)}});
  CHECK(rw(t.var("big", 0, 1000, dtypes::int32), by_pred)->is_const(1));
  CHECK(rw(i, by_pred) == i);
  PatternMatcher alts({{UPat::any({var("x") + 0, var("x") * 1}), same}});
  CHECK(rw(i * 1, alts) == i);
  CHECK(rw(i + 0, alts) == i);
  CHECK(rw(i - 0, alts) == i - 0);
}

TEST_CASE("pattern_matcher: a callback returning nothing lets the next rule try") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  PatternMatcher pm({
      {var("x") + cvar("c"), [](B&) { return UOpRef(); }},
      {var("x") + cvar("c"), mark(42)},
  });
  CHECK(rw(x + 3, pm)->const_int() == 42);
}

TEST_CASE("pattern_matcher: rules of other ops are never tried") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  int tried = 0;
  std::vector<Rule> rules;
  for (int k = 0; k < 1000; k++)
    rules.push_back({UPat(Ops::MUL).where([&](const UOp&) { tried++; return false; }), mark(0)});
  rules.push_back({var("x") + 0, same});
  PatternMatcher pm(std::move(rules));
  CHECK(rw((x + 0) + 0, pm) == x);
  CHECK(tried == 0);
  // early reject: a rule needing a CONST source is not matched against x+x at all
  int looked = 0;
  PatternMatcher needs_const({{UPat(Ops::ADD).perm({var().where([&](const UOp&) { looked++; return true; }), cvar()}), mark(0)}});
  rw(x + x, needs_const);
  CHECK(looked == 0);
}

TEST_CASE("graph_rewrite: a shared node is rewritten once; both parents see one result") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  UOpRef shared = x + 0;
  int calls = 0;
  PatternMatcher pm({{var("x") + 0, [&](B& b) { calls++; return b["x"]; }}});
  UOpRef out = rw(sink({shared * 2, shared * 3}), pm);
  CHECK(calls == 1);
  CHECK(out == sink({x * 2, x * 3}));
  CHECK(out->src[0]->src[0] == out->src[1]->src[0]);
}

TEST_CASE("graph_rewrite: runs to a fixed point, the result is rewritten again") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  // c -> c-1 down to 0: each result is itself rewritten
  PatternMatcher count({{cvar("c"), [](B& b) { int64_t v = b["c"]->const_int(); return v > 0 ? const_like(b["c"], v - 1) : UOpRef(); }}});
  CHECK(rw(x + 50, count) == x + 0);
  // folding exposes more folding: ((x+0)+0)+0 in one call
  PatternMatcher pm({{var("x") + 0, same}});
  CHECK(rw(((x + 0) + 0) + 0, pm) == x);
  // a new node made by a rule is itself matched: x*1 -> (x+0) -> x
  PatternMatcher chain({{var("x") * 1, [](B& b) { return b["x"] + 0; }}, {var("x") + 0, same}});
  CHECK(rw((x * 1) * 1, chain) == x);
}

TEST_CASE("graph_rewrite: bottom_up rewrites a node before its sources") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), y = t.var("y", 0, 9);
  // Top-down (the default) sees x+0 first, so the outer rule then sees x*2.
  PatternMatcher pm({{var("x") + 0, same}, {(var("a") + 0) * 2, mark(7)}});
  CHECK(rw((x + 0) * 2, pm) == x * 2);
  CHECK(graph_rewrite((x + 0) * 2, pm, nullptr, {.bottom_up = true})->const_int() == 7);
  CHECK(graph_rewrite((y + 0) * 3, pm, nullptr, {.bottom_up = true}) == y * 3);
}

TEST_CASE("graph_rewrite: a long chain does not overflow the stack") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  UOpRef e = x;
  for (int i = 0; i < 200000; i++) e = (e + 0) * 1;
  PatternMatcher pm({{var("x") + 0, same}, {var("x") * 1, same}});
  CHECK(rw(e, pm) == x);
}

TEST_CASE("graph_rewrite: endless rewriting fails with an error naming the rule") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  PatternMatcher grow({{cvar("c"), [](B& b) { return const_like(b["c"], b["c"]->const_int() + 1); }, "count_up"}});
  CHECK_THROWS_WITH_AS(rw(x + 1, grow), doctest::Contains("rule 'count_up' (tests/cpp/test_rewrite.cpp:"), Error);
  CHECK_THROWS_WITH_AS(rw(x + 1, grow), doctest::Contains("times in a row"), Error);
  // x*2 -> x*3 -> x*2 ...: a cycle
  PatternMatcher cycle({
      {var("x") * 2, [](B& b) { return b["x"] * 3; }, "two_to_three"},
      {var("x") * 3, [](B& b) { return b["x"] * 2; }, "three_to_two"},
  });
  CHECK_THROWS_WITH_AS(rw(x * 2, cycle), doctest::Contains("graph_rewrite 'graph_rewrite'"), Error);
  // a rule that wraps the node in itself: x -> x+0 where the rule keeps matching x
  PatternMatcher wrap({{UPat(Ops::DEFINE_VAR).named("v"), [](B& b) { return b["v"] + 0; }, "wrap"}});
  CHECK_THROWS_WITH_AS(rw(x * 5, wrap), doctest::Contains("rule 'wrap'"), Error);
  // the bottom-up node loop has the same guard
  CHECK_THROWS_WITH_AS(graph_rewrite(x + 1, grow, nullptr, {.bottom_up = true}), doctest::Contains("count_up"), Error);
}

TEST_CASE("graph_rewrite: bad rules fail at once with a message naming the rule") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), f = t.cnst(dtypes::float32, 1.0);
  PatternMatcher wrong_dtype({{var("x") + 0, [](B& b) { return cast(b["x"], dtypes::float32); }, "to_float"}});
  CHECK_THROWS_WITH_AS(rw(x + 0, wrong_dtype), doctest::Contains("rule 'to_float'"), Error);
  CHECK_THROWS_WITH_AS(rw(x + 0, wrong_dtype), doctest::Contains("dtype must not change"), Error);
  PatternMatcher unbound({{var("x") + 0, [](B& b) { return b["y"]; }, "asks_y"}});
  CHECK_THROWS_WITH_AS(rw(x + 0, unbound), doctest::Contains("rule 'asks_y'"), Error);
  CHECK_THROWS_WITH_AS(rw(x + 0, unbound), doctest::Contains("'y'"), Error);
  auto build = [](std::vector<Rule> r) { PatternMatcher pm(std::move(r)); };
  CHECK_THROWS_WITH_AS(build({{UPat::any({}), same, "empty_any"}}), doctest::Contains("rule 'empty_any'"), Error);
  CHECK_THROWS_WITH_AS(build({{cvar("x") + UPat(Ops::ADD).named("x"), same, "clash"}}), doctest::Contains("name 'x'"), Error);
  CHECK_THROWS_WITH_AS(build({{UPat(Ops::SINK).perm({var(), var(), var(), var(), var(), var()}), same, "six"}}),
                       doctest::Contains("rule 'six'"), Error);
  CHECK_THROWS_WITH_AS(build({{var("x") + 0, RuleFn(), "no_fn"}}), doctest::Contains("no callback"), Error);
  CHECK_THROWS_WITH_AS(build({{UPat(OpSet{}), same, "no_ops"}}), doctest::Contains("matches no op"), Error);
  // compiled patterns bind at most 16 names and take at most 255 sources a node
  auto named = [](size_t n) {
    std::vector<UPat> src;
    for (size_t i = 0; i < n; i++) src.push_back(var("n" + std::to_string(i)));
    return UPat(Ops::SINK).src(std::move(src));
  };
  CHECK_NOTHROW(build({{named(16), same, "sixteen"}}));
  CHECK_THROWS_WITH_AS(build({{named(17), same, "seventeen"}}), doctest::Contains("rule 'seventeen'"), Error);
  CHECK_THROWS_WITH_AS(build({{named(17), same, "seventeen"}}), doctest::Contains("more than 16 names"), Error);
  CHECK_THROWS_WITH_AS(build({{UPat(Ops::SINK).src(std::vector<UPat>(256, var())), same, "wide"}}), doctest::Contains("too large"), Error);
  CHECK_THROWS_WITH_AS(graph_rewrite(UOpRef(), PatternMatcher({})), doctest::Contains("null sink"), Error);
  CHECK(f->dtype == dtypes::float32);
}

TEST_CASE("graph_rewrite: tracing records steps and matches, and is off by default") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  PatternMatcher pm({{var("x") + 0, same, "add_zero"}, {var("x") * 1, same}});
  UOpRef e = (x + 0) * 1;
  RewriteTrace tr;
  tr.begin_context("kernel 1");
  UOpRef out = graph_rewrite(e, pm, nullptr, {.name = "simplify", .trace = &tr});
  graph_rewrite(x * 1, pm, nullptr, {.name = "second", .trace = &tr});
  REQUIRE(tr.contexts.size() == 1);
  CHECK(tr.contexts[0].name == "kernel 1");
  REQUIRE(tr.contexts[0].steps.size() == 2);
  const TraceStep& s = tr.contexts[0].steps[0];
  CHECK(s.name == "simplify");
  CHECK(s.input == e);
  CHECK(s.output == x);
  REQUIRE(s.matches.size() == 2);
  CHECK(s.matches[0].rule == "add_zero");
  CHECK(s.matches[0].before == x + 0);
  CHECK(s.matches[0].after == x);
  CHECK(s.matches[0].where.find("tests/cpp/test_rewrite.cpp:") != std::string::npos);
  CHECK(s.matches[1].rule == "(x*1)");
  CHECK(s.matches[1].ns >= 0);
  CHECK(tr.match_count() == 3);
  // A rewrite without a trace records nothing anywhere.
  graph_rewrite(e, pm);
  CHECK(tr.match_count() == 3);
}

TEST_CASE("graph_rewrite: results stay right while the memo table grows") {
  // Every node is rewritten into a new one, so results are filed while the table grows.
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  std::vector<UOpRef> leaves;
  for (int i = 0; i < 5000; i++) leaves.push_back((x + int64_t(i)) * 1);
  PatternMatcher pm({{var("x") * 1, same}, {var("x") + cvar("c"), [](B& b) { return b["x"] - (-b["c"]->const_int()); }}});
  UOpRef out = rw(sink(leaves), pm);
  REQUIRE(out->src.size() == 5000);
  for (int i = 0; i < 5000; i += 997) CHECK(out->src[size_t(i)] == x - int64_t(-i));
}

namespace {
// Random operands for the matcher's equivalence tests: bounded variables and small constants.
class Operands {
 public:
  Operands(UOpTable& t, uint64_t seed) : pool_{t.var("a", 0, 15), t.var("b", -4, 4), t.var("c", 1, 8)}, seed_(seed) {
    for (int64_t k : {0, 1, -1, 2, 4, 7}) pool_.push_back(t.cnst(dtypes::index, k));
  }
  const UOpRef& pick() {
    seed_ = seed_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return pool_[size_t(seed_ >> 33) % pool_.size()];
  }
  // u may be picked later (index nodes, up to 400 in all): deeper nodes next time
  void add(const UOpRef& u) {
    if (u->dtype == dtypes::index && pool_.size() < 400) pool_.push_back(u);
  }

 private:
  std::vector<UOpRef> pool_;
  uint64_t seed_;
};
}  // namespace

TEST_CASE("pattern_matcher: picking candidates by the sources' ops fires what trying every rule in order fires") {
  // The symbolic rules on random nodes: the matcher (candidates of two-source nodes looked up
  // by their sources' op classes) against each rule tried alone, in table order.
  const PatternMatcher& pm = symbolic();
  std::vector<PatternMatcher> alone;
  for (const Rule& r : pm.rules()) alone.push_back(PatternMatcher({r}));
  UOpTable t;
  Operands operands(t, 12345);
  auto pick = [&]() -> const UOpRef& { return operands.pick(); };
  const Ops ops[] = {Ops::ADD, Ops::MUL, Ops::IDIV, Ops::MOD, Ops::MAX, Ops::SUB, Ops::CMPLT, Ops::CMPNE};
  int fired = 0;
  for (int i = 0; i < 3000; i++) {
    Ops op = ops[size_t(i) % std::size(ops)];
    UOpRef x = pick(), y = pick();
    if ((op == Ops::IDIV || op == Ops::MOD) && i % 3) y = t.cnst(dtypes::index, int64_t(2 + i % 5));
    UOpRef u = alu(op, {x, y});
    operands.add(u);
    Fired got = pm.rewrite(u.get());
    size_t want = pm.size();
    Fired ref;
    for (size_t r = 0; r < alone.size() && want == pm.size(); r++)
      if ((ref = alone[r].rewrite(u.get()))) want = r;
    INFO("node ", render(u));
    if (want == pm.size()) {
      CHECK(!got);
      continue;
    }
    REQUIRE(got);
    CHECK(size_t(got.rule - &pm.rules()[0]) == want);
    CHECK(got.out == ref.out);
    fired++;
  }
  CHECK(fired > 300);  // the nodes gave the rules work
}

TEST_CASE("pattern_matcher: the compiled loop tries the ways of matching a rule in the order continuation passing does") {
  // A callback that records what it saw and declines, so every way of matching is tried: a
  // pattern alone (the compiled loop) against the same pattern as the one alternative of
  // UPat::any (continuation passing).
  UOpTable t;
  UOpRef a = t.var("a", 0, 9), b = t.var("b", 0, 9);
  UOpRef c1 = t.cnst(dtypes::index, int64_t(1)), c2 = t.cnst(dtypes::index, int64_t(2));
  std::vector<UOpRef> pool{a, b, c1, c2};
  for (size_t i = 0; i < 4; i++)
    for (size_t j = 0; j < 4; j++) {
      pool.push_back(pool[i] + pool[j]);
      pool.push_back(pool[i] * pool[j]);
    }
  const UPat x = var("x"), y = var("y"), z = var("z");
  const std::vector<UPat> pats{
      (x + y) + z, x * cvar("c") + x, (x + cvar("c")) * (y + x), (x + y) + (y + x), x + x,
      UPat(Ops::SINK).perm({x, y, x}), UPat(Ops::SINK).perm({x + y, z, cvar("c")}),
      UPat(Ops::SINK).src_prefix({x + z}).named("s"), UPat(Ops::SINK).rep(cvar()).named("s")};
  std::vector<std::string> seen;
  auto record = [&](B& bb) {
    std::string s;
    for (const char* n : {"x", "y", "z", "c", "s"}) s += bb.has(n) ? render(bb[n]) + ";" : "-;";
    seen.push_back(s);
    return UOpRef();
  };
  std::vector<UOpRef> nodes;
  for (size_t i = 0; i < pool.size(); i++)
    for (size_t j = 0; j < pool.size(); j += 3) {
      nodes.push_back(pool[i] + pool[j]);
      nodes.push_back(pool[i] * pool[j]);
      nodes.push_back(sink({pool[i], pool[j], pool[(i + j) % pool.size()]}));
    }
  int calls = 0;
  for (const UPat& p : pats) {
    PatternMatcher flat({{p, record}}), cps({{UPat::any({p}), record}});
    for (const UOpRef& u : nodes) {
      seen.clear();
      CHECK(!flat.rewrite(u.get()));
      std::vector<std::string> want = std::move(seen);
      seen.clear();
      CHECK(!cps.rewrite(u.get()));
      INFO("pattern ", p.str(), " node ", render(u));
      CHECK(seen == want);
      calls += int(want.size());
    }
  }
  CHECK(calls > 500);
}

namespace {
bool is_zero_const(const UOp& c) { return c.const_float() == 0.0; }
int zero_asks = 0;  // how often counted_zero was asked
bool counted_zero(const UOp& c) { return ++zero_asks, c.const_float() == 0.0; }
bool int_node(const UOp& u) { return u.dtype.is_int(); }
}  // namespace

TEST_CASE("pattern_matcher: a constant source's plain predicate is asked before an attempt") {
  // cvar().where(f) with a plain function f: a node whose constants all fail f is not tried,
  // and the next rule gets it; one whose constant passes still fires, in either order.
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), y = t.var("y", 0, 9);
  PatternMatcher pm({
      {var("x") + cvar().where(is_zero_const), same},
      {var("x") + cvar("c"), mark(7)},
  });
  CHECK(rw(x + 0, pm) == x);
  CHECK(rw(0 + x, pm) == x);
  CHECK(rw(x + 5, pm)->const_int() == 7);
  CHECK(rw(5 + x, pm)->const_int() == 7);
  CHECK(rw(x + y, pm) == x + y);
  // bool: x | false
  UOpRef f = t.cnst(dtypes::bool_, int64_t(0)), tr = t.cnst(dtypes::bool_, int64_t(1)), c = lt(x, y);
  PatternMatcher bools({{var("x") | cvar().where(is_zero_const), same}});
  CHECK(rw(c | f, bools) == c);
  CHECK(rw(f | c, bools) == c);
  CHECK(rw(c | tr, bools) == (c | tr));
  // vector constants
  UOpRef v0 = t.make(Ops::CONST, dtypes::float32.vec(4), {}, 0.0), v2 = t.make(Ops::CONST, dtypes::float32.vec(4), {}, 2.0);
  PatternMatcher vec({{var("x") * cvar().where(is_zero_const), mark(3)}});
  CHECK(vec.rewrite(alu(Ops::MUL, {v2, v0}).get()).out == const_like(v2, int64_t(3)));
  CHECK(vec.rewrite(alu(Ops::MUL, {v0, v2}).get()).out == const_like(v2, int64_t(3)));
  CHECK(!vec.rewrite(alu(Ops::MUL, {v2, v2}).get()));
}

TEST_CASE("pattern_matcher: a constant's predicate is not asked ahead of a check on the root") {
  // The root's own check comes first in an attempt; the precheck must not ask the constant's
  // predicate of a node that check turns away (a predicate may rely on it).
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), xf = t.make(Ops::DEFINE_VAR, dtypes::float32, {}, VarArg{"xf", 0, 1});
  PatternMatcher pm({{(var("x") + cvar().where(counted_zero)).where(int_node), same}});
  zero_asks = 0;
  CHECK(!pm.rewrite((xf + 0.0).get()));
  CHECK(zero_asks == 0);
  CHECK(pm.rewrite((x + 0).get()).out == x);
  CHECK(zero_asks > 0);
}

TEST_CASE("pattern_matcher: a name bound under both sources needs the sources to share a node") {
  // The precheck asks that the root's sources (or their sources) share a node; it must not
  // turn away a node the rule matches, in any order of the sources.
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), y = t.var("y", 0, 9);
  auto x_times = [](int64_t k) { return RuleFn([k](B& b) { return b["x"] * k; }); };
  // the name as a source and under the other source, permuted root
  PatternMatcher plus({{var("x") * cvar("c") + var("x"), x_times(4)}, {var("a") * cvar("c") + var("b"), mark(9)}});
  CHECK(render(rw(x * 3 + x, plus)) == "(x*4)");
  CHECK(render(rw(x + x * 3, plus)) == "(x*4)");
  CHECK(render(rw(3 * x + x, plus)) == "(x*4)");
  CHECK(render(rw(x + 3 * x, plus)) == "(x*4)");
  CHECK(rw(x * 3 + y, plus)->const_int() == 9);
  CHECK(rw(y + x * 3, plus)->const_int() == 9);
  // ordered root, the name under either side
  PatternMatcher minus({{var("x") - var("x") * cvar("c"), x_times(5)}, {(var("x") + var("y")) - var("y"), same}, {UPat(Ops::SUB), mark(9)}});
  CHECK(render(rw(x - x * 3, minus)) == "(x*5)");
  CHECK(render(rw(x - 3 * x, minus)) == "(x*5)");
  CHECK(rw(x - y * 3, minus)->const_int() == 9);
  CHECK(rw((x + y) - y, minus) == x);
  CHECK(rw((y + x) - y, minus) == x);
  CHECK(rw((x + y) - x, minus) == y);
  CHECK(rw((x + 1) - y, minus)->const_int() == 9);
  // the name under both sources; and as both sources
  PatternMatcher both({{var("x") * cvar("c1") + var("x") * cvar("c2"), x_times(6)}, {var("x") + var("x"), x_times(2)}});
  CHECK(render(rw(x * 2 + x * 3, both)) == "(x*6)");
  CHECK(render(rw(2 * x + 3 * x, both)) == "(x*6)");
  CHECK(rw(x * 2 + y * 3, both) == x * 2 + y * 3);
  CHECK(render(rw(x + x, both)) == "(x*2)");
  CHECK(rw(x + y, both) == x + y);
}

TEST_CASE("pattern_matcher: a source's required source ops are checked before an attempt") {
  // (x+c1)+c2: the inner ADD must have a CONST source; either order at both levels still fires.
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), y = t.var("y", 0, 9);
  auto sum = [](B& b) { return b["x"] + (b["c1"]->const_int() + b["c2"]->const_int()); };
  PatternMatcher pm({{(var("x") + cvar("c1")) + cvar("c2"), sum}, {cvar("c1") - (var("x") + cvar("c2")), mark(8)}, {UPat(OpSet{Ops::ADD, Ops::SUB}), mark(9)}});
  auto once = [&](const UOpRef& u) { return pm.rewrite(u.get()).out; };  // the sources are left alone
  CHECK(render(once((x + 1) + 2)) == "(x+3)");
  CHECK(render(once(2 + (1 + x))) == "(x+3)");
  CHECK(once((x + y) + 2)->const_int() == 9);
  CHECK(once(5 - (x + 1))->const_int() == 8);
  CHECK(once(5 - (1 + x))->const_int() == 8);
  CHECK(once(5 - (x + y))->const_int() == 9);
}

TEST_CASE("pattern_matcher: the prechecks turn away no node a symbolic rule matches") {
  // Each symbolic rule alone against the same rule as the one alternative of UPat::any, which
  // gets no precheck (only its ops are indexed): both must fire alike on random nodes.
  const PatternMatcher& pm = symbolic();
  std::vector<PatternMatcher> alone, bare;
  for (const Rule& r : pm.rules()) {
    alone.push_back(PatternMatcher({r}));
    bare.push_back(PatternMatcher({Rule(UPat::any({r.pat}), r.fn, r.name, r.loc)}));
  }
  UOpTable t;
  Operands operands(t, 777);
  auto pick = [&]() -> const UOpRef& { return operands.pick(); };
  const Ops ops[] = {Ops::ADD, Ops::MUL, Ops::SUB, Ops::ADD, Ops::IDIV, Ops::MOD, Ops::MAX, Ops::CMPLT};
  int fired = 0;
  for (int i = 0; i < 3000; i++) {
    Ops op = ops[size_t(i) % std::size(ops)];
    UOpRef u = alu(op, {pick(), pick()});
    if (i % 7 == 0 && u->dtype == dtypes::index) u = -u;
    operands.add(u);
    INFO("node ", render(u));
    for (size_t r = 0; r < alone.size(); r++) {
      Fired a = alone[r].rewrite(u.get()), b = bare[r].rewrite(u.get());
      INFO("rule ", pm.rules()[r].name);
      REQUIRE(bool(a) == bool(b));
      if (a) {
        CHECK(a.out == b.out);
        fired++;
      }
    }
  }
  CHECK(fired > 500);
}
