// Benchmark of the rewrite engine (make bench): symbolic simplification throughput on a
// long chain and on a wide random graph, and what 1,000 rules on other ops cost per node.
// Figures are medians of several runs; ratios compare runs made side by side in this process.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>

#include "rewrite/graph_rewrite.h"
#include "rewrite/symbolic.h"

using namespace mg;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Index arithmetic as codegen makes it: each link wraps the previous value in a step that
// symbolic should fold away or shrink.
UOpRef chain_graph(UOpTable& t, size_t target_nodes) {
  std::mt19937_64 rng(12000);
  UOpRef x = t.var("x", 0, 4095);
  std::vector<UOpRef> l;
  for (int i = 0; i < 8; i++) l.push_back(t.var("l" + std::to_string(i), 0, 3));
  UOpRef e = x;
  for (size_t step = 0;; step++) {
    // count the real graph now and then (toposort caches on the node it is asked of)
    if (step % 256 == 0 && e->toposort().size() >= target_nodes) break;
    int64_t c = int64_t(rng() % 7) + 1;
    const UOpRef& v = l[rng() % l.size()];
    switch (rng() % 6) {
      case 0: e = (e * 4 + v) / 4; break;      // -> e
      case 1: e = (e + 0) * 1; break;          // -> e
      case 2: e = (e + c) + (8 - c); break;    // -> e+8
      case 3: e = (e * 4 + v) % 4 + e; break;  // -> v+e: the sum of v's grows down the chain
      case 4: e = (e * c) / c; break;          // -> e
      default: e = e - 8 + v * 0; break;       // -> e-8
    }
  }
  return e;
}

// Many independent random expressions of depth up to 6 over 8 variables, under one SINK.
UOpRef wide_graph(UOpTable& t, size_t count) {
  std::mt19937_64 rng(6);
  std::vector<UOpRef> vars;
  for (int i = 0; i < 8; i++) vars.push_back(t.var("v" + std::to_string(i), 0, 15));
  std::function<UOpRef(int)> gen = [&](int depth) -> UOpRef {
    if (depth == 0 || rng() % 5 == 0) return rng() % 3 ? vars[rng() % vars.size()] : t.cnst(dtypes::index, int64_t(rng() % 9));
    UOpRef a = gen(depth - 1);
    int64_t c = int64_t(rng() % 8) + 1;
    switch (rng() % 7) {
      case 0: return a + gen(depth - 1);
      case 1: return a * c;
      case 2: return a / c;
      case 3: return a % c;
      case 4: return maximum(a, gen(depth - 1));
      case 5: return a - gen(depth - 1);
      default: return where(lt(a, gen(depth - 1)), a, t.cnst(dtypes::index, c));
    }
  };
  std::vector<UOpRef> roots;
  for (size_t i = 0; i < count; i++) roots.push_back(gen(6));
  return sink(std::move(roots));
}

struct Run { size_t in, out; double build_s, rewrite_s; };

// The runs of one figure share a table, as the rewrites of one context do: what a run frees
// (its memo, its rules' intermediates) the next reuses, where a new table would fault its
// memory in afresh (about 1,000 page faults a chain run).
Run run_once(UOpTable& t, const std::function<UOpRef(UOpTable&)>& make, const PatternMatcher& pm) {
  double t0 = now();
  UOpRef g = make(t);
  double t1 = now();
  size_t in = g->toposort().size();
  double t2 = now();
  UOpRef r = graph_rewrite(g, pm, nullptr, {.name = "bench"});
  double t3 = now();
  return {in, r->toposort().size(), t1 - t0, t3 - t2};
}

void throughput(const char* name, const std::function<UOpRef(UOpTable&)>& make) {
  std::vector<double> rw, build;
  Run r{};
  UOpTable t;
  for (int i = 0; i < 7; i++) {
    r = run_once(t, make, symbolic());
    rw.push_back(r.rewrite_s);
    build.push_back(r.build_s);
  }
  double s = median(rw), best = *std::min_element(rw.begin(), rw.end());
  // the best run too: this machine's speed swings with its neighbours' load
  printf("rewrite/%s: %zu nodes -> %zu nodes, %.2f ms, %.2f M nodes/s (target >= 1.00; best run %.2f M nodes/s); rewrite / building the graph: %.2f\n",
         name, r.in, r.out, s * 1e3, double(r.in) / s / 1e6, double(r.in) / best / 1e6, s / median(build));
}

// Ten rules on the ops the chain uses, then the same ten with 1,000 more on ops it does not use.
std::vector<Rule> ten_rules() {
  return {
      {var("x") + 0, [](B& b) { return b["x"]; }},
      {var("x") * 1, [](B& b) { return b["x"]; }},
      {var("x") - 0, [](B& b) { return b["x"]; }},
      {var("x") / 1, [](B& b) { return b["x"]; }},
      {var("x") * 0, [](B& b) { return const_like(b["x"], 0); }},
      {(var("x") + cvar("a")) + cvar("b"), [](B& b) { return b["x"] + (b["a"]->const_int() + b["b"]->const_int()); }},
      {(var("x") * cvar("a")) * cvar("b"), [](B& b) { return b["x"] * (b["a"]->const_int() * b["b"]->const_int()); }},
      {(var("x") * cvar("c")) / cvar("c"), [](B& b) { return b["x"]; }},
      {var("x") % 1, [](B& b) { return const_like(b["x"], 0); }},
      {cvar("a") + cvar("b"), [](B& b) { return const_like(b["a"], b["a"]->const_int() + b["b"]->const_int()); }},
  };
}

void rule_scaling() {
  std::vector<Rule> base = ten_rules(), many = ten_rules();
  const Ops others[] = {Ops::LOAD, Ops::STORE, Ops::INDEX, Ops::RESHAPE, Ops::PERMUTE, Ops::EXPAND, Ops::SIN, Ops::EXP2, Ops::RANGE, Ops::SPECIAL};
  for (int i = 0; i < 1000; i++)
    many.push_back({UPat(others[i % 10]).src({var("x"), cvar("c")}).where([](const UOp& u) { return u.src.size() > 7; }),
                    [](B& b) { return b["x"]; }});
  PatternMatcher pm10(std::move(base)), pm1010(std::move(many));
  auto make = [](UOpTable& t) { return chain_graph(t, 12000); };
  std::vector<double> a, b;
  size_t n = 0;
  UOpTable t;
  for (int i = 0; i < 9; i++) {  // interleaved, so both see the same machine load
    Run r1 = run_once(t, make, pm10), r2 = run_once(t, make, pm1010);
    a.push_back(r1.rewrite_s);
    b.push_back(r2.rewrite_s);
    n = r1.in;
  }
  double ta = median(a), tb = median(b);
  printf("rewrite/rules: 10 rules %.3f us/node, 10 + 1000 rules on other ops %.3f us/node: ratio %.2f (target <= 1.30)\n",
         ta / double(n) * 1e6, tb / double(n) * 1e6, tb / ta);
}
}  // namespace

int main() {
  throughput("chain", [](UOpTable& t) { return chain_graph(t, 12000); });
  throughput("wide", [](UOpTable& t) { return wide_graph(t, 700); });
  rule_scaling();
}
