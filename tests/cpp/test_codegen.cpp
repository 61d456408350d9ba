// The scheduler and codegen on hand-built graphs: fusion decisions, normalization for the
// schedule cache, index expressions, and the CPU device compiling and running kernels.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "backends/cpu/cpu_device.h"
#include "tests/cpp/kernel_builders.h"
#include "codegen/codegen.h"
#include "rewrite/symbolic.h"
#include "schedule/schedule.h"
#include "uop/error.h"

using namespace mg;
using mg::test::input;
using mg::test::kernel_ast;
using mg::test::mv;
using mg::test::tensor_input;

namespace {
int count_ops(const UOpRef& g, OpSet ops) {
  int n = 0;
  for (UOp* u : g->toposort()) n += ops.has(u->op);
  return n;
}

UOpRef lowered(const UOpRef& value) { return simplify(codegen::lower_indexing(kernel_ast(value))); }

}  // namespace

TEST_CASE("index lowering: a permute then a reshape that splits a dim needs no division or modulo") {
  UOpTable t;
  UOpRef x = mv(Ops::RESHAPE, mv(Ops::PERMUTE, input(t, 1, {4, 6}), {1, 0}), {6, 2, 2});
  UOpRef g = lowered(x);
  CHECK(count_ops(g, {Ops::IDIV, Ops::MOD}) == 0);
  CHECK(count_ops(g, {Ops::LOAD}) == 1);
}

TEST_CASE("index lowering: merging permuted dims does need them (the check above can fail)") {
  UOpTable t;
  UOpRef x = mv(Ops::RESHAPE, mv(Ops::PERMUTE, input(t, 1, {4, 6}), {1, 0}), {24});
  CHECK(count_ops(lowered(x), {Ops::IDIV, Ops::MOD}) > 0);
}

TEST_CASE("index lowering: expand reads index 0, shrink and flip offset, pad gates its load") {
  UOpTable t;
  auto load_index = [](const UOpRef& g) {
    for (UOp* u : g->toposort())
      if (u->op == Ops::INDEX && u->dtype.is_ptr() && std::get<int64_t>(u->src[0]->arg) == 1) return render(u->src[1]);
    return std::string("none");
  };
  // expand: the load's address uses only the first output loop
  CHECK(load_index(lowered(mv(Ops::EXPAND, input(t, 1, {3, 1}), {3, 5}))) == "range(3, 0)");
  CHECK(load_index(lowered(mv(Ops::SHRINK, input(t, 1, {6}), {2, 5}))) == "(range(3, 0)+2)");
  CHECK(load_index(lowered(mv(Ops::FLIP, input(t, 1, {5}), {0}))) == "(4-range(5, 0))");
  UOpRef p = lowered(mv(Ops::PAD, input(t, 1, {3}), {2, 1}));
  int gated = 0;
  for (UOp* u : p->toposort())
    if (u->op == Ops::INDEX && u->dtype.is_ptr() && !u->src[2]->is_const()) gated++;
  CHECK(gated == 1);
  CHECK(count_ops(p, {Ops::WHERE}) == 1);
}

TEST_CASE("scheduler: elementwise chains fuse, an expanded reduction is its own kernel, contiguous is a boundary") {
  UOpTable t;
  UOpRef a = tensor_input(t, 1, {4, 8}), b = tensor_input(t, 2, {4, 8});
  {
    schedule::Normalized n = schedule::normalize(std::vector<UOpRef>{(a + b) * a});
    CHECK(n.inputs.size() == 2);
    CHECK(schedule::make_schedule(n.sink).items.size() == 1);
  }
  {
    UOpRef m = t.make(Ops::REDUCE_AXIS, dtypes::float32, {a}, ReduceArg{Ops::MAX, {1}});
    UOpRef sm = a - mv(Ops::EXPAND, m, {4, 8});
    schedule::Schedule s = schedule::make_schedule(schedule::normalize(std::vector<UOpRef>{sm}).sink);
    CHECK(s.items.size() == 2);
    CHECK(s.temp_numel.size() == 1);
    CHECK(s.temp_last_use.at(0) == 1);
  }
  {
    UOpRef c = t.make(Ops::CONTIGUOUS, dtypes::float32, {a + b});
    schedule::Schedule s = schedule::make_schedule(schedule::normalize(std::vector<UOpRef>{c * b}).sink);
    CHECK(s.items.size() == 2);
  }
}

