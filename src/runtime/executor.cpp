#include "runtime/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "uop/error.h"

namespace mg {

namespace {
// Partial reductions a GPU splits a large full reduction into (a few blocks per SM of an H100).
constexpr int64_t kReductionParts = 1024;

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0) {
  char s[256];
  std::snprintf(s, sizeof s, f, a, b, c, d);
  return s;
}

// A span event from t0 (now_s() seconds) to now. The profile's clock is the same steady clock.
void profile_span(Runtime& rt, ProfileEvent::Kind kind, const std::string& name, const std::string& device,
                  const std::string& kernel, double t0, double flops = 0, double bytes = 0) {
  Profile& p = rt.profile;
  ProfileEvent e;
  e.kind = kind;
  e.name = p.intern(name);
  e.device = p.intern(device);
  e.kernel = kernel.empty() ? 0 : p.intern(kernel);
  const int64_t end = p.now_ns();
  e.dur_ns = std::max<int64_t>(0, int64_t((now_s() - t0) * 1e9));
  e.start_ns = end - e.dur_ns;
  e.flops = flops;
  e.bytes = bytes;
  p.add(e);
}

void copy_between(Buffer& dst, const Buffer& src, size_t n) {
  if (!n) return;
  if (src.device()->host_visible()) { dst.device()->copy_in(dst.ptr(), src.ptr(), n); return; }
  std::vector<unsigned char> host(n);
  src.device()->copy_out(host.data(), src.ptr(), n);
  dst.device()->copy_in(dst.ptr(), host.data(), n);
}
}  // namespace

void compile_programs(Runtime& rt, Device& dev, std::span<const UOpRef> asts, RewriteTrace* trace) {
  std::vector<UOpRef> todo;
  for (const UOpRef& ast : asts) {
    auto key = std::make_pair(static_cast<const Device*>(&dev), static_cast<const UOp*>(ast.get()));
    if (rt.programs.count(key) || std::find(todo.begin(), todo.end(), ast) != todo.end()) continue;
    todo.push_back(ast);
  }
  if (todo.empty()) return;
  if (rt.also_compile) rt.also_compile(todo);
  std::vector<codegen::Kernel> ks;
  std::vector<double> passes_ms;
  for (const UOpRef& ast : todo) {
    if (trace) trace->begin_context("kernel");
    double t0 = now_s();
    ks.push_back(codegen::lower(ast, *dev.target(), trace));
    passes_ms.push_back((now_s() - t0) * 1e3);
    const codegen::Kernel& k = ks.back();
    if (trace) {
      TraceContext& c = trace->contexts.back();
      c.name = "kernel " + k.name;
      c.kernel = k.fn_name;
      c.device = dev.name();
    }
    if (rt.profile.on) profile_span(rt, ProfileEvent::Compile, "codegen " + k.name, "compiler", k.fn_name, t0);
    if (rt.debug >= 5) rt.debug_line("kernel " + k.name + " AST:\n" + print_graph(ast));
    if (rt.debug >= 6) rt.debug_line("kernel " + k.name + " linearized:\n" + codegen::lin_str(k));
    if (rt.debug >= 3 && !k.opts.empty()) {
      std::string o;
      for (const std::string& s : k.opts) o += " " + s;
      rt.debug_line("opts " + k.name + ":" + o);
    }
  }
  std::vector<const codegen::Kernel*> kp;
  for (const codegen::Kernel& k : ks) kp.push_back(&k);
  double t1 = now_s();
  std::vector<std::unique_ptr<Program>> progs = dev.compile_batch(kp);
  double backend_ms = (now_s() - t1) * 1e3 / double(ks.size());  // one module for all: shared evenly
  if (rt.profile.on)
    profile_span(rt, ProfileEvent::Compile, "compile " + std::to_string(ks.size()) + " kernel(s) for " + dev.name(), "compiler", "", t1);
  for (size_t i = 0; i < ks.size(); i++) {
    codegen::Kernel& k = ks[i];
    rt.stats.kernels_compiled++;
    if (rt.stats.passes_ms.size() < 100000) {
      rt.stats.passes_ms.push_back(float(passes_ms[i]));
      rt.stats.backend_ms.push_back(float(backend_ms));
    }
    if (rt.debug >= 4) rt.debug_line("kernel " + k.name + " source:\n" + progs[i]->source());
    if (rt.debug >= 7) rt.debug_line("kernel " + k.name + " assembly:\n" + progs[i]->assembly());
    if (rt.debug >= 2) rt.debug_line("compiled " + k.name + fmt(": passes %.2f ms, backend %.2f ms", passes_ms[i], backend_ms));
    auto key = std::make_pair(static_cast<const Device*>(&dev), static_cast<const UOp*>(todo[i].get()));
    rt.programs.emplace(key, Runtime::CachedProgram{todo[i], std::move(k), std::move(progs[i])});
  }
}

