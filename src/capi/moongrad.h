/* moongrad.h: the one public C header of moongrad, a lazy tensor compiler.
 *
 * Rules of this ABI:
 *  - every name is prefixed mg_ / MG_; nothing throws or aborts across it;
 *  - a failing call returns a status (or NULL) and mg_last_error(ctx) says why;
 *  - all state lives in an explicit mg_ctx: separate contexts are independent.
 *
 * This file is also the source of the LuaJIT FFI cdef (src/capi/gen_cdef.lua
 * strips comments, preprocessor lines and the C++ guards), so declarations
 * must stay plain C: no macros inside them, no static inline functions. */
#ifndef MOONGRAD_H
#define MOONGRAD_H

#include <stddef.h>

#define MG_VERSION_MAJOR 0
#define MG_VERSION_MINOR 1
#define MG_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/* "MAJOR.MINOR.PATCH", the version of the library actually loaded. */
const char* mg_version(void);

typedef enum mg_status {
  MG_OK = 0,        /* success */
  MG_ERR_INVALID,   /* bad argument: NULL where a pointer is required, bad option */
  MG_ERR_SHAPE,     /* shapes do not fit the operation */
  MG_ERR_DTYPE,     /* dtype not allowed or not matching */
  MG_ERR_INDEX,     /* index, dim or device number out of range */
  MG_ERR_DEVICE,    /* unknown device, or the device failed */
  MG_ERR_IO,        /* a file could not be read or written, or is malformed */
  MG_ERR_FREED,     /* use of a tensor or buffer after it was freed */
  MG_ERR_OOM,       /* an allocation failed */
  MG_ERR_COMPILE,   /* a kernel failed to render or compile */
  MG_ERR_INTERNAL   /* a bug in moongrad: please report it with the message */
} mg_status;

/* Levels passed to mg_ctx_opts.log. */
typedef enum mg_log_level {
  MG_LOG_DEBUG = 0,
  MG_LOG_INFO,
  MG_LOG_WARN,
  MG_LOG_ERROR
} mg_log_level;

/* Opaque: one engine instance. Not thread safe; use one per thread. */
typedef struct mg_ctx mg_ctx;

/* Options for mg_ctx_create. Zero-initialise and set what you need.
 * alloc and free come together (both set or both NULL; NULL means the C++ heap).
 * log receives messages (level is an mg_log_level); NULL means silence.
 * Each callback gets `user` back as its first argument. */
typedef struct mg_ctx_opts {
  void* user;
  void* (*alloc)(void* user, size_t size, size_t align);
  void (*free)(void* user, void* ptr);
  void (*log)(void* user, int level, const char* msg);
} mg_ctx_opts;

/* Creates a context in *out. opts may be NULL (defaults). On failure *out is
 * left NULL and, having no context to hold the message, it is sent to
 * opts->log (when given) at MG_LOG_ERROR. */
mg_status mg_ctx_create(const mg_ctx_opts* opts, mg_ctx** out);

/* Frees a context and everything it owns. NULL is a no-op. */
void mg_ctx_destroy(mg_ctx* ctx);

/* Message of the most recent failed call on ctx, "" if none failed yet.
 * Successful calls do not clear it (like errno). Valid until the next call
 * on ctx. A NULL ctx gets a fixed message. */
const char* mg_last_error(const mg_ctx* ctx);

/* "MG_OK", "MG_ERR_SHAPE", ...; "MG_ERR_UNKNOWN" for values outside the enum. */
const char* mg_status_name(mg_status s);

/* Number of devices available in ctx; -1 if ctx is NULL. */
int mg_device_count(const mg_ctx* ctx);

/* Name of device `index` (0-based), valid while ctx lives. NULL when ctx is
 * NULL or index is out of range (then mg_last_error says which). */
const char* mg_device_name(const mg_ctx* ctx, int index);

#ifdef __cplusplus
}
#endif

#endif /* MOONGRAD_H */