TEST_CASE("scheduler: graphs of the same structure normalize to the same sink whatever their buffers") {
  UOpTable t;
  UOpRef a = tensor_input(t, 1, {16}), b = tensor_input(t, 2, {16}), c = tensor_input(t, 3, {16}), d = tensor_input(t, 4, {16});
  schedule::Normalized n1 = schedule::normalize(std::vector<UOpRef>{a * b + a});
  schedule::Normalized n2 = schedule::normalize(std::vector<UOpRef>{c * d + c});
  schedule::Normalized n3 = schedule::normalize(std::vector<UOpRef>{c * d + d});
  CHECK(n1.sink == n2.sink);
  CHECK(n1.sink != n3.sink);
  CHECK(n2.inputs == std::vector<const UOp*>{c.get(), d.get()});
}

TEST_CASE("CPU device: a lowered kernel compiles, runs on its buffers and is a pure function of its AST") {
  Runtime rt(HostAllocator{});
  cpu::CpuDevice dev(rt, cpu::CpuOptions{1, "", 0});
  UOpTable t;
  // out[i, j] = sum_k x[i, k] * w[k, j] + 1
  UOpRef x = mv(Ops::EXPAND, mv(Ops::RESHAPE, input(t, 1, {3, 4}), {3, 4, 1}), {3, 4, 8});
  UOpRef w = mv(Ops::EXPAND, mv(Ops::RESHAPE, input(t, 2, {4, 8}), {1, 4, 8}), {3, 4, 8});
  UOpRef mm = mv(Ops::RESHAPE, t.make(Ops::REDUCE_AXIS, dtypes::float32, {x * w}, ReduceArg{Ops::ADD, {1}}), {3, 8});
  UOpRef one = mv(Ops::EXPAND, mv(Ops::RESHAPE, t.cnst(dtypes::float32, 1.0), {1, 1}), {3, 8});
  UOpRef ast = kernel_ast(mm + one);
  codegen::Kernel k1 = codegen::lower(ast, *dev.target());
  codegen::Kernel k2 = codegen::lower(ast, *dev.target());
  CHECK(k1.lowered == k2.lowered);
  CHECK(k1.fn_name == k2.fn_name);
  CHECK(k1.name == "r_3_8_4");
  std::unique_ptr<Program> p = dev.compile(k1);
  std::vector<float> out(24, -1), xs(12), ws(32);
  for (int i = 0; i < 12; i++) xs[size_t(i)] = float(i % 5 - 2);
  for (int i = 0; i < 32; i++) ws[size_t(i)] = float(i % 7) * 0.5f;
  void* bufs[] = {out.data(), xs.data(), ws.data()};
  p->run(bufs);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 8; j++) {
      float want = 1;
      for (int kk = 0; kk < 4; kk++) want += xs[size_t(i * 4 + kk)] * ws[size_t(kk * 8 + j)];
      CHECK(out[size_t(i * 8 + j)] == doctest::Approx(want));
    }
}

TEST_CASE("CPU device: a kernel that cannot be compiled is an Error(Compile) naming it") {
  Runtime rt(HostAllocator{});
  cpu::CpuDevice dev(rt, cpu::CpuOptions{1, "", 0});
  UOpTable t;
  UOpRef a = input(t, 1, {4});
  codegen::Kernel k = codegen::lower(kernel_ast(a + a), *dev.target());
  // An op no renderer knows, slipped into the linear program.
  UOpRef odd = t.make(Ops::THREEFRY, dtypes::uint64, {t.cnst(dtypes::uint64, int64_t(1)), t.cnst(dtypes::uint64, int64_t(2))});
  k.lin.insert(k.lin.begin(), codegen::LinItem{codegen::LinItem::Op, odd.get()});
  try {
    dev.compile(k);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind == ErrorKind::Compile);
    CHECK(std::string(e.what()).find(k.name) != std::string::npos);
    CHECK(std::string(e.what()).find("THREEFRY") != std::string::npos);
  }
}

