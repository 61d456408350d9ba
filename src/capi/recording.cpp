// Recording for VIZ of the C ABI: the rewrite trace and the profile switches, user markers.
#include "capi/context.h"

#include <cstring>

using mg::capi::fail;
using mg::capi::guarded;

extern "C" mg_status mg_set_recording(mg_ctx* ctx, int trace, int profile) {
  if (!ctx) return MG_ERR_INVALID;
  if (trace < -1 || trace > 1 || profile < -1 || profile > 1)
    return fail(ctx, MG_ERR_INVALID, "mg_set_recording: trace and profile must each be 1 (on), 0 (off) or -1 (unchanged)");
  if (trace != -1) ctx->engine.tracing = trace == 1;
  if (profile != -1) ctx->engine.runtime.profile.on = profile == 1;
  return MG_OK;
}

extern "C" mg_status mg_recording(const mg_ctx* ctx, int* trace, int* profile) {
  if (!ctx) return MG_ERR_INVALID;
  if (trace) *trace = ctx->engine.tracing ? 1 : 0;
  if (profile) *profile = ctx->engine.runtime.profile.on ? 1 : 0;
  return MG_OK;
}

extern "C" mg_status mg_marker(mg_ctx* ctx, const char* name) {
  if (!ctx) return MG_ERR_INVALID;
  if (!name || !*name) return fail(ctx, MG_ERR_INVALID, "mg_marker: name must be a non-empty string");
  if (std::strlen(name) > 1024) return fail(ctx, MG_ERR_INVALID, "mg_marker: name is longer than 1024 bytes");
  return guarded(ctx, "mg_marker", [&]() -> mg_status {
    mg::Profile& p = ctx->engine.runtime.profile;
    if (p.on) p.marker(name);
    return MG_OK;
  });
}
