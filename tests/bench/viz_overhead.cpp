// VIZ's costs (make bench), each a ratio to a reference measured side by side (pairs run in
// turn, the figure is the median of the per-pair ratios, so both see the same noise):
//   layout     laying out a few-thousand-node graph vs a plain toposort-and-walk of it
//   compile    the executor's compile path with VIZ unset vs the same codegen + LLVM calls made
//              directly, without the executor's hooks (target: within 1.05)
//   run        a realize of a compiled schedule with VIZ unset vs the same steps (normalize,
//              cache lookups, allocate, run) written out without the executor's hooks
//              (target: within 1.05)
//   trace      the compile path with VIZ=1 (rewrite trace + profile) vs VIZ unset (target <= 2)
//   passes     codegen's passes alone (LLVM left out) with the rewrite trace on vs off
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "capi/context.h"
#include "codegen/codegen.h"
#include "runtime/executor.h"
#include "schedule/schedule.h"
#include "tensor/tensor.h"
#include "viz/model/layout.h"

namespace {

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void line(const char* name, const char* what, double ratio, const char* target, bool pass, const std::string& abs) {
  std::printf("viz/%-8s %-52s %6.3f x  (%s: %s)  %s\n", name, what, ratio, target, pass ? "PASS" : "MISS", abs.c_str());
}

std::string fmt(const char* f, double a, double b) {
  char s[200];
  std::snprintf(s, sizeof s, f, a, b);
  return s;
}

// A DAG like a big kernel graph: each node reads 1-3 recent nodes, now and then an old one.
mg::viz::LayoutGraph dag(uint32_t n) {
  mg::viz::LayoutGraph g;
  uint64_t s = 12345;
  auto rnd = [&]() { s = s * 6364136223846793005ull + 1442695040888963407ull; return uint32_t(s >> 33); };
  for (uint32_t v = 0; v < n; v++) {
    std::vector<uint32_t> src;
    const uint32_t k = v == 0 ? 0 : 1 + rnd() % 3;
    for (uint32_t j = 0; j < k; j++) src.push_back(rnd() % 8 == 0 ? rnd() % v : v - 1 - rnd() % std::min<uint32_t>(v, 6));
    g.src.push_back(src);
    g.width.push_back(float(60 + rnd() % 160));
  }
  return g;
}

// Reference for the layout: Kahn's toposort of the same graph, then a walk over every edge.
size_t toposort_walk(const mg::viz::LayoutGraph& g) {
  const size_t n = g.src.size();
  std::vector<std::vector<uint32_t>> users(n);
  std::vector<uint32_t> indeg(n, 0);
  for (size_t v = 0; v < n; v++)
    for (uint32_t s : g.src[v]) users[s].push_back(uint32_t(v)), indeg[v]++;
  std::vector<uint32_t> order;
  for (size_t v = 0; v < n; v++)
    if (!indeg[v]) order.push_back(uint32_t(v));
  for (size_t i = 0; i < order.size(); i++)
    for (uint32_t u : users[order[i]])
      if (--indeg[u] == 0) order.push_back(u);
  size_t sum = 0;
  for (uint32_t v : order)
    for (uint32_t s : g.src[v]) sum += s;
  return sum + order.size();
}

void bench_layout() {
  for (uint32_t n : {2000u, 5000u}) {
    const mg::viz::LayoutGraph g = dag(n);
    std::vector<double> r;
    double lay = 0, ref = 0;
    size_t sink = 0;
    for (int i = 0; i < 5; i++) {
      auto t0 = Clock::now();
      sink += toposort_walk(g);
      auto t1 = Clock::now();
      mg::viz::Layout l = mg::viz::layout_graph(g);
      auto t2 = Clock::now();
      sink += l.edges.size();
      r.push_back(secs(t1, t2) / secs(t0, t1));
      lay = i ? std::min(lay, secs(t1, t2)) : secs(t1, t2);
      ref = i ? std::min(ref, secs(t0, t1)) : secs(t0, t1);
    }
    char what[80];
    std::snprintf(what, sizeof what, "layout of a %u-node DAG vs toposort+walk", n);
    line("layout", what, median(r), "absolute target < 1 s", lay < 1.0,
         fmt("layout %.1f ms, toposort+walk %.3f ms", lay * 1e3, ref * 1e3) + (sink ? "" : " "));
  }
}

struct Bench {
  mg_ctx* ctx = nullptr;
  mg::Engine* e = nullptr;
  mg::Device* dev = nullptr;
  mg_tensor *x = nullptr, *w = nullptr;
  std::vector<mg_tensor*> live;

