// The host-side stand-in for CUDA that test_cuda_emulate.cpp compiles rendered kernels against
// (g++, not NVRTC): enough of CUDA C for what cuda_renderer.cpp emits, and a launcher that runs
// a grid block by block, each thread of a block a real std::thread.
//
// The threads of a block never run at the same time: they run one after another, in a chosen
// order, each until it reaches __syncthreads() or returns; when all have, the next phase
// starts. So a run is deterministic, and a kernel that reads shared memory another thread has
// not written yet (a missing or misplaced barrier) reads a stale value every time, in one order
// or the other. A barrier that some threads of a block skip (they returned) is reported.
#pragma once

inline constexpr const char* kCudaEmulateShim = R"SHIM(
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <memory>
#include <semaphore>
#include <thread>
#include <vector>

struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct float4 { float x, y, z, w; };
struct int4 { int x, y, z, w; };
struct uint4 { unsigned x, y, z, w; };
static inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
static inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
static inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
template <class To, class From> static inline To mg_emu_bits(From f) { To t; memcpy(&t, &f, sizeof t); return t; }
static inline float __int_as_float(int x) { return mg_emu_bits<float>(x); }
static inline float __uint_as_float(unsigned x) { return mg_emu_bits<float>(x); }
static inline unsigned __float_as_uint(float x) { return mg_emu_bits<unsigned>(x); }
static inline int __float_as_int(float x) { return mg_emu_bits<int>(x); }
static inline double __longlong_as_double(long long x) { return mg_emu_bits<double>(x); }
static inline long long __double_as_longlong(double x) { return mg_emu_bits<long long>(x); }
// cuda_fp16.h and cuda_bf16.h (the test drops their #includes): storage types of 2 bytes;
// float -> half rounds to nearest even (GCC's _Float16), and so does float -> bfloat16 here.
struct __half { _Float16 v; };
struct __nv_bfloat16 { unsigned short bits; };
static inline float __half2float(__half h) { return float(h.v); }
static inline __half __float2half_rn(float f) { return {_Float16(f)}; }
static inline unsigned short __half_as_ushort(__half h) { return mg_emu_bits<unsigned short>(h); }
static inline __half __ushort_as_half(unsigned short u) { return mg_emu_bits<__half>(u); }
static inline float __bfloat162float(__nv_bfloat16 b) { return __uint_as_float(unsigned(b.bits) << 16); }
static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {(unsigned short)((u >> 16) | 0x40u)};  // NaN stays NaN
  return {(unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}

namespace mg_emu {
enum State { Ready, AtBarrier, Exited };
struct Block {
  std::vector<int> order;  // the order the threads run in, in every phase
  std::vector<State> state;
  std::vector<std::unique_ptr<std::binary_semaphore>> go;
  std::binary_semaphore done{0};
  int pos = -1;
  bool divergent = false;
};
inline thread_local dim3 tid;
inline thread_local Block* blk;
inline thread_local int me;
inline dim3 bid, bdim, gdim;  // one block runs at a time

// The running thread stopped (at a barrier, or it returned): the next one that has not run in
// this phase runs; when none is left the next phase starts, or the block is done.
inline void next(Block& b) {
  for (;;) {
    while (++b.pos < int(b.order.size())) {
      int t = b.order[size_t(b.pos)];
      if (b.state[size_t(t)] == Ready) { b.go[size_t(t)]->release(); return; }
    }
    int waiting = 0, exited = 0;
    for (State s : b.state) waiting += s == AtBarrier, exited += s == Exited;
    if (!waiting) { b.done.release(); return; }
    if (exited) b.divergent = true;  // those that returned never reach this barrier
    for (State& s : b.state) if (s == AtBarrier) s = Ready;
    b.pos = -1;
  }
}
inline void sync() {
  blk->state[size_t(me)] = AtBarrier;
  Block& b = *blk;
  int i = me;
  next(b);
  b.go[size_t(i)]->acquire();
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

// Runs the grid; order 0: threads 0, 1, ..., 1: the reverse, 2: odd ones first, then even.
// Returns 1 when some block's threads did not all reach the same barriers.
extern "C" int mg_emu_launch(void** args, const unsigned* grid, const unsigned* block, int order) {
  using namespace mg_emu;
  gdim = {grid[0], grid[1], grid[2]};
  bdim = {block[0], block[1], block[2]};
  const int n = int(block[0] * block[1] * block[2]);
  int divergent = 0;
  for (unsigned z = 0; z < grid[2]; z++)
    for (unsigned y = 0; y < grid[1]; y++)
      for (unsigned x = 0; x < grid[0]; x++) {
        bid = {x, y, z};
        Block b;
        for (int i = 0; i < n; i++) {
          b.order.push_back(order == 1 ? n - 1 - i : order == 2 ? (2 * i + 1 < n ? 2 * i + 1 : 2 * (i - (n / 2))) : i);
          b.state.push_back(Ready);
          b.go.push_back(std::make_unique<std::binary_semaphore>(0));
        }
        std::vector<std::thread> ts;
        for (int i = 0; i < n; i++)
          ts.emplace_back([&b, &args, i, block] {
            b.go[size_t(i)]->acquire();
            blk = &b;
            me = i;
            tid = {unsigned(i) % block[0], unsigned(i) / block[0] % block[1], unsigned(i) / (block[0] * block[1])};
            mg_emu_entry(args);
            b.state[size_t(i)] = Exited;
            next(b);
          });
        next(b);
        b.done.acquire();
        for (std::thread& t : ts) t.join();
        divergent |= b.divergent;
      }
  return divergent;
}
)SHIM";