TEST_CASE("index lowering: WINDOW reads position o*stride + k*dilation") {
  UOpTable t;
  UOpRef w = mv(Ops::WINDOW, input(t, 1, {10}), {3, 2, 2});  // o = (10 - 2*2 - 1)//2 + 1 = 3
  CHECK(*w->shape() == Shape{3, 3});
  UOpRef g = lowered(w);
  std::string idx;
  for (UOp* u : g->toposort())
    if (u->op == Ops::INDEX && u->dtype.is_ptr() && std::get<int64_t>(u->src[0]->arg) == 1) idx = render(u->src[1]);
  CHECK(idx == "((range(3, 0)*2)+(range(3, 1)*2))");
  CHECK(count_ops(g, {Ops::IDIV, Ops::MOD}) == 0);
  CHECK_THROWS_AS(mv(Ops::WINDOW, input(t, 1, {4}), {3, 1, 2})->shape(), Error);  // 5 positions wide
  CHECK_THROWS_AS(mv(Ops::WINDOW, input(t, 1, {4}), {3, 0, 1})->shape(), Error);
  CHECK_THROWS_AS(mv(Ops::WINDOW, input(t, 1, {4}), {3, 1})->shape(), Error);
}

TEST_CASE("gated indices: an address folds under its gate's loop bounds; an address always inside loses its gate") {
  UOpTable t;
  UOpRef dg = t.make(Ops::DEFINE_GLOBAL, dtypes::float32.ptr(20), {}, int64_t(1));
  UOpRef r = t.make(Ops::RANGE, dtypes::index, {t.cnst(dtypes::index, int64_t(24))}, int64_t(0));
  auto k = [&](int64_t v) { return t.cnst(dtypes::index, v); };
  auto load_at = [&](const UOpRef& addr, const UOpRef& gate) {
    UOpRef ld = t.make(Ops::LOAD, dtypes::float32, {t.make(Ops::INDEX, dg->dtype, {dg, addr, gate})});
    UOpRef out = t.make(Ops::DEFINE_GLOBAL, dtypes::float32.ptr(24), {}, int64_t(0));
    return sink({t.make(Ops::STORE, dtypes::void_, {t.make(Ops::INDEX, out->dtype, {out, r, t.cnst(dtypes::bool_, int64_t(1))}), ld, r})});
  };
  auto index_of_load = [](const UOpRef& g) {
    for (UOp* u : g->toposort())
      if (u->op == Ops::LOAD) return u->src[0];
    return UOpRef();
  };
  // r < 20 under the gate: r//20 is 0 and r%20 is r; the address can reach 23, so the gate stays
  UOpRef a = index_of_load(codegen::simplify_gated_indices(load_at((r / k(20)) * k(7) + r % k(20), lt(r, k(20))), nullptr));
  CHECK(render(a->src[1]) == "range(24, 0)");
  CHECK(render(a->src[2]) == "(range(24, 0)<20)");
  // r%5 is inside the 20 elements whatever r is: read without a gate
  UOpRef b = index_of_load(codegen::simplify_gated_indices(load_at(r % k(5), lt(r, k(30))), nullptr));
  CHECK(b->src[2]->is_const());
}

