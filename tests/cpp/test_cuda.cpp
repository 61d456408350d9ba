// The CUDA backend without a GPU: launch-axis assignment (codegen for GPU targets), the CUDA C
// renderer on hand-built kernels, NVRTC compiling what it renders (skipped without NVRTC), and
// the device's absence reported with a reason when there is no driver.
#include <doctest/doctest.h>

#include <string>

#include "backends/cuda/cuda_device.h"
#include "backends/cuda/cuda_renderer.h"
#include "backends/cuda/nvrtc.h"
#include "codegen/codegen.h"
#include "rewrite/trace.h"
#include "tests/cpp/kernel_builders.h"
#include "runtime/runtime.h"

using namespace mg;
using mg::test::input;
using mg::test::kernel_ast;
using mg::test::reduce;

namespace {
int loops(const codegen::Kernel& k) {
  int n = 0;
  for (const codegen::LinItem& it : k.lin) n += it.kind == codegen::LinItem::LoopBegin;
  return n;
}
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// NVRTC compiles src for sm_90 and sm_80 (a CUBIN each); true when NVRTC is not here.
void check_compiles(const std::string& src, const std::string& name) {
  std::string why;
  std::unique_ptr<cuda::Nvrtc> n = cuda::Nvrtc::load(&why);
  if (!n) {
    MESSAGE("NVRTC not available, compile not checked: " << why);
    return;
  }
  for (const char* arch : {"sm_90", "sm_80"}) {
    std::string bin;
    CHECK_NOTHROW(bin = n->compile(src, name, arch));
    CHECK(bin.size() > 0);
  }
}
}  // namespace

TEST_CASE("launch axes: an elementwise kernel runs one thread per group of lanes, no loops") {
  UOpTable t;
  UOpRef x = input(t, 1, {64, 1024});
  codegen::Kernel k = codegen::lower(kernel_ast(x + x), cuda::cuda_target(90));
  CHECK(k.width == 4);                       // float4 lanes
  CHECK(k.gpu_threads == 64 * 1024 / 4);
  CHECK(k.block[0] == 256);
  CHECK(k.grid[0] == 64 * 1024 / 4 / 256);
  CHECK(k.grid[1] == 1);
  CHECK(k.gid != nullptr);
  CHECK(loops(k) == 0);
  CHECK(k.outer_range == nullptr);
  CHECK(k.flops >= 64 * 1024);  // counted over all threads (index math included)
  CHECK(k.flops < 2 * 64 * 1024);
}

TEST_CASE("launch axes: threads past the output return; blocks respect the device's limit") {
  UOpTable t;
  UOpRef x = input(t, 1, {3, 7}, dtypes::int64);  // no lanes for 8-byte values at 16 bytes
  codegen::Target tgt = cuda::cuda_target(80, /*max_threads=*/16);
  codegen::Kernel k = codegen::lower(kernel_ast(x + x), tgt);
  CHECK(k.width == 1);
  CHECK(k.gpu_threads == 21);
  CHECK(k.block[0] == 16);
  CHECK(k.grid[0] == 2);
  std::string src = cuda::render_cuda(k);
  CHECK(has(src, "if (gid >= 21) return;"));
  CHECK(has(src, "__launch_bounds__(16)"));
  check_compiles(src, k.fn_name);
}

TEST_CASE("launch axes: a reduction over many outputs loops inside each thread") {
  UOpTable t;
  UOpRef x = input(t, 1, {64, 4096});
  codegen::Kernel cols = codegen::lower(kernel_ast(reduce(x, Ops::ADD, {0})), cuda::cuda_target(90));
  CHECK(cols.group == 1);
  CHECK(cols.gpu_threads == 4096 / 4 / 4);  // float4 lanes, 4 of them unrolled per thread
  CHECK(loops(cols) == 1);              // the reduction's loop
  check_compiles(cuda::render_cuda(cols), cols.fn_name);
}

namespace {
int count_ops(const codegen::Kernel& k, Ops op) {
  int n = 0;
  for (const codegen::LinItem& it : k.lin) n += it.kind == codegen::LinItem::Op && it.u->op == op;
  return n;
}
}  // namespace

