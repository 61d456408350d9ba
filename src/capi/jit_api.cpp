// The jit calls of the C ABI (docs/jit.md): argument checks, then tensor/jit.h.
#include "capi/context.h"
#include "tensor/jit.h"

using mg::capi::fail;
using mg::capi::guarded;
using mg::capi::run;

namespace {
std::span<mg_tensor* const> tensors(mg_tensor* const* ts, int n, const char* what) {
  if (n < 0 || (n > 0 && !ts)) mg::fail(mg::ErrorKind::Invalid, std::string(what) + " array is NULL or its length negative");
  for (int i = 0; i < n; i++) mg::tensor::check_live(ts[i], what);
  return std::span<mg_tensor* const>(ts, size_t(n));
}
}  // namespace

extern "C" {

mg_status mg_jit_new(mg_ctx* ctx, int64_t* id) {
  return run(ctx, "mg_jit_new", [&](mg::Engine& e) {
    if (!id) mg::fail(mg::ErrorKind::Invalid, "id is NULL");
    mg::tensor::Jits& j = *e.jits;
    j.by_id.emplace(j.next_id, std::make_unique<mg::tensor::Jit>());
    *id = j.next_id++;
  });
}

mg_status mg_jit_free(mg_ctx* ctx, int64_t id) {
  return run(ctx, "mg_jit_free", [&](mg::Engine& e) {
    mg::tensor::Jit& j = e.jits->get(id);
    j.abort(e);
    e.jits->by_id.erase(id);
  });
}

mg_status mg_jit_begin(mg_ctx* ctx, int64_t id, mg_tensor* const* args, int n) {
  return run(ctx, "mg_jit_begin", [&](mg::Engine& e) { e.jits->get(id).begin(e, tensors(args, n, "args")); });
}

mg_status mg_jit_end(mg_ctx* ctx, int64_t id, mg_tensor* const* outs, int n, int* replayable) {
  if (replayable) *replayable = 0;
  return run(ctx, "mg_jit_end", [&](mg::Engine& e) {
    mg::tensor::Jit& j = e.jits->get(id);
    try {
      j.end(e, tensors(outs, n, "outs"));
    } catch (...) {
      j.abort(e);  // a failed end leaves no capture running
      throw;
    }
    if (replayable) *replayable = j.captured() ? 1 : 0;
  });
}

const char* mg_jit_why(const mg_ctx* ctx, int64_t id) {
  if (!ctx) return nullptr;
  auto it = ctx->engine.jits->by_id.find(id);
  return it == ctx->engine.jits->by_id.end() ? nullptr : it->second->unsupported().c_str();
}

mg_status mg_jit_abort(mg_ctx* ctx, int64_t id) {
  return run(ctx, "mg_jit_abort", [&](mg::Engine& e) { e.jits->get(id).abort(e); });
}

mg_status mg_jit_replay(mg_ctx* ctx, int64_t id, mg_tensor* const* args, int n, mg_tensor** outs, int nout) {
  if (outs && nout > 0)
    for (int i = 0; i < nout; i++) outs[i] = nullptr;
  return run(ctx, "mg_jit_replay", [&](mg::Engine& e) {
    if (nout < 0 || (nout > 0 && !outs)) mg::fail(mg::ErrorKind::Invalid, "outs is NULL or nout negative");
    mg::tensor::Jit& j = e.jits->get(id);
    std::vector<mg_tensor*> made = j.replay(e, tensors(args, n, "args"));
    if (made.size() != size_t(nout)) {
      for (mg_tensor* t : made) mg::tensor::release(t);
      mg::fail(mg::ErrorKind::Invalid, "the capture has " + std::to_string(made.size()) + " output(s), nout is " + std::to_string(nout));
    }
    for (size_t i = 0; i < made.size(); i++) outs[i] = made[i];
  });
}

mg_status mg_jit_get_info(mg_ctx* ctx, int64_t id, mg_jit_info* out) {
  return run(ctx, "mg_jit_get_info", [&](mg::Engine& e) {
    if (!out) mg::fail(mg::ErrorKind::Invalid, "out is NULL");
    const mg::tensor::Jit& j = e.jits->get(id);
    out->kernels = int64_t(j.kernels());
    out->steps = int64_t(j.steps());
    out->buffers = int64_t(j.buffers());
    out->internal_bytes = int64_t(j.internal_bytes());
  });
}

}  // extern "C"
