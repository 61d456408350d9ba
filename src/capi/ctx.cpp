// Context lifetime, errors and device queries of the C ABI.
#include "capi/context.h"

#include "backends/cpu/cpu_device.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_device.h"
#include "backends/ref/ref_device.h"

#include <cstdio>
#include <cstdlib>
#include <string>

using mg::capi::fail;
using mg::capi::guarded;

namespace {

// Built-in backends register their devices here (see DESIGN.md: capi names
// the backends so that the runtime does not have to).
void register_builtin_backends(mg_ctx& ctx) {
  mg::Engine& e = ctx.engine;
  // CPU first: it is the default. A host LLVM cannot set up leaves REF alone.
  try {
    e.runtime.add_device(make_cpu_device(e.runtime, mg::cpu::cpu_options_from_env()));
  } catch (const mg::Error& err) {
    mg::capi::log(ctx.opts, MG_LOG_WARN, (std::string("CPU device unavailable: ") + err.what()).c_str());
  }
  e.runtime.add_device(make_ref_device(e.runtime));
  // CUDA when a driver, a GPU and NVRTC are here (all loaded with dlopen); else the reason is
  // kept for the error of a tensor asked for on it.
  std::string why;
  try {
    if (auto cuda = make_cuda_device(e.runtime, &why)) e.runtime.add_device(std::move(cuda));
  } catch (const mg::Error& err) {
    why = err.what();
  }
  if (!why.empty()) e.runtime.unavailable["CUDA"] = why;
  // CUDA_CHECK=sm_90,sm_80: every kernel compiled is also compiled for CUDA (docs/cuda.md).
  const char* check = std::getenv("CUDA_CHECK");
  if (check && *check && std::string(check) != "0") e.runtime.also_compile = mg::cuda::make_compile_check(check, e.runtime);
  // DEV picks the default device (one not built in falls back to the first).
  const char* dev = std::getenv("DEV");
  e.default_device = dev && *dev ? e.runtime.device(dev) : nullptr;
  if (!e.default_device) e.default_device = e.runtime.devices().front().get();
  const char* debug = std::getenv("DEBUG");
  e.runtime.debug = debug ? std::atoi(debug) : 0;
}

// Allocates raw storage for the context itself with the user's allocator; the
// host-memory buffers of REF go through it too (runtime's HostAllocator).
void* alloc_ctx(const mg_ctx_opts& o) {
  if (o.alloc) return o.alloc(o.user, sizeof(mg_ctx), alignof(mg_ctx));
  return ::operator new(sizeof(mg_ctx), std::nothrow);
}

void free_ctx(const mg_ctx_opts& o, void* p) {
  if (o.free) o.free(o.user, p);
  else ::operator delete(p);
}

// mg_ctx_create has no context to hold its error: the message goes to log.
mg_status create_fail(const mg_ctx_opts& o, mg_status s, const char* msg) {
  mg::capi::log(o, MG_LOG_ERROR, msg);
  return s;
}

}  // namespace

extern "C" mg_status mg_ctx_create(const mg_ctx_opts* opts, mg_ctx** out) {
  const mg_ctx_opts o = opts ? *opts : mg_ctx_opts{};
  if (!out) return create_fail(o, MG_ERR_INVALID, "mg_ctx_create: out must not be NULL (expected mg_ctx**)");
  *out = nullptr;
  if (!o.alloc != !o.free)
    return create_fail(o, MG_ERR_INVALID, "mg_ctx_create: opts->alloc and opts->free must be set together");
  void* mem = alloc_ctx(o);
  if (!mem) return create_fail(o, MG_ERR_OOM, "mg_ctx_create: out of memory allocating the context");
  mg_ctx* ctx = nullptr;
  try {
    ctx = new (mem) mg_ctx(o);
    const char* viz = std::getenv("VIZ");
    ctx->engine.tracing = viz && *viz && std::string(viz) != "0";
    const char* profile = std::getenv("PROFILE");
    ctx->engine.runtime.profile.on = ctx->engine.tracing || (profile && *profile && std::string(profile) != "0");
    register_builtin_backends(*ctx);
  } catch (...) {
    if (ctx) ctx->~mg_ctx();
    free_ctx(o, mem);
    return create_fail(o, MG_ERR_OOM, "mg_ctx_create: out of memory initialising the context");
  }
  *out = ctx;
  return MG_OK;
}

extern "C" void mg_ctx_destroy(mg_ctx* ctx) {
  if (!ctx) return;
  const mg_ctx_opts o = ctx->opts;  // copy: ctx is gone before free_ctx runs
  ctx->~mg_ctx();
  free_ctx(o, ctx);
}

extern "C" const char* mg_last_error(const mg_ctx* ctx) {
  if (!ctx) return "mg_last_error: ctx is NULL (failures of mg_ctx_create are reported through opts->log)";
  return ctx->last_error.c_str();
}

extern "C" int mg_device_count(const mg_ctx* ctx) {
  if (!ctx) return -1;
  return static_cast<int>(ctx->engine.runtime.devices().size());
}

extern "C" const char* mg_device_name(const mg_ctx* ctx, int index) {
  if (!ctx) return nullptr;
  const char* name = nullptr;
  guarded(ctx, "mg_device_name", [&]() -> mg_status {
    const int n = static_cast<int>(ctx->engine.runtime.devices().size());
    if (index < 0 || index >= n) {
      char msg[128];
      std::snprintf(msg, sizeof msg, "mg_device_name: index %d out of range (%d device%s, valid 0..%d)",
                    index, n, n == 1 ? "" : "s", n - 1);
      return fail(ctx, MG_ERR_INDEX, msg);
    }
    name = ctx->engine.runtime.devices()[static_cast<size_t>(index)]->name().c_str();
    return MG_OK;
  });
  return name;
}
