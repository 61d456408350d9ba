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
#include <stdint.h>

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

/* ---- tensors ----
 * A tensor is a reference-counted handle to a lazy value on a device: calls
 * that build one return a new handle (refcount 1) in *out and compute nothing.
 * mg_realize computes. Shapes are arrays of int64_t; axes are 0-based here (the
 * Lua API is 1-based). Every call checks its arguments: a shape, dtype, axis or
 * device that does not fit returns an MG_ERR_* status with a message naming the
 * op and the shapes. A tensor freed with mg_tensor_free gives MG_ERR_FREED. */
typedef struct mg_tensor mg_tensor;

/* Same order as the engine's promotion priority. */
typedef enum mg_dtype {
  MG_BOOL = 0, MG_INT8, MG_UINT8, MG_INT16, MG_UINT16, MG_INT32, MG_UINT32,
  MG_INT64, MG_UINT64, MG_FLOAT16, MG_BFLOAT16, MG_FLOAT32, MG_FLOAT64
} mg_dtype;

/* Elementwise ops: unary, binary, then WHERE(cond, a, b). */
typedef enum mg_op {
  MG_OP_EXP2 = 0, MG_OP_LOG2, MG_OP_SIN, MG_OP_SQRT, MG_OP_RECIPROCAL, MG_OP_NEG, MG_OP_TRUNC,
  MG_OP_ADD, MG_OP_SUB, MG_OP_MUL, MG_OP_FDIV, MG_OP_IDIV, MG_OP_MOD, MG_OP_MAX, MG_OP_POW,
  MG_OP_CMPLT, MG_OP_CMPNE, MG_OP_CMPEQ, MG_OP_AND, MG_OP_OR, MG_OP_XOR, MG_OP_SHL, MG_OP_SHR,
  MG_OP_WHERE
} mg_op;

typedef enum mg_reduce_op { MG_REDUCE_SUM = 0, MG_REDUCE_PROD, MG_REDUCE_MAX } mg_reduce_op;

typedef enum mg_movement_op {
  MG_RESHAPE = 0, /* arg: the new shape */
  MG_EXPAND,      /* arg: the new shape; dims of size 1 broadcast */
  MG_PERMUTE,     /* arg: the order of the dims */
  MG_PAD,         /* arg: {before, after} per dim, flattened; pads with zeros */
  MG_SHRINK,      /* arg: {begin, end} per dim, flattened, half-open */
  MG_FLIP,        /* arg: the axes to reverse */
  MG_WINDOW       /* arg: {k, stride, dilation} per windowed trailing dim, flattened:
                     {..., i...} -> {..., o..., k...}, o = (i - dilation*(k-1) - 1)//stride + 1 */
} mg_movement_op;

size_t mg_dtype_size(mg_dtype dt);       /* bytes per element; 0 if dt is not a dtype */
const char* mg_dtype_name(mg_dtype dt);  /* "float32"; NULL if dt is not a dtype */
/* The dtype both promote to (tinygrad's lattice); -1 if either is not a dtype. */
mg_dtype mg_dtype_promote(mg_dtype a, mg_dtype b);

/* The device new tensors go to when none is named ("REF" until compiled
 * backends exist). device arguments below may be NULL or "" for it. */
const char* mg_default_device(const mg_ctx* ctx);
mg_status mg_set_default_device(mg_ctx* ctx, const char* device);

/* Copies nbytes-worth of host data (numel * mg_dtype_size) into a new buffer. */
mg_status mg_tensor_from_host(mg_ctx* ctx, const void* data, mg_dtype dt, const int64_t* shape, int ndim,
                              const char* device, mg_tensor** out);
/* A lazy tensor of one value (no memory until realized). */
mg_status mg_tensor_full(mg_ctx* ctx, double value, mg_dtype dt, const int64_t* shape, int ndim,
                         const char* device, mg_tensor** out);
mg_status mg_tensor_full_int(mg_ctx* ctx, int64_t value, mg_dtype dt, const int64_t* shape, int ndim,
                             const char* device, mg_tensor** out);
/* A lazy tensor of one value with like's shape and device (the fast path for
 * `x + 2`: no shape crosses the ABI). */
mg_status mg_tensor_full_like(mg_ctx* ctx, double value, mg_dtype dt, const mg_tensor* like, mg_tensor** out);
/* Uniform random numbers in [0, 1) of a float dtype, from the context's generator. */
mg_status mg_tensor_rand(mg_ctx* ctx, mg_dtype dt, const int64_t* shape, int ndim, const char* device,
                         mg_tensor** out);
mg_status mg_manual_seed(mg_ctx* ctx, uint64_t seed);