TEST_CASE("fold reductions: a lazy arange is its loop position, and a one-hot sum through it is one gated load") {
  UOpTable t;
  auto ones = [&](int64_t n) { return mv(Ops::EXPAND, mv(Ops::RESHAPE, t.cnst(dtypes::int32, int64_t(1)), {1}), {n}); };
  // {1..6}: the ones in a window of 6 sliding over 5 zeros then 6 ones (ops_create.lua's arange)
  UOpRef count = mv(Ops::RESHAPE, t.make(Ops::REDUCE_AXIS, dtypes::int32, {mv(Ops::WINDOW, mv(Ops::PAD, ones(6), {5, 0}), {6, 1, 1})}, ReduceArg{Ops::ADD, {1}}), {6});
  codegen::Kernel k1 = codegen::lower(kernel_ast(count), codegen::Target{.threads = false, .vector_bytes = 0});
  CHECK(count_ops(k1.lowered, {Ops::REDUCE}) == 0);
  // x {6, 2} gathered by idx {3} (1-based): sum over positions p of where(idx == p, x[p], 0)
  UOpRef idx = mv(Ops::EXPAND, mv(Ops::RESHAPE, input(t, 1, {3}, dtypes::int32), {3, 1, 1}), {3, 6, 2});
  UOpRef pos = mv(Ops::EXPAND, mv(Ops::RESHAPE, count, {1, 6, 1}), {3, 6, 2});
  UOpRef x = mv(Ops::EXPAND, mv(Ops::RESHAPE, input(t, 2, {6, 2}), {1, 6, 2}), {3, 6, 2});
  UOpRef zero = mv(Ops::EXPAND, mv(Ops::RESHAPE, t.cnst(dtypes::float32, 0.0), {1, 1, 1}), {3, 6, 2});
  UOpRef picked = t.make(Ops::REDUCE_AXIS, dtypes::float32, {where(eq(idx, pos), x, zero)}, ReduceArg{Ops::ADD, {1}});
  codegen::Kernel k2 = codegen::lower(kernel_ast(mv(Ops::RESHAPE, picked, {3, 2})), codegen::Target{.threads = false, .vector_bytes = 0});
  CHECK(count_ops(k2.lowered, {Ops::REDUCE}) == 0);
  CHECK(count_ops(k2.lowered, {Ops::LOAD}) == 2);
  for (UOp* u : k2.lowered->toposort())  // the gathered load happens only where idx is in 1..6
    if (u->op == Ops::INDEX && u->dtype.is_ptr() && std::get<int64_t>(u->src[0]->arg) == 2) CHECK(!u->src[2]->is_const());
  // and it computes the gather
  Runtime rt(HostAllocator{});
  cpu::CpuDevice dev(rt, cpu::CpuOptions{1, "", 0});
  std::unique_ptr<Program> p = dev.compile(k2);
  std::vector<float> out(6, -1), xs{10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 60, 61};
  std::vector<int32_t> is{6, 1, 9};  // 9 matches no position: zeros
  void* bufs[] = {out.data(), is.data(), xs.data()};
  p->run(bufs);
  CHECK(out == std::vector<float>{60, 61, 10, 11, 0, 0});
}

TEST_CASE("variables: one kernel sums the first n rows for every n; a count over n folds to n") {
  UOpTable t;
  const int64_t n = t.sym_dim(t.var("n", 1, 8));
  // x {8, 3} (float32): column sums of its first n rows
  UOpRef rows = mv(Ops::SHRINK, input(t, 1, {8, 3}), {0, n, 0, 3});
  UOpRef sums = mv(Ops::RESHAPE, t.make(Ops::REDUCE_AXIS, dtypes::float32, {rows}, ReduceArg{Ops::ADD, {0}}), {3});
  codegen::Kernel k = codegen::lower(kernel_ast(sums), codegen::Target{.threads = false});
  REQUIRE(k.vars.size() == 1);
  CHECK(std::get<VarArg>(k.vars[0]->arg).name == "n");
  CHECK(k.name == "r_3_n");
  Runtime rt(HostAllocator{});
  cpu::CpuDevice dev(rt, cpu::CpuOptions{1, "", 0});
  std::unique_ptr<Program> p = dev.compile(k);
  std::vector<float> xs(24);
  for (size_t i = 0; i < xs.size(); i++) xs[i] = float(i);
  for (int64_t v : {1, 2, 5, 8}) {
    std::vector<float> out(3, -1);
    int64_t value = v;
    void* bufs[] = {out.data(), xs.data(), &value};  // the variable's parameter points to its value
    p->run(bufs);
    for (int64_t c = 0; c < 3; c++) {
      float want = 0;
      for (int64_t r = 0; r < v; r++) want += xs[size_t(r * 3 + c)];
      CHECK(out[size_t(c)] == want);
    }
  }
  // int32 ones over the variable axis: no loop left, the count is the variable
  UOpRef ones = mv(Ops::EXPAND, mv(Ops::RESHAPE, t.cnst(dtypes::int32, int64_t(1)), {1}), {n});
  UOpRef count = mv(Ops::RESHAPE, t.make(Ops::REDUCE_AXIS, dtypes::int32, {ones}, ReduceArg{Ops::ADD, {0}}), {});
  codegen::Kernel kc = codegen::lower(kernel_ast(count), codegen::Target{.threads = false});
  CHECK(count_ops(kc.lowered, {Ops::REDUCE}) == 0);
  CHECK(kc.vars.size() == 1);
}