void run_kernel(Runtime& rt, Device& dev, const CachedProgram& cp, std::span<const BufferRef> bufs) {
  void* ptrs[64];
  std::vector<void*> many;
  void** p = ptrs;
  const std::vector<const UOp*>& vars = cp.kernel.vars;
  if (bufs.size() + vars.size() > 64) { many.resize(bufs.size() + vars.size()); p = many.data(); }
  for (size_t b = 0; b < bufs.size(); b++) p[b] = bufs[b]->ptr();
  std::vector<int64_t*> values;  // after the buffers: pointers to the variables' values
  for (size_t v = 0; v < vars.size(); v++) values.push_back(static_cast<int64_t*>(p[bufs.size() + v] = rt.var_value(vars[v])));
  const bool timed = rt.debug >= 2 || rt.profile.on;
  double k0 = timed ? now_s() : 0;
  double dt = 0;  // DEBUG=2: the kernel's time, measured by its device where it can (CUDA events)
  if (rt.debug >= 2) dt = cp.program->run_timed(p);
  else cp.program->run(p);
  rt.stats.kernels_run++;
  if (rt.recording) rt.recording->steps.push_back(RecordedStep{&cp, &dev, std::vector<BufferRef>(bufs.begin(), bufs.end()), std::move(values), 0});
  if (rt.profile.on) profile_span(rt, ProfileEvent::Kernel, cp.kernel.name, dev.name(), cp.kernel.fn_name, k0, cp.kernel.flops, cp.kernel.bytes);
  if (rt.debug >= 2) {
    rt.debug_line("  " + cp.kernel.name + fmt("  %8.1f us  %8.2f GFLOP/s  %8.2f GB/s", dt * 1e6, cp.kernel.flops / dt * 1e-9, cp.kernel.bytes / dt * 1e-9));
  }
}

void copy_buffer(Runtime& rt, Device& dev, const BufferRef& dst, const BufferRef& src, size_t nbytes) {
  double c0 = rt.profile.on ? now_s() : 0;
  copy_between(*dst, *src, nbytes);
  rt.stats.copies++;
  if (rt.recording) rt.recording->steps.push_back(RecordedStep{nullptr, &dev, {dst, src}, {}, nbytes});
  if (rt.profile.on) profile_span(rt, ProfileEvent::Copy, "copy", dev.name(), "", c0, 0, double(nbytes));
}

BufferRef copy_of(Runtime& rt, const BufferRef& src) {
  BufferRef dst = std::make_shared<Buffer>(src->device(), src->nbytes());
  copy_buffer(rt, *src->device(), dst, src, src->nbytes());
  return dst;
}

