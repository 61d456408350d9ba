// struct mg_ctx and the helpers every C ABI entry point uses.
// C++ code in moongrad has no mutable globals: whatever a call can change
// lives in an mg_ctx, which is what makes separate contexts independent.
#pragma once

#include "capi/moongrad.h"
#include "tensor/engine.h"
#include "uop/error.h"

#include <exception>
#include <new>
#include <string>
#include <vector>

struct mg_ctx {
  mg_ctx_opts opts{};  // as given to mg_ctx_create (all NULL when none)
  // mutable: getters take a const ctx but must still be able to report errors.
  mutable std::string last_error;
  // Engine state: the UOp table, runtime (devices, buffers), trace, live tensors.
  mg::Engine engine;

  explicit mg_ctx(const mg_ctx_opts& o) : opts(o), engine(mg::HostAllocator{o.user, o.alloc, o.free}) {}
};

namespace mg::capi {

// Sends msg to the user's log callback, if any.
inline void log(const mg_ctx_opts& o, mg_log_level level, const char* msg) noexcept {
  if (o.log) o.log(o.user, static_cast<int>(level), msg);
}

// Records a failure on ctx and returns its status, so callers can
// `return fail(ctx, MG_ERR_X, "mg_fn: why");`.
inline mg_status fail(const mg_ctx* ctx, mg_status s, const char* msg) noexcept {
  try {
    ctx->last_error = msg;
  } catch (...) {
    ctx->last_error.clear();  // could not even copy the message: keep ctx usable
  }
  return s;
}

inline mg_status status_of(mg::ErrorKind k) noexcept {
  switch (k) {
    case mg::ErrorKind::Invalid: return MG_ERR_INVALID;
    case mg::ErrorKind::Shape: return MG_ERR_SHAPE;
    case mg::ErrorKind::DType: return MG_ERR_DTYPE;
    case mg::ErrorKind::Index: return MG_ERR_INDEX;
    case mg::ErrorKind::Device: return MG_ERR_DEVICE;
    case mg::ErrorKind::IO: return MG_ERR_IO;
    case mg::ErrorKind::Freed: return MG_ERR_FREED;
    case mg::ErrorKind::OOM: return MG_ERR_OOM;
    case mg::ErrorKind::Compile: return MG_ERR_COMPILE;
    case mg::ErrorKind::Internal: return MG_ERR_INTERNAL;
  }
  return MG_ERR_INTERNAL;
}

// Runs body (returning mg_status) so that no exception crosses the C ABI.
template <class Body>
mg_status guarded(const mg_ctx* ctx, const char* fname, Body&& body) noexcept {
  try {
    return body();
  } catch (const mg::Error& e) {
    try {
      return fail(ctx, status_of(e.kind), (std::string(fname) + ": " + e.what()).c_str());
    } catch (...) {
      return fail(ctx, status_of(e.kind), "error (message lost)");
    }
  } catch (const std::bad_alloc&) {
    return fail(ctx, MG_ERR_OOM, (std::string(fname) + ": out of memory").c_str());
  } catch (const std::exception& e) {
    try {
      return fail(ctx, MG_ERR_INTERNAL, (std::string(fname) + ": " + e.what()).c_str());
    } catch (...) {
      return fail(ctx, MG_ERR_INTERNAL, "internal error (message lost)");
    }
  } catch (...) {
    return fail(ctx, MG_ERR_INTERNAL, "internal error: unknown exception");
  }
}

// guarded() for a call that gives only a status: body(engine) does the work.
template <class F>
mg_status run(mg_ctx* ctx, const char* fname, F&& body) noexcept {
  if (!ctx) return MG_ERR_INVALID;
  return guarded(ctx, fname, [&]() -> mg_status { body(ctx->engine); return MG_OK; });
}

}  // namespace mg::capi
