// The host-side stand-in for CUDA that cuda_emulate.cpp compiles rendered kernels against
// (with the host's C++ compiler, not NVRTC): enough of CUDA C for what cuda_renderer.cpp emits,
// and a launcher that runs a grid block by block, each CUDA thread a fiber (ucontext) of one
// host thread.
//
// The threads of a block never run at the same time: they run one after another, in a chosen
// order, each until it reaches __syncthreads() or returns; when all have, the next phase
// starts. So a run is deterministic, and a kernel that reads shared memory another thread has
// not written yet (a missing or misplaced barrier) reads a stale value every time, in one order
// or the other. A barrier that some threads of a block skip (they returned) is reported.
#pragma once

namespace mg::cuda {

inline constexpr const char* kCudaEmulateShim = R"SHIM(#include <math.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <vector>

struct dim3 { unsigned x = 1, y = 1, z = 1; };
// Aligned as CUDA's are: cuda_emulate.cpp compiles with -fsanitize=alignment (trapping), so a
// vector access at an address the GPU would fault on crashes here too.
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
static inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
static inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
static inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
static inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
template <class To, class From> static inline To mg_emu_bits(From f) { To t; memcpy(&t, &f, sizeof t); return t; }
static inline float __int_as_float(int x) { return mg_emu_bits<float>(x); }
static inline float __uint_as_float(unsigned x) { return mg_emu_bits<float>(x); }
static inline unsigned __float_as_uint(float x) { return mg_emu_bits<unsigned>(x); }
static inline int __float_as_int(float x) { return mg_emu_bits<int>(x); }
static inline double __longlong_as_double(long long x) { return mg_emu_bits<double>(x); }
static inline long long __double_as_longlong(double x) { return mg_emu_bits<long long>(x); }
// cuda_fp16.h and cuda_bf16.h (cuda_emulate.cpp drops their #includes): storage types of 2 bytes;
// float -> half rounds to nearest even (GCC's _Float16), and so does float -> bfloat16 here.
struct __half { _Float16 v; };
struct __nv_bfloat16 { unsigned short bits; };
static inline float __half2float(__half h) { return float(h.v); }
static inline __half __float2half_rn(float f) { return {_Float16(f)}; }
static inline unsigned short __half_as_ushort(__half h) { return mg_emu_bits<unsigned short>(h); }
static inline __half __ushort_as_half(unsigned short u) { return mg_emu_bits<__half>(u); }
static inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.bits; }
static inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return {u}; }
static inline float __bfloat162float(__nv_bfloat16 b) { return __uint_as_float(unsigned(b.bits) << 16); }
static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {(unsigned short)((u >> 16) | 0x40u)};  // NaN stays NaN
  return {(unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}

namespace mg_emu {
enum State { Ready, AtBarrier, Exited };
struct Fiber {
  ucontext_t ctx;
  State state = Ready;
};
inline dim3 tid, bid, bdim, gdim;  // the running thread's; one block runs at a time
inline ucontext_t launcher;
inline Fiber* cur;
inline void** args;
inline void sync() {
  cur->state = AtBarrier;
  swapcontext(&cur->ctx, &launcher);
}
}  // namespace mg_emu

#define threadIdx mg_emu::tid
#define blockIdx mg_emu::bid
#define blockDim mg_emu::bdim
#define gridDim mg_emu::gdim
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
static inline void __syncthreads() { mg_emu::sync(); }

extern "C" void mg_emu_entry(void** args);
static void mg_emu_thread() {
  mg_emu_entry(mg_emu::args);
  mg_emu::cur->state = mg_emu::Exited;  // then back to the launcher (uc_link)
}

// Runs the grid; order 0: threads 0, 1, ..., 1: the reverse, 2: odd ones first, then even.
// Returns 1 when some block's threads did not all reach the same barriers.
extern "C" int mg_emu_launch(void** a, const unsigned* grid, const unsigned* block, int order) {
  using namespace mg_emu;
  args = a;
  gdim = {grid[0], grid[1], grid[2]};
  bdim = {block[0], block[1], block[2]};
  const int n = int(block[0] * block[1] * block[2]);
  constexpr size_t kStack = 64 * 1024;
  std::vector<Fiber> fibers(static_cast<size_t>(n));
  std::vector<char> stacks(static_cast<size_t>(n) * kStack);
  std::vector<int> seq;
  for (int i = 0; i < n; i++) seq.push_back(order == 1 ? n - 1 - i : order == 2 ? (2 * i + 1 < n ? 2 * i + 1 : 2 * (i - n / 2)) : i);
  int divergent = 0;
  for (unsigned z = 0; z < grid[2]; z++)
    for (unsigned y = 0; y < grid[1]; y++)
      for (unsigned x = 0; x < grid[0]; x++) {
        bid = {x, y, z};
        for (int i = 0; i < n; i++) {
          Fiber& f = fibers[size_t(i)];
          f.state = Ready;
          getcontext(&f.ctx);
          f.ctx.uc_stack.ss_sp = stacks.data() + size_t(i) * kStack;
          f.ctx.uc_stack.ss_size = kStack;
          f.ctx.uc_link = &launcher;
          makecontext(&f.ctx, mg_emu_thread, 0);
        }
        for (;;) {  // one phase: each thread that is ready runs to its next barrier or its end
          for (int i : seq) {
            Fiber& f = fibers[size_t(i)];
            if (f.state != Ready) continue;
            cur = &f;
            tid = {unsigned(i) % block[0], unsigned(i) / block[0] % block[1], unsigned(i) / (block[0] * block[1])};
            swapcontext(&launcher, &f.ctx);
          }
          int waiting = 0, exited = 0;
          for (const Fiber& f : fibers) waiting += f.state == AtBarrier, exited += f.state == Exited;
          if (!waiting) break;
          if (exited) divergent = 1;  // those that returned never reach this barrier
          for (Fiber& f : fibers)
            if (f.state == AtBarrier) f.state = Ready;
        }
      }
  return divergent;
}
)SHIM";

}  // namespace mg::cuda
