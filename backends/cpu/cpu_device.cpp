#include "backends/cpu/cpu_device.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "backends/cpu/llvm_renderer.h"
#include "uop/error.h"

namespace mg::cpu {

namespace {
using KernelFn = void (*)(void* const* bufs, int64_t begin, int64_t end);

// Below this much work (bytes touched plus ALU ops) waking the workers costs more than it saves.
constexpr double kParallelWork = 1 << 16;

class CpuProgram : public Program {
 public:
  CpuProgram(CpuDevice& dev, KernelFn fn, const codegen::Kernel& k, std::string ir)
      : dev_(dev), fn_(fn), outer_(k.outer), parallel_(k.outer > 1 && k.bytes + k.flops >= kParallelWork), name_(k.fn_name), ir_(std::move(ir)) {}

  void run(void* const* bufs) override {
    if (!parallel_ || dev_.pool().threads() <= 1) { fn_(bufs, 0, outer_); return; }
    Call c{fn_, bufs};
    dev_.pool().parallel_for(outer_, &Call::run, &c);
  }
  std::string source() const override { return ir_; }
  std::string assembly() const override { return dev_.jit().assembly(ir_, name_); }

 private:
  struct Call {
    KernelFn fn;
    void* const* bufs;
    static void run(void* self, int64_t begin, int64_t end) {
      auto* c = static_cast<Call*>(self);
      c->fn(c->bufs, begin, end);
    }
  };
  CpuDevice& dev_;
  KernelFn fn_;
  int64_t outer_;
  bool parallel_;
  std::string name_, ir_;
};

int threads_or_cores(int n) {
  if (n > 0) return n;
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? int(hw) : 1;
}
}  // namespace

CpuOptions cpu_options_from_env() {
  CpuOptions o;
  const char* t = std::getenv("THREADS");
  o.threads = t ? std::atoi(t) : 0;
  o.cache_level = CompileCache::default_level();
  o.cache_dir = CompileCache::default_dir();
  return o;
}

CpuDevice::CpuDevice(Runtime& rt, const CpuOptions& o)
    : Device("CPU", rt), programs_(o.cache_dir, o.cache_level), pool_(threads_or_cores(o.threads)) {
  target_.read_slack_bytes = int(kReadSlackBytes);
}

CpuDevice::~CpuDevice() {
  blocks_.drain([&](void* p, size_t) { runtime().host().release(p); });
}

void* CpuDevice::alloc(size_t nbytes) {
  if (void* p = blocks_.take(nbytes)) return p;
  if (blocks_.held()) {  // out of memory with blocks cached: give them back and try again
    try {
      return runtime().host().allocate(nbytes);
    } catch (const Error&) {
      blocks_.drain([&](void* p, size_t) { runtime().host().release(p); });
    }
  }
  return runtime().host().allocate(nbytes);
}

void CpuDevice::free(void* ptr, size_t nbytes) noexcept {
  if (!blocks_.give(ptr, nbytes)) runtime().host().release(ptr);
}

void CpuDevice::copy_in(void* dst, const void* src, size_t nbytes) { std::memcpy(dst, src, nbytes); }
void CpuDevice::copy_out(void* dst, const void* src, size_t nbytes) { std::memcpy(dst, src, nbytes); }

// One module per thread (kernels dealt out in order, so a rerun makes the same modules and hits
// the disk cache), compiled at once, then loaded.
void CpuDevice::compile_modules(const std::vector<const codegen::Kernel*>& todo, const std::vector<RenderedKernel>& rendered,
                                const std::vector<std::string>& names) {
  const size_t parts = std::min<size_t>(todo.size(), size_t(std::max(pool_.threads(), 1)));
  struct Part {
    std::vector<RenderedKernel> kernels;
    std::vector<std::string> names;
    std::string ir, key, what, object;
    bool cached = false;
    std::string error;
  };
  std::vector<Part> ps(parts);
  for (size_t i = 0; i < todo.size(); i++) {
    Part& p = ps[i * parts / todo.size()];
    p.kernels.push_back(rendered[i]);
    p.names.push_back(names[i]);
    if (p.what.empty()) p.what = "kernel " + todo[i]->name;
  }
  for (Part& p : ps) {
    p.ir = render_module(p.kernels);
    char key[40];
    std::snprintf(key, sizeof key, "%016llx%016llx", static_cast<unsigned long long>(hash_bytes(p.ir.data(), p.ir.size())),
                  static_cast<unsigned long long>(hash_bytes(p.ir.data(), p.ir.size(), 0x6d67)));
    p.key = std::string(key) + " " + jit_.target_key();
    if (p.names.size() > 1) p.what += " and " + std::to_string(p.names.size() - 1) + " more";
    if (std::optional<std::string> obj = programs_.get(p.key)) { p.object = std::move(*obj); p.cached = true; }
  }
  // Errors are kept per part and raised here, on the calling thread.
  pool_.parallel_for(int64_t(parts), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      Part& p = ps[size_t(i)];
      if (p.cached) continue;
      try {
        p.object = jit_.compile_object(p.ir, p.names[0]);
      } catch (const std::exception& ex) {
        p.error = p.what + ": " + ex.what();
      }
    }
  });
  for (Part& p : ps) {
    if (!p.error.empty()) fail(ErrorKind::Compile, p.error);
    if (p.cached) runtime().stats.backend_cache_hits += p.names.size();
    else {
      programs_.put(p.key, p.object);
      runtime().stats.backend_compiles += p.names.size();
    }
    std::vector<void*> addrs = jit_.load_all(p.object, p.names);
    for (size_t i = 0; i < p.names.size(); i++) loaded_[p.names[i]] = addrs[i];
  }
}

std::unique_ptr<Program> CpuDevice::compile(const codegen::Kernel& k) {
  const codegen::Kernel* one = &k;
  return std::move(compile_batch(std::span<const codegen::Kernel* const>(&one, 1)).at(0));
}

std::vector<std::unique_ptr<Program>> CpuDevice::compile_batch(std::span<const codegen::Kernel* const> ks) {
  std::vector<RenderedKernel> rendered, todo_rendered;
  std::vector<const codegen::Kernel*> todo;  // not loaded yet: they go into the modules
  std::vector<std::string> names;
  for (const codegen::Kernel* k : ks) {
    try {
      rendered.push_back(render_kernel(*k));
    } catch (const Error& e) {
      fail(ErrorKind::Compile, "kernel " + k->name + ": " + e.what());
    }
    if (!loaded_.count(k->fn_name) && std::find(names.begin(), names.end(), k->fn_name) == names.end()) {
      todo.push_back(k);
      todo_rendered.push_back(rendered.back());
      names.push_back(k->fn_name);
    }
  }
  if (!todo.empty()) compile_modules(todo, todo_rendered, names);
  std::vector<std::unique_ptr<Program>> out;
  for (size_t i = 0; i < ks.size(); i++) {
    std::string ir = render_module(std::span<const RenderedKernel>(&rendered[i], 1));
    out.push_back(std::make_unique<CpuProgram>(*this, reinterpret_cast<KernelFn>(loaded_.at(ks[i]->fn_name)), *ks[i], std::move(ir)));
  }
  return out;
}

}  // namespace mg::cpu

std::unique_ptr<mg::Device> make_cpu_device(mg::Runtime& rt, const mg::cpu::CpuOptions& o) {
  return std::make_unique<mg::cpu::CpuDevice>(rt, o);
}
