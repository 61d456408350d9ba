/* moongrad VIZ: the window and the trace files (libmoongrad_viz.so, built from viz/).
 * The Lua front end loads it only when VIZ or PROFILE asks for it (lua/moongrad/viz.lua);
 * its FFI cdef is generated from this header. Errors: a status, and mg_last_error(ctx)
 * (the calls without a context write their message into err[0..errcap)). */
#ifndef MOONGRAD_VIZ_H
#define MOONGRAD_VIZ_H

#include "capi/moongrad.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Saves ctx's rewrite trace, kernel code and profile to a trace file (docs/viz.md). */
mg_status mgviz_save_trace(mg_ctx* ctx, const char* path);
/* Writes ctx's profile as Chrome trace-event JSON (Perfetto, chrome://tracing). */
mg_status mgviz_save_profile(mg_ctx* ctx, const char* path);
/* Opens the window on ctx's trace and returns when it is closed. screenshot: NULL, or a
 * PNG path: save the window after its first frames and close it. MG_ERR_DEVICE when no
 * window can be opened (no display). */
mg_status mgviz_show(mg_ctx* ctx, const char* screenshot);
/* The same for a saved trace file. MG_ERR_IO for a file that cannot be read or is not a
 * valid trace (the message says where and why). */
mg_status mgviz_show_file(const char* path, const char* screenshot, char* err, size_t errcap);
/* Checks a trace file without opening a window; fills counts (each may be NULL). */
mg_status mgviz_check_file(const char* path, size_t* contexts, size_t* steps, size_t* events, char* err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif /* MOONGRAD_VIZ_H */