TEST_CASE("launch axes: GROUP reductions, a block per output position, its threads share the reduction") {
  UOpTable t;
  UOpRef x = input(t, 1, {16, 4096});
  codegen::Kernel rows = codegen::lower(kernel_ast(reduce(x, Ops::ADD, {1})), cuda::cuda_target(90));
  CHECK(rows.group == 256);
  CHECK(rows.grid[0] == 16);
  CHECK(rows.block[0] == 256);
  CHECK(rows.gpu_threads == 16 * 256);
  CHECK(rows.gid == nullptr);
  CHECK(loops(rows) == 1);  // each thread's strided partial
  // shared memory and barriers are ops of the linear program: a store of the partials, then one
  // step per halving of 256 threads, each ending at a barrier
  CHECK(count_ops(rows, Ops::DEFINE_LOCAL) == 1);
  CHECK(count_ops(rows, Ops::BARRIER) == 9);
  std::string src = cuda::render_cuda(rows);
  CHECK(has(src, "__shared__ float smem0[256];"));
  CHECK(has(src, "__syncthreads();"));
  CHECK(has(src, "(int)blockIdx.x"));
  CHECK(has(src, "(int)threadIdx.x"));
  CHECK(!has(src, "return;"));  // every thread reaches every barrier
  check_compiles(src, rows.fn_name);

  codegen::Kernel all = codegen::lower(kernel_ast(reduce(input(t, 1, {4096}), Ops::ADD, {0})), cuda::cuda_target(90));
  CHECK(all.group == 256);
  CHECK(all.grid[0] == 1);
  std::string as = cuda::render_cuda(all);
  CHECK(!has(as, "blockIdx"));
  check_compiles(as, all.fn_name);

  // the device's limits: threads per block, shared memory per block
  CHECK(codegen::lower(kernel_ast(reduce(x, Ops::ADD, {1})), cuda::cuda_target(80, 128)).group == 128);
  CHECK(codegen::lower(kernel_ast(reduce(x, Ops::ADD, {1})), cuda::cuda_target(80, 1024, 256)).group == 64);
  CHECK(codegen::lower(kernel_ast(reduce(x, Ops::ADD, {1})), cuda::cuda_target(80, 1024, 64)).group == 1);  // under a warp: none
  // NOOPT and CPU targets: none
  codegen::Target noopt = cuda::cuda_target(90);
  noopt.opts = false;
  CHECK(codegen::lower(kernel_ast(reduce(x, Ops::ADD, {1})), noopt).group == 1);
  CHECK(codegen::lower(kernel_ast(reduce(x, Ops::ADD, {1})), codegen::Target{}).group == 1);
}

TEST_CASE("launch axes: GROUP is one named step of the rewrite trace (VIZ)") {
  UOpTable t;
  RewriteTrace trace;
  codegen::Kernel k = codegen::lower(kernel_ast(reduce(input(t, 1, {4096}), Ops::ADD, {0})), cuda::cuda_target(90), &trace);
  REQUIRE(k.group == 256);
  int steps = 0;
  for (const TraceContext& c : trace.contexts)
    for (const TraceStep& st : c.steps)
      if (st.name == "group reduce") {
        steps++;
        CHECK(st.matches.size() == 1);
        CHECK(st.output.get() != st.input.get());
      }
  CHECK(steps == 1);
}

TEST_CASE("launch axes: CPU targets are untouched") {
  UOpTable t;
  UOpRef x = input(t, 1, {64, 1024});
  codegen::Kernel k = codegen::lower(kernel_ast(x + x), codegen::Target{});
  CHECK(k.gid == nullptr);
  CHECK(k.gpu_threads == 1);
  CHECK(k.outer == 64);
}

TEST_CASE("CUDA renderer: global thread id, float4 accesses, guarded integer division") {
  UOpTable t;
  UOpRef a = input(t, 1, {256}), b = input(t, 2, {256});
  codegen::Kernel k = codegen::lower(kernel_ast(a * b + a), cuda::cuda_target(90));
  std::string src = cuda::render_cuda(k);
  CHECK(has(src, "extern \"C\" __global__"));
  CHECK(has(src, k.fn_name));
  CHECK(has(src, "blockIdx.x"));
  CHECK(has(src, "float4"));
  CHECK(!has(src, "cuda_fp16.h"));
  check_compiles(src, k.fn_name);

  UOpRef i = input(t, 1, {100}, dtypes::int32), j = input(t, 2, {100}, dtypes::int32);
  codegen::Kernel d = codegen::lower(kernel_ast(alu(Ops::IDIV, {i, j}) + alu(Ops::MOD, {i, j}) + alu(Ops::SHL, {i, j})), cuda::cuda_target(90));
  std::string ds = cuda::render_cuda(d);
  CHECK(has(ds, "mg_sdiv<int>"));
  CHECK(has(ds, "mg_smod<int>"));
  CHECK(has(ds, "mg_shl<int, unsigned>"));
  check_compiles(ds, d.fn_name);
}