  mg_tensor* keep(mg_tensor* t) { live.push_back(t); return t; }
  mg_tensor* mv(mg_movement_op op, mg_tensor* a, std::vector<int64_t> s) {
    mg_tensor* o = nullptr;
    mg_tensor_movement(ctx, op, a, s.data(), int(s.size()), &o);
    return keep(o);
  }
  mg_tensor* alu(mg_op op, std::vector<mg_tensor*> s) {
    mg_tensor* o = nullptr;
    mg_tensor_alu(ctx, op, s.data(), int(s.size()), &o);
    return keep(o);
  }
  // (x @ w + c).relu().sum(1) with its own c: a new kernel AST each time, so no cache helps.
  mg_tensor* graph(double c) {
    mg_tensor* xe = mv(MG_EXPAND, mv(MG_RESHAPE, x, {32, 64, 1}), {32, 64, 48});
    mg_tensor* we = mv(MG_EXPAND, mv(MG_RESHAPE, w, {1, 64, 48}), {32, 64, 48});
    mg_tensor *mm = nullptr, *k = nullptr, *zero = nullptr, *out = nullptr;
    int64_t ax1 = 1;
    mg_tensor_reduce(ctx, MG_REDUCE_SUM, alu(MG_OP_MUL, {xe, we}), &ax1, 1, &mm);
    keep(mm);
    mg_tensor_full_like(ctx, c, MG_FLOAT32, mm, &k);
    mg_tensor_full_like(ctx, 0.0, MG_FLOAT32, mm, &zero);
    keep(k), keep(zero);
    mg_tensor* r = alu(MG_OP_MAX, {alu(MG_OP_ADD, {mm, k}), zero});
    int64_t ax2 = 2;
    mg_tensor_reduce(ctx, MG_REDUCE_SUM, r, &ax2, 1, &out);
    return keep(out);
  }
  std::vector<mg::UOpRef> asts(double c) {
    mg::UOpRef root = graph(c)->uop;
    mg::schedule::Normalized norm = mg::schedule::normalize(std::span<const mg::UOpRef>(&root, 1));
    mg::schedule::Schedule s = mg::schedule::make_schedule(norm.sink);
    std::vector<mg::UOpRef> out;
    for (const auto& it : s.items)
      if (it.kind == mg::schedule::Item::Kernel) out.push_back(it.ast);
    return out;
  }
  bool init() {
    setenv("CACHELEVEL", "0", 1);  // no disk cache: every compile runs LLVM
    unsetenv("VIZ");
    unsetenv("PROFILE");
    if (mg_ctx_create(nullptr, &ctx) != MG_OK || mg_set_default_device(ctx, "CPU") != MG_OK) return false;
    e = &ctx->engine;
    dev = e->runtime.device("CPU");
    int64_t xs[] = {32, 64}, ws[] = {64, 48};
    mg_tensor_rand(ctx, MG_FLOAT32, xs, 2, nullptr, &x);
    mg_tensor_rand(ctx, MG_FLOAT32, ws, 2, nullptr, &w);
    keep(x), keep(w);
    mg_tensor* both[] = {x, w};
    return mg_realize(ctx, both, 2) == MG_OK;
  }
  ~Bench() {
    for (mg_tensor* t : live) mg_tensor_release(t);
    if (ctx) mg_ctx_destroy(ctx);
  }
};

void bench_compile(Bench& b) {
  double c = 1;
  // Each compiles a schedule of its own (a new constant: nothing is in any cache).
  auto executor = [&](bool viz) {
    std::vector<mg::UOpRef> a = b.asts(c++);
    b.e->runtime.profile.on = viz;
    auto t0 = Clock::now();
    mg::compile_programs(b.e->runtime, *b.dev, a, viz ? &b.e->trace : nullptr);
    const double t = secs(t0, Clock::now());
    b.e->runtime.profile.on = false;
    b.e->trace.clear();
    b.e->runtime.profile.clear();
    return t;
  };
  auto direct = [&]() {  // the same codegen and LLVM calls, without the executor
    std::vector<mg::UOpRef> a = b.asts(c++);
    auto t0 = Clock::now();
    std::vector<mg::codegen::Kernel> ks;
    for (const mg::UOpRef& x : a) ks.push_back(mg::codegen::lower(x, *b.dev->target(), nullptr));
    std::vector<const mg::codegen::Kernel*> kp;
    for (const auto& k : ks) kp.push_back(&k);
    auto progs = b.dev->compile_batch(kp);
    return secs(t0, Clock::now());
  };
  std::vector<double> r_off, r_trace;
  double t_off = 0, t_direct = 0, t_trace = 0;
  for (int i = 0; i < 12; i++) {
    double off = 0, dir = 0, on = 0;
    switch (i % 3) {  // rotate the order, so that none always runs first
      case 0: off = executor(false), dir = direct(), on = executor(true); break;
      case 1: dir = direct(), on = executor(true), off = executor(false); break;
      default: on = executor(true), off = executor(false), dir = direct(); break;
    }
    r_off.push_back(off / dir);
    r_trace.push_back(on / off);
    t_off += off, t_direct += dir, t_trace += on;
  }
  const double n = double(r_off.size());
  line("compile", "compile, VIZ unset vs direct codegen+LLVM calls", median(r_off), "target <= 1.05", median(r_off) <= 1.05,
       fmt("%.2f ms vs %.2f ms per schedule", t_off / n * 1e3, t_direct / n * 1e3));
  line("trace", "compile, VIZ=1 (trace + profile) vs VIZ unset", median(r_trace), "target <= 2", median(r_trace) <= 2.0,
       fmt("%.2f ms vs %.2f ms per schedule", t_trace / n * 1e3, t_off / n * 1e3));
}

// Codegen's passes alone (no LLVM), with the rewrite trace on and off: the part tracing slows.
void bench_passes(Bench& b) {
  std::vector<double> r;
  double t_on = 0, t_off = 0;
  double c = 1000;
  for (int i = 0; i < 15; i++) {
    std::vector<mg::UOpRef> a = b.asts(c++);
    auto t0 = Clock::now();
    for (const mg::UOpRef& x : a) mg::codegen::lower(x, *b.dev->target(), nullptr);
    auto t1 = Clock::now();
    for (const mg::UOpRef& x : a) mg::codegen::lower(x, *b.dev->target(), &b.e->trace);
    auto t2 = Clock::now();
    b.e->trace.clear();
    r.push_back(secs(t1, t2) / secs(t0, t1));
    t_off += secs(t0, t1), t_on += secs(t1, t2);
  }
  const double n = double(r.size());
  line("passes", "codegen passes only, rewrite trace on vs off", median(r), "target <= 2", median(r) <= 2.0,
       fmt("%.3f ms vs %.3f ms per schedule", t_on / n * 1e3, t_off / n * 1e3));
}

void bench_run(Bench& b) {
  // One big elementwise kernel, compiled once: y = x2 * 3 + 1 over 4M floats.
  int64_t shape[] = {1 << 22};
  mg_tensor *x2 = nullptr, *three = nullptr, *one = nullptr;
  mg_tensor_rand(b.ctx, MG_FLOAT32, shape, 1, nullptr, &x2);
  b.keep(x2);
  mg_realize(b.ctx, &x2, 1);
  mg_tensor_full_like(b.ctx, 3.0, MG_FLOAT32, x2, &three);
  mg_tensor_full_like(b.ctx, 1.0, MG_FLOAT32, x2, &one);
  b.keep(three), b.keep(one);
  mg_tensor* y = b.alu(MG_OP_ADD, {b.alu(MG_OP_MUL, {x2, three}), one});
  mg::UOpRef root = y->uop;
  std::span<const mg::UOpRef> roots(&root, 1);
  mg::realize_compiled(b.e->runtime, *b.dev, roots, {}, nullptr);  // compiles; later runs hit the caches
  // The same steps without the executor's hooks: normalize, find the schedule and the program
  // in the caches, allocate the output, run. Returns seconds; buffers are freed untimed.
  auto direct = [&]() {
    std::vector<mg::BufferRef> outs;
    auto t0 = Clock::now();
    mg::schedule::Normalized norm = mg::schedule::normalize(roots);
    const mg::schedule::Schedule& sched = b.e->runtime.schedules.at(norm.sink.get()).s;
    for (const mg::schedule::Item& item : sched.items) {
      auto& cp = b.e->runtime.programs.at({b.dev, item.ast.get()});
      outs.push_back(std::make_shared<mg::Buffer>(b.dev, size_t(item.numel) * size_t(item.dtype.itemsize())));
      std::vector<void*> ptrs;
      for (const mg::schedule::Slot& sl : item.bufs)
        ptrs.push_back(sl.kind == mg::schedule::Slot::Input ? b.e->runtime.buffer(norm.inputs.at(size_t(sl.index)))->ptr() : outs.back()->ptr());
      cp.program->run(ptrs.data());
    }
    return secs(t0, Clock::now());
  };
  auto executor = [&](bool profile) {
    b.e->runtime.profile.on = profile;
    auto t0 = Clock::now();
    auto out = mg::realize_compiled(b.e->runtime, *b.dev, roots, {}, nullptr);
    const double t = secs(t0, Clock::now());
    b.e->runtime.profile.on = false;
    return t;
  };
  std::vector<double> r, r_prof;
  double t_off = 0, t_direct = 0;
  for (int i = 0; i < 21; i++) {
    // Alternate which goes first, so neither always finds the caches the other left.
    const double a = i % 2 ? direct() : executor(false);
    const double d = i % 2 ? executor(false) : direct();
    const double off = i % 2 ? d : a, dir = i % 2 ? a : d;
    const double on = executor(true);
    r.push_back(off / dir);
    r_prof.push_back(on / off);
    t_off += off, t_direct += dir;
  }
  const double n = double(r.size());
  line("run", "realize of a cached 16 MiB kernel, VIZ unset vs direct", median(r), "target <= 1.05", median(r) <= 1.05,
       fmt("%.3f ms vs %.3f ms", t_off / n * 1e3, t_direct / n * 1e3));
  line("profile", "the same realize with the profile on vs off", median(r_prof), "informative", true, "");
}

}  // namespace

int main() {
  bench_layout();
  Bench b;
  if (!b.init()) {
    std::printf("viz/compile, viz/run: skipped (no CPU device: %s)\n", b.ctx ? mg_last_error(b.ctx) : "no context");
    return 0;
  }
  bench_compile(b);
  bench_passes(b);
  bench_run(b);
  return 0;
}
