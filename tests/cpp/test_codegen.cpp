// The scheduler and codegen on hand-built graphs: fusion decisions, normalization for the
// schedule cache, index expressions, and the CPU device compiling and running kernels.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "backends/cpu/cpu_device.h"
#include "codegen/codegen.h"
#include "rewrite/symbolic.h"
#include "schedule/schedule.h"
#include "uop/error.h"

using namespace mg;

namespace {
// A kernel input: parameter k of n elements, viewed as shape s.
UOpRef input(UOpTable& t, int64_t k, const Shape& s, DType dt = dtypes::float32) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  UOpRef b = t.make(Ops::BUFFER, dt, {t.make(Ops::DEFINE_GLOBAL, dt.ptr(n), {}, k)}, n);
  return s.size() == 1 ? b : t.make(Ops::RESHAPE, dt, {b}, s);
}
UOpRef mv(Ops op, const UOpRef& x, std::vector<int64_t> arg) { return x->table->make(op, x->dtype, {x}, std::move(arg)); }

// SINK(STORE(output parameter 0, value)), as the scheduler makes kernels.
UOpRef kernel_ast(const UOpRef& value) {
  UOpTable& t = *value->table;
  int64_t n = 1;
  for (int64_t d : *value->shape()) n *= d;
  UOpRef out = t.make(Ops::BUFFER, value->dtype, {t.make(Ops::DEFINE_GLOBAL, value->dtype.ptr(n), {}, int64_t(0))}, n);
  return sink({t.make(Ops::STORE, dtypes::void_, {out, value})});
}

int count_ops(const UOpRef& g, OpSet ops) {
  int n = 0;
  for (UOp* u : g->toposort()) n += ops.has(u->op);
  return n;
}

UOpRef lowered(const UOpRef& value) { return simplify(codegen::lower_indexing(kernel_ast(value))); }

// A realized tensor-level input, as the tensor layer makes them (UNIQUE, DEVICE).
UOpRef tensor_input(UOpTable& t, int64_t unique, const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  UOpRef b = t.make(Ops::BUFFER, dtypes::float32, {t.make(Ops::UNIQUE, dtypes::void_, {}, unique), t.make(Ops::DEVICE, dtypes::void_, {}, std::string("CPU"))}, n);
  return s.size() == 1 ? b : t.make(Ops::RESHAPE, dtypes::float32, {b}, s);
}
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