TEST_CASE("CUDA renderer: float16 and bfloat16 through cuda_fp16.h / cuda_bf16.h, casts that saturate") {
  UOpTable t;
  UOpRef h = input(t, 1, {64}, dtypes::float16);
  UOpRef bf = input(t, 2, {64}, dtypes::bfloat16);
  UOpRef v = t.make(Ops::CAST, dtypes::float16, {bf}) * h;
  codegen::Kernel k = codegen::lower(kernel_ast(t.make(Ops::CAST, dtypes::int8, {v})), cuda::cuda_target(80));
  std::string src = cuda::render_cuda(k);
  CHECK(has(src, "#include <cuda_fp16.h>"));
  CHECK(has(src, "#include <cuda_bf16.h>"));
  CHECK(has(src, "__float2half_rn"));
  CHECK(has(src, "mg_f2i<signed char>"));
  check_compiles(src, k.fn_name);
}

TEST_CASE("CUDA renderer: a padded gather behind a gate, max of a float reduction") {
  UOpTable t;
  UOpRef x = t.make(Ops::PAD, dtypes::float32, {input(t, 1, {5, 3})}, std::vector<int64_t>{1, 1, 0, 2});
  UOpRef m = reduce(x, Ops::MAX, {0});
  codegen::Kernel k = codegen::lower(kernel_ast(m), cuda::cuda_target(90));
  std::string src = cuda::render_cuda(k);
  CHECK(has(src, "mg_fmax<float>"));
  CHECK(has(src, " ? "));  // the gated load
  check_compiles(src, k.fn_name);
}

namespace {
// The number of times part occurs in s.
int count(const std::string& s, const std::string& part) {
  int n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) n++;
  return n;
}
}  // namespace

TEST_CASE("CUDA renderer: float16 and bfloat16 lanes move as 16-byte words (uint4), unpacked by shifts") {
  UOpTable t;
  for (DType d : {dtypes::float16, dtypes::bfloat16}) {
    INFO(d.name());
    UOpRef a = input(t, 1, {64, 256}, d), b = input(t, 2, {64, 256}, d);
    codegen::Kernel k = codegen::lower(kernel_ast(a * b + a), cuda::cuda_target(90));
    CHECK(k.width == 8);
    std::string src = cuda::render_cuda(k);
    CHECK(count(src, "uint4 ") == 2);  // a load per input
    CHECK(has(src, "= *(const uint4*)&b1["));
    CHECK(has(src, "= *(const uint4*)&b2["));
    CHECK(has(src, "*(uint4*)&b0["));
    CHECK(has(src, ".w >> 16)"));  // lane 7: the high half of the last word
    const bool half = d.scalar == Scalar::Float16;
    CHECK(has(src, half ? "__ushort_as_half(" : "__ushort_as_bfloat16("));
    CHECK(has(src, half ? "(unsigned)__half_as_ushort(__float2half_rn(" : "(unsigned)__bfloat16_as_ushort(__float2bfloat16_rn("));
    CHECK(!has(src, half ? "__half2float(b1[" : "__bfloat162float(b1["));  // no lane read alone
    CHECK(!has(src, half ? "] = __float2half_rn(" : "] = __float2bfloat16_rn("));  // nor stored alone
    check_compiles(src, k.fn_name);
  }
}