std::vector<BufferRef> realize_compiled(Runtime& rt, Device& dev, std::span<const UOpRef> roots, std::span<const BufferRef> into,
                                        RewriteTrace* trace) {
  double t0 = now_s();
  // A GPU runs a reduction to one value as one block: split large ones across blocks.
  std::vector<UOpRef> gpu_roots;
  if (const codegen::Target* tg = dev.target(); tg && tg->gpu) {
    gpu_roots = schedule::split_reductions(roots, kReductionParts);
    roots = gpu_roots;
  }
  schedule::Normalized norm = schedule::normalize(roots);
  auto found = rt.schedules.find(norm.sink.get());
  bool hit = found != rt.schedules.end();
  if (!hit) {
    if (trace) {
      // The scheduler runs no graph_rewrite of its own: its context shows the graph it was
      // given, then the kernels it cut it into, one step each (the fusion decisions).
      trace->begin_context("schedule");
      trace->add_step("schedule input", false, norm.sink).output = norm.sink;
    }
    found = rt.schedules.emplace(norm.sink.get(), Runtime::CachedSchedule{norm.sink, schedule::make_schedule(norm.sink)}).first;
    rt.stats.schedules_made++;
    if (trace) {
      const schedule::Schedule& made = found->second.s;
      for (size_t i = 0; i < made.items.size(); i++) {
        const schedule::Item& it = made.items[i];
        if (it.kind != schedule::Item::Kernel) continue;
        trace->add_step("item " + std::to_string(i) + ": kernel of " + std::to_string(it.numel) + " " + it.dtype.name(), false, it.ast).output = it.ast;
      }
    }
  } else {
    rt.stats.schedule_cache_hits++;
  }
  const schedule::Schedule& s = found->second.s;
  double t1 = now_s();
  if (rt.debug >= 1)
    rt.debug_line("schedule: " + std::to_string(s.items.size()) + " item(s) for " + std::to_string(roots.size()) + " tensor(s) in " +
                  fmt("%.3f ms", (t1 - t0) * 1e3) + (hit ? " (cache hit)" : ""));

  std::vector<BufferRef> inputs, outputs(s.outputs.size()), arenas(s.arena_bytes.size());
  for (const UOp* b : norm.inputs) inputs.push_back(rt.buffer(b));
  // Roots that go into existing memory (assign): their kernel writes there when nothing reads
  // the old contents after it; otherwise the root is made aside and copied in at the end.
  std::vector<BufferRef> copy_in(s.outputs.size());
  for (size_t r = 0; r < into.size() && r < s.outputs.size(); r++) {
    if (!into[r]) continue;
    int input = -1;
    for (size_t j = 0; j < inputs.size(); j++)
      if (inputs[j] == into[r]) input = int(j);
    if (schedule::can_write_over(s, r, input)) outputs[r] = into[r];
    else copy_in[r] = into[r];
  }
  auto slot_buffer = [&](const schedule::Slot& sl) -> BufferRef& {
    switch (sl.kind) {
      case schedule::Slot::Input: return inputs.at(size_t(sl.index));
      case schedule::Slot::Output: return outputs.at(size_t(sl.index));
      default: return arenas.at(size_t(s.temp_arena.at(size_t(sl.index))));
    }
  };
  std::vector<UOpRef> asts;
  for (const schedule::Item& it : s.items)
    if (it.kind == schedule::Item::Kernel && it.numel > 0) asts.push_back(it.ast);
  compile_programs(rt, dev, asts, trace);
  for (const UOpRef& ast : asts)  // every variable is bound before anything runs
    for (const UOp* v : rt.programs.at(std::make_pair(static_cast<const Device*>(&dev), static_cast<const UOp*>(ast.get()))).kernel.vars) rt.var_value(v);
  std::vector<BufferRef> bufs;
  for (size_t i = 0; i < s.items.size(); i++) {
    const schedule::Item& it = s.items[i];
    BufferRef& out = slot_buffer(it.bufs[0]);
    size_t nbytes = size_t(it.numel) * size_t(it.dtype.itemsize());
    if (!out) out = std::make_shared<Buffer>(&dev, it.bufs[0].kind == schedule::Slot::Temp ? s.arena_bytes[size_t(s.temp_arena[size_t(it.bufs[0].index)])] : nbytes);
    if (it.kind == schedule::Item::Copy) {
      if (nbytes) copy_buffer(rt, dev, out, slot_buffer(it.bufs[1]), nbytes);
    } else if (it.numel > 0) {
      const CachedProgram& cp = rt.programs.at(std::make_pair(static_cast<const Device*>(&dev), static_cast<const UOp*>(it.ast.get())));
      bufs.clear();
      for (const schedule::Slot& sl : it.bufs) bufs.push_back(slot_buffer(sl));
      run_kernel(rt, dev, cp, bufs);
    }
    for (size_t a = 0; a < arenas.size(); a++)
      if (s.arena_last_use[a] == int(i)) arenas[a].reset();
  }
  for (size_t r = 0; r < s.outputs.size(); r++) {
    BufferRef& b = slot_buffer(s.outputs[r]);
    const size_t nbytes = size_t(s.output_numel[r]) * size_t(s.output_dtype[r].itemsize());
    if (!b) b = std::make_shared<Buffer>(&dev, nbytes);
    outputs[r] = b;
    if (copy_in[r]) {
      if (nbytes) copy_buffer(rt, dev, copy_in[r], b, nbytes);
      outputs[r] = copy_in[r];
    }
  }
  if (rt.debug >= 1 && !s.temp_numel.empty()) {
    size_t planned = 0;
    for (size_t n : s.arena_bytes) planned += n;
    rt.debug_line("memory: " + std::to_string(s.temp_numel.size()) + " temp(s) in " + std::to_string(s.arena_bytes.size()) + " buffer(s), " +
                  fmt("%.2f MB (%.2f MB unshared); in use %.2f MB, peak %.2f MB", planned * 1e-6, schedule::temp_bytes(s) * 1e-6,
                      rt.bytes_in_use() * 1e-6, rt.peak_bytes() * 1e-6));
  }
  return outputs;
}

}  // namespace mg