/* Elementwise op on nsrc tensors of one shape and device (1, 2, or 3 for WHERE);
 * operands share a dtype (WHERE: its last two), comparisons give bool. */
mg_status mg_tensor_alu(mg_ctx* ctx, mg_op op, mg_tensor* const* src, int nsrc, mg_tensor** out);
mg_status mg_tensor_cast(mg_ctx* ctx, mg_tensor* x, mg_dtype dt, mg_tensor** out);
mg_status mg_tensor_bitcast(mg_ctx* ctx, mg_tensor* x, mg_dtype dt, mg_tensor** out);
/* Reduces over the given axes, keeping them as size 1. */
mg_status mg_tensor_reduce(mg_ctx* ctx, mg_reduce_op op, mg_tensor* x, const int64_t* axes, int naxes,
                           mg_tensor** out);
mg_status mg_tensor_movement(mg_ctx* ctx, mg_movement_op op, mg_tensor* x, const int64_t* arg, int narg,
                             mg_tensor** out);
mg_status mg_tensor_contiguous(mg_ctx* ctx, mg_tensor* x, mg_tensor** out);
mg_status mg_tensor_detach(mg_ctx* ctx, mg_tensor* x, mg_tensor** out);
mg_status mg_tensor_to(mg_ctx* ctx, mg_tensor* x, const char* device, mg_tensor** out);

/* x takes y's value from now on (same shape, dtype and device; other handles
 * that share x's old value keep it). The in-place form of indexed assignment.
 * A realized x keeps its memory: the value is written into it when x is
 * realized (mg_tensor_ptr stays valid); lazy readers of the old value and views
 * made before keep seeing the old value. */
mg_status mg_tensor_assign(mg_ctx* ctx, mg_tensor* x, mg_tensor* y);

/* Reverse-mode gradients of loss (one element, a float dtype) with respect to
 * targets[0..n): out[i] gets a new lazy tensor, or NULL where loss does not
 * depend on targets[i]. On failure every out[i] is NULL. */
mg_status mg_tensor_gradient(mg_ctx* ctx, mg_tensor* loss, mg_tensor* const* targets, int n, mg_tensor** out);

/* Computes all n tensors in one schedule; afterwards each is backed by a buffer. */
mg_status mg_realize(mg_ctx* ctx, mg_tensor* const* ts, int n);
/* The same, with every tensor whose assign is not realized yet (what a jit call ends with). */
mg_status mg_realize_with_assigns(mg_ctx* ctx, mg_tensor* const* ts, int n);
/* Realizes x and copies its values (row-major) to dst, which holds exactly nbytes. */
mg_status mg_tensor_copyout(mg_ctx* ctx, mg_tensor* x, void* dst, size_t nbytes);
/* Realizes x and gives a pointer to its buffer, valid while x lives and is not
 * freed; only for devices whose memory is host memory. */
mg_status mg_tensor_ptr(mg_ctx* ctx, mg_tensor* x, const void** out);
/* Releases x's buffer now; later use of x is MG_ERR_FREED. */
mg_status mg_tensor_free(mg_ctx* ctx, mg_tensor* x);

/* Queries. ndim: -1 for a NULL or freed tensor. shape: fills up to cap dims. */
int mg_tensor_ndim(const mg_tensor* x);
mg_status mg_tensor_shape(mg_ctx* ctx, const mg_tensor* x, int64_t* shape, int cap);
mg_dtype mg_tensor_dtype(const mg_tensor* x);
const char* mg_tensor_device(const mg_tensor* x);
int mg_tensor_is_realized(const mg_tensor* x);
/* 1 when a and b have the same shape, 0 otherwise (also for NULL or freed). */
int mg_tensor_same_shape(const mg_tensor* a, const mg_tensor* b);

void mg_tensor_retain(mg_tensor* x);
/* Drops a reference; the last one frees the handle. Safe after mg_ctx_destroy. */
void mg_tensor_release(mg_tensor* x);

/* Bytes held by live buffers of ctx, and the most ever held. */
size_t mg_memory_used(const mg_ctx* ctx);
size_t mg_memory_peak(const mg_ctx* ctx);
/* Live tensor handles and UOp nodes of ctx (for leak checks). */
size_t mg_live_tensors(const mg_ctx* ctx);
size_t mg_live_nodes(const mg_ctx* ctx);

/* What the compiler and executor did since the context was made (kernel-count
 * tests read these; DEBUG=1 prints them per realize). */
