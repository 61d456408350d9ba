#include "runtime/executor.h"

#include <chrono>
#include <cstdio>

#include "uop/error.h"

namespace mg {

namespace {
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0) {
  char s[256];
  std::snprintf(s, sizeof s, f, a, b, c, d);
  return s;
}

void copy_between(Buffer& dst, const Buffer& src, size_t n) {
  if (!n) return;
  if (src.device()->host_visible()) { dst.device()->copy_in(dst.ptr(), src.ptr(), n); return; }
  std::vector<unsigned char> host(n);
  src.device()->copy_out(host.data(), src.ptr(), n);
  dst.device()->copy_in(dst.ptr(), host.data(), n);
}
}  // namespace

Runtime::CachedProgram& program_for(Runtime& rt, Device& dev, const UOpRef& ast, RewriteTrace* trace) {
  auto key = std::make_pair(static_cast<const Device*>(&dev), static_cast<const UOp*>(ast.get()));
  auto it = rt.programs.find(key);
  if (it != rt.programs.end()) return it->second;
  if (trace) trace->begin_context("kernel");
  double t0 = now_s();
  codegen::Kernel k = codegen::lower(ast, *dev.target(), trace);
  if (trace) trace->contexts.back().name = "kernel " + k.name;
  double t1 = now_s();
  if (rt.debug >= 5) rt.debug_line("kernel " + k.name + " AST:\n" + print_graph(ast));
  if (rt.debug >= 6) rt.debug_line("kernel " + k.name + " linearized:\n" + codegen::lin_str(k));
  std::unique_ptr<Program> p = dev.compile(k);
  double t2 = now_s();
  rt.stats.kernels_compiled++;
  if (rt.debug >= 3 && !k.opts.empty()) {
    std::string o;
    for (const std::string& s : k.opts) o += " " + s;
    rt.debug_line("opts " + k.name + ":" + o);
  }
  if (rt.debug >= 4) rt.debug_line("kernel " + k.name + " source:\n" + p->source());
  if (rt.debug >= 7) rt.debug_line("kernel " + k.name + " assembly:\n" + p->assembly());
  if (rt.debug >= 2) rt.debug_line("compiled " + k.name +
                                   fmt(": passes %.2f ms, backend %.2f ms", (t1 - t0) * 1e3, (t2 - t1) * 1e3));
  auto [pos, ok] = rt.programs.emplace(key, Runtime::CachedProgram{ast, std::move(k), std::move(p)});
  return pos->second;
}

std::vector<BufferRef> realize_compiled(Runtime& rt, Device& dev, std::span<const UOpRef> roots, RewriteTrace* trace) {
  double t0 = now_s();
  schedule::Normalized norm = schedule::normalize(roots);
  auto found = rt.schedules.find(norm.sink.get());
  bool hit = found != rt.schedules.end();
  if (!hit) {
    if (trace) trace->begin_context("schedule");
    found = rt.schedules.emplace(norm.sink.get(), Runtime::CachedSchedule{norm.sink, schedule::make_schedule(norm.sink)}).first;
    rt.stats.schedules_made++;
  } else {
    rt.stats.schedule_cache_hits++;
  }
  const schedule::Schedule& s = found->second.s;
  double t1 = now_s();
  if (rt.debug >= 1)
    rt.debug_line("schedule: " + std::to_string(s.items.size()) + " item(s) for " + std::to_string(roots.size()) + " tensor(s) in " +
                  fmt("%.3f ms", (t1 - t0) * 1e3) + (hit ? " (cache hit)" : ""));

  std::vector<BufferRef> inputs, outputs(s.outputs.size()), temps(s.temp_numel.size());
  for (const UOp* b : norm.inputs) inputs.push_back(rt.buffer(b));
  auto slot_buffer = [&](const schedule::Slot& sl) -> BufferRef& {
    switch (sl.kind) {
      case schedule::Slot::Input: return inputs.at(size_t(sl.index));
      case schedule::Slot::Output: return outputs.at(size_t(sl.index));
      default: return temps.at(size_t(sl.index));
    }
  };
  std::vector<void*> ptrs;
  for (size_t i = 0; i < s.items.size(); i++) {
    const schedule::Item& it = s.items[i];
    BufferRef& out = slot_buffer(it.bufs[0]);
    size_t nbytes = size_t(it.numel) * size_t(it.dtype.itemsize());
    if (!out) out = std::make_shared<Buffer>(&dev, nbytes);
    if (it.kind == schedule::Item::Copy) {
      copy_between(*out, *slot_buffer(it.bufs[1]), nbytes);
      rt.stats.copies++;
    } else if (it.numel > 0) {
      Runtime::CachedProgram& cp = program_for(rt, dev, it.ast, trace);
      ptrs.clear();
      for (const schedule::Slot& sl : it.bufs) ptrs.push_back(slot_buffer(sl)->ptr());
      double k0 = rt.debug >= 2 ? now_s() : 0;
      cp.program->run(ptrs.data());
      rt.stats.kernels_run++;
      if (rt.debug >= 2) {
        double dt = now_s() - k0;
        rt.debug_line("  " + cp.kernel.name +
                      fmt("  %8.1f us  %8.2f GFLOP/s  %8.2f GB/s", dt * 1e6, cp.kernel.flops / dt * 1e-9, cp.kernel.bytes / dt * 1e-9));
      }
    }
    for (size_t b = 1; b < it.bufs.size(); b++)
      if (it.bufs[b].kind == schedule::Slot::Temp && s.temp_last_use[size_t(it.bufs[b].index)] == int(i)) slot_buffer(it.bufs[b]).reset();
  }
  for (size_t r = 0; r < s.outputs.size(); r++) {
    BufferRef& b = slot_buffer(s.outputs[r]);
    if (!b) b = std::make_shared<Buffer>(&dev, size_t(s.output_numel[r]) * size_t(s.output_dtype[r].itemsize()));
    outputs[r] = b;
  }
  return outputs;
}

}  // namespace mg