TEST_CASE("CUDA renderer: a reduction reading float16 lanes as vectors, a uniform gate, mixed widths") {
  UOpTable t;
  // column sums: one thread per 8 outputs, its loop reading 16 bytes per row
  codegen::Kernel cols = codegen::lower(kernel_ast(reduce(input(t, 1, {200, 512}, dtypes::float16), Ops::ADD, {0})), cuda::cuda_target(90));
  CHECK(cols.group == 1);  // under 256 positions: no GROUP
  CHECK(cols.width == 8);
  std::string cs = cuda::render_cuda(cols);
  CHECK(has(cs, "= *(const uint4*)&b1["));
  CHECK(has(cs, "*(uint4*)&b0["));
  check_compiles(cs, cols.fn_name);

  // rows padded by one above and below: the gate is the row's, the same for every lane
  UOpRef p = mg::test::mv(Ops::PAD, input(t, 1, {5, 64}, dtypes::float16), {1, 1, 0, 0});
  codegen::Kernel pk = codegen::lower(kernel_ast(p + p), cuda::cuda_target(90));
  std::string ps = cuda::render_cuda(pk);
  CHECK(has(ps, " ? *(const uint4*)&b1["));
  CHECK(has(ps, " : make_uint4(0, 0, 0, 0);"));
  check_compiles(ps, pk.fn_name);

  // float32 out of float16: 4 lanes, 8 bytes (uint2); float16 out of float32: 8 lanes, two float4
  UOpRef h = input(t, 1, {1024}, dtypes::float16), f = input(t, 2, {1024});
  codegen::Kernel up = codegen::lower(kernel_ast(t.make(Ops::CAST, dtypes::float32, {h}) * f), cuda::cuda_target(90));
  CHECK(up.width == 4);
  std::string us = cuda::render_cuda(up);
  CHECK(has(us, "uint2 "));
  CHECK(has(us, "float4 "));
  check_compiles(us, up.fn_name);
  codegen::Kernel down = codegen::lower(kernel_ast(t.make(Ops::CAST, dtypes::float16, {f})), cuda::cuda_target(90));
  CHECK(down.width == 8);
  std::string ds = cuda::render_cuda(down);
  CHECK(count(ds, "= *(const float4*)&b2[") == 2);
  CHECK(has(ds, " + 4];"));  // the second float4
  CHECK(has(ds, "*(uint4*)&b0["));
  check_compiles(ds, down.fn_name);

  // bytes: 16 int8 lanes in a uint4, 4 to a word; a bool out of float16 compares (two uint4 each)
  UOpRef i8 = input(t, 1, {4096}, dtypes::int8);
  codegen::Kernel bytes = codegen::lower(kernel_ast(i8 + i8), cuda::cuda_target(90));
  CHECK(bytes.width == 16);
  std::string bs = cuda::render_cuda(bytes);
  CHECK(has(bs, ".w >> 24)"));
  check_compiles(bs, bytes.fn_name);
  UOpRef x = input(t, 1, {4096}, dtypes::float16), y = input(t, 2, {4096}, dtypes::float16);
  codegen::Kernel cmp = codegen::lower(kernel_ast(alu(Ops::CMPLT, {x, y})), cuda::cuda_target(90));
  CHECK(cmp.width == 16);
  std::string ms = cuda::render_cuda(cmp);
  CHECK(count(ms, "= *(const uint4*)&b1[") == 2);
  CHECK(has(ms, "*(uint4*)&b0["));
  check_compiles(ms, cmp.fn_name);
}

TEST_CASE("CUDA renderer: float16 lanes not aligned to 16 bytes, or gated lane by lane, are read one by one") {
  UOpTable t;
  // a view starting one element in: the loads' base is 8 * thread + 1, the store's is aligned
  UOpRef s = mg::test::mv(Ops::SHRINK, input(t, 1, {1025}, dtypes::float16), {1, 1025});
  codegen::Kernel k = codegen::lower(kernel_ast(s + s), cuda::cuda_target(90));
  CHECK(k.width == 8);
  std::string src = cuda::render_cuda(k);
  CHECK(!has(src, "(const uint4*)"));
  CHECK(has(src, "__half2float(b1["));
  CHECK(has(src, "*(uint4*)&b0["));
  check_compiles(src, k.fn_name);

  // 13 elements in padded lanes of 4: stores and loads gated lane by lane
  UOpRef p = input(t, 1, {13}, dtypes::float16);
  codegen::Kernel pk = codegen::lower(kernel_ast(p + p), cuda::cuda_target(90));
  CHECK(pk.width == 4);
  std::string ps = cuda::render_cuda(pk);
  CHECK(!has(ps, "uint2"));
  CHECK(!has(ps, "uint4"));
  CHECK(has(ps, "__half2float(b1["));
  CHECK(has(ps, "] = __float2half_rn("));
  check_compiles(ps, pk.fn_name);
}

TEST_CASE("CUDA device: without a driver it is absent, with the reason") {
  Runtime rt(HostAllocator{});
  std::string why;
  std::unique_ptr<Device> d = make_cuda_device(rt, &why);
  if (d) {
    MESSAGE("a CUDA device is here: " << d->name());
    CHECK(d->name() == "CUDA");
  } else {
    CHECK(!why.empty());
  }
}