typedef struct mg_stats {
  uint64_t kernels_run;          /* compiled kernels launched */
  uint64_t kernels_compiled;     /* kernels lowered and compiled (program cache misses) */
  uint64_t copies;               /* buffer copies between devices */
  uint64_t schedules_made;       /* realize calls that ran the scheduler */
  uint64_t schedule_cache_hits;  /* realize calls whose schedule was cached */
  uint64_t backend_compiles;     /* code generated by a backend compiler (LLVM) */
  uint64_t backend_cache_hits;   /* compiled code found in the memory or disk cache */
} mg_stats;
mg_status mg_ctx_stats(const mg_ctx* ctx, mg_stats* out);

/* Milliseconds each compiled kernel took in codegen's passes and in the backend
 * (LLVM), oldest first: fills up to cap entries of each array (either may be
 * NULL) and returns how many there are in all. */
size_t mg_ctx_compile_times(const mg_ctx* ctx, double* passes_ms, double* backend_ms, size_t cap);

/* Recording for VIZ (viz/): the rewrite trace (every graph_rewrite of scheduling and
 * codegen) and the profile (kernel runs, copies, compiles, buffer allocations and frees,
 * markers). mg_ctx_create turns both on when VIZ is set (not "0"), the profile alone when
 * PROFILE is. Each argument: 1 on, 0 off, -1 unchanged. Turning one on starts nothing
 * over: what was recorded stays. */
mg_status mg_set_recording(mg_ctx* ctx, int trace, int profile);
/* Whether each is on now (either pointer may be NULL). */
mg_status mg_recording(const mg_ctx* ctx, int* trace, int* profile);
/* A user marker on the profile's "user" track at this moment (ignored while the profile
 * is off). MG_ERR_INVALID when name is NULL, empty or longer than 1024 bytes. */
mg_status mg_marker(mg_ctx* ctx, const char* name);

/* ---- jit (docs/jit.md) ----
 * Capture and replay: between mg_jit_begin and mg_jit_end every kernel run and
 * copy of every realize is recorded, with where each buffer comes from (an
 * argument, a tensor alive at begin, a random draw, host data, an intermediate).
 * mg_jit_replay runs them again on new arguments (same shapes, dtypes, devices)
 * and returns new tensors for the outputs given to mg_jit_end. */
mg_status mg_jit_new(mg_ctx* ctx, int64_t* id);
mg_status mg_jit_free(mg_ctx* ctx, int64_t id);
/* Realizes the arguments and starts recording. */
mg_status mg_jit_begin(mg_ctx* ctx, int64_t id, mg_tensor* const* args, int n);
/* Realizes outs (recorded too) and ends the capture. *replayable: 1, or 0 when some
 * work ran on a device without kernels (REF); mg_jit_why then says why. */
mg_status mg_jit_end(mg_ctx* ctx, int64_t id, mg_tensor* const* outs, int n, int* replayable);
/* Why the capture cannot be replayed ("" when it can; NULL for a bad ctx or id). */
const char* mg_jit_why(const mg_ctx* ctx, int64_t id);
/* Stops a capture the function failed in; nothing is kept. */
mg_status mg_jit_abort(mg_ctx* ctx, int64_t id);
/* outs[0..nout) get new tensors (nout must be the number given to mg_jit_end). */
mg_status mg_jit_replay(mg_ctx* ctx, int64_t id, mg_tensor* const* args, int n, mg_tensor** outs, int nout);
typedef struct mg_jit_info {
  int64_t kernels;         /* kernel runs per replay */
  int64_t steps;           /* kernel runs and copies per replay */
  int64_t buffers;         /* distinct buffers the replay uses */
  int64_t internal_bytes;  /* memory kept between replays for intermediates */
} mg_jit_info;
mg_status mg_jit_get_info(mg_ctx* ctx, int64_t id, mg_jit_info* out);

/* ---- variables (docs/variables.md) ----
 * A bounded integer (lo <= value <= hi, 0 <= lo) that a size may stand for, so that one
 * graph, one set of kernels and one jit capture serve every value. *dim gets the number to
 * put in a shape (mg_tensor_full, reshape, expand) or as a shrink's end wherever that size
 * goes. name: [A-Za-z_][A-Za-z0-9_]*, at most 64 bytes; the same name with the same bounds
 * gives the same variable, with other bounds MG_ERR_INVALID. */
mg_status mg_variable(mg_ctx* ctx, const char* name, int64_t lo, int64_t hi, int64_t* dim);
/* The variable's value from now on: realizes and jit replays use the value bound when they
 * run. MG_ERR_INDEX outside [lo, hi]. */
mg_status mg_variable_bind(mg_ctx* ctx, int64_t dim, int64_t value);
/* Its name, bounds and value (*bound 0: no value yet); any pointer may be NULL. */
mg_status mg_variable_info(mg_ctx* ctx, int64_t dim, const char** name, int64_t* lo, int64_t* hi, int64_t* value, int* bound);

#ifdef __cplusplus
}
#endif

#endif /* MOONGRAD_H */