TEST_CASE("scheduler: a reduction is stored at its one frontier node, before movement ops") {
  UOpTable t;
  UOpRef a = tensor_input(t, 1, {4, 8});
  // g {4, 1}, padded to {4, 2} and added to itself: the sum is what a second reduction reads,
  // so it is stored (8 values) with g computed inside its kernel, not g (4 values) on its own
  UOpRef g = t.make(Ops::REDUCE_AXIS, dtypes::float32, {a * a}, ReduceArg{Ops::ADD, {1}});
  UOpRef s = mv(Ops::PAD, g, {0, 0, 0, 1});
  s = s + s;
  UOpRef total = t.make(Ops::REDUCE_AXIS, dtypes::float32, {s}, ReduceArg{Ops::ADD, {0}});
  schedule::Schedule sch = schedule::make_schedule(schedule::normalize(std::vector<UOpRef>{total}).sink);
  REQUIRE(sch.items.size() == 2);
  CHECK(sch.items[0].numel == 8);
  // the same through a permute: the value before the movement op is stored, in its own layout
  UOpRef p = mv(Ops::PERMUTE, mv(Ops::RESHAPE, s, {2, 2, 2}), {2, 1, 0});
  UOpRef total2 = t.make(Ops::REDUCE_AXIS, dtypes::float32, {p}, ReduceArg{Ops::ADD, {0}});
  schedule::Schedule sch2 = schedule::make_schedule(schedule::normalize(std::vector<UOpRef>{total2}).sink);
  REQUIRE(sch2.items.size() == 2);
  const UOp* stored = sch2.items[0].ast->src[0]->src[1].get();
  CHECK(stored->op == Ops::ADD);
}

TEST_CASE("CPU device: padded lanes (an axis of 20 as 3 x 8) mask the stores past the end") {
  Runtime rt(HostAllocator{});
  cpu::CpuDevice dev(rt, cpu::CpuOptions{1, "", 0});
  UOpTable t;
  UOpRef x = input(t, 1, {3, 20});
  codegen::Kernel k = codegen::lower(kernel_ast(x * x + x), *dev.target());
  REQUIRE(k.opts.size() == 1);
  CHECK(k.opts[0] == "UPCAST 1 x8 padded");
  std::unique_ptr<Program> p = dev.compile(k);
  std::vector<float> out(60 + 8, -7), xs(60);
  for (int i = 0; i < 60; i++) xs[size_t(i)] = float(i) * 0.5f;
  void* bufs[] = {out.data(), xs.data()};
  p->run(bufs);
  for (int i = 0; i < 60; i++) CHECK(out[size_t(i)] == xs[size_t(i)] * xs[size_t(i)] + xs[size_t(i)]);
  for (int i = 60; i < 68; i++) CHECK(out[size_t(i)] == -7);  // past the end: untouched
}
