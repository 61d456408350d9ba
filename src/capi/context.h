// struct mg_ctx and the helpers every C ABI entry point uses.
// C++ code in moongrad has no mutable globals: whatever a call can change
// lives in an mg_ctx, which is what makes separate contexts independent.
#pragma once

#include "capi/moongrad.h"

#include <exception>
#include <new>
#include <string>
#include <vector>

struct mg_ctx {
  mg_ctx_opts opts{};  // as given to mg_ctx_create (all NULL when none)
  // mutable: getters take a const ctx but must still be able to report errors.
  mutable std::string last_error;
  // Device names of the registered backends. Empty until backends arrive:
  // mg_ctx_create is where the built-in ones will be registered.
  std::vector<std::string> devices;
  // Engine state joins here as it lands: the UOp intern table, the rewrite
  // trace read by VIZ, caches, the runtime's devices and buffers.
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

// Runs body (returning mg_status) so that no exception crosses the C ABI.
template <class Body>
mg_status guarded(const mg_ctx* ctx, const char* fname, Body&& body) noexcept {
  try {
    return body();
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

}  // namespace mg::capi
