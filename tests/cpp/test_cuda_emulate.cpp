// Rendered CUDA C run on the host: with no GPU here, this is what checks that kernels compute
// the right values, GROUP reductions (shared memory, barriers) above all. Each kernel is lowered
// for a CUDA target, rendered, compiled by g++ against cuda_emulate_shim.h (backends/cuda/
// cuda_emulate.h: a fiber per CUDA thread, the threads of a block taking turns between
// barriers, here in three orders) and run on random inputs; the CPU backend runs the same
// kernel AST, and the outputs must agree. The kernel is also compiled by NVRTC for sm_90 and
// sm_80. Without g++ the test says so and checks nothing. Buffers end at a page the kernel may
// not touch, so a read past a buffer crashes.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/cpu_device.h"
#include "backends/cuda/cuda_emulate.h"
#include "backends/cuda/cuda_renderer.h"
#include "backends/cuda/nvrtc.h"
#include "codegen/codegen.h"
#include "runtime/runtime.h"
#include "tests/cpp/kernel_builders.h"

using namespace mg;
using mg::test::input;
using mg::test::kernel_ast;
using mg::test::reduce;

namespace {

// The constant v in x's shape and dtype.
template <class N>
UOpRef full_like(const UOpRef& x, N v) {
  UOpTable& t = *x->table;
  const Shape& s = *x->shape();
  UOpRef c = std::is_floating_point_v<N> ? t.cnst(x->dtype, double(v)) : t.cnst(x->dtype, int64_t(v));
  return t.make(Ops::EXPAND, x->dtype, {t.make(Ops::RESHAPE, x->dtype, {c}, Shape(s.size(), 1))}, s);
}

int loops(const codegen::Kernel& k) {
  int n = 0;
  for (const codegen::LinItem& it : k.lin) n += it.kind == codegen::LinItem::LoopBegin;
  return n;
}

struct Result {
  bool ran = false;       // g++ was there
  bool agree = true;      // every order gave the CPU's outputs
  bool converged = true;  // every block's threads met at the same barriers
};

// Lowers ast for CUDA (target t), renders it, optionally edits the source (tests of the test),
// and compares the emulated outputs, in each thread order, with the CPU backend's.
Result emulate(const UOpRef& ast, const codegen::Target& t, codegen::Kernel* out = nullptr,
               std::string (*edit)(const std::string&) = nullptr, bool expect_agree = true) {
  Result res;
  codegen::Kernel k = codegen::lower(ast, t);
  std::string src = cuda::render_cuda(k);
  if (out) *out = k;
  if (!edit) {  // NVRTC compiles what was rendered, for both architectures
    std::string why;
    if (std::unique_ptr<cuda::Nvrtc> n = cuda::Nvrtc::load(&why))
      for (const char* arch : {"sm_90", "sm_80"}) CHECK_NOTHROW(n->compile(src, k.fn_name, arch));
  } else {
    src = edit(src);
  }
  if (!cuda::host_compiler_available()) {
    MESSAGE("g++ not available: CUDA emulation skipped");
    return res;
  }
  res.ran = true;
  std::string why;
  std::vector<std::vector<char>> inputs = cuda::random_params(ast, 1234, &why);
  REQUIRE_MESSAGE(!inputs.empty(), why);
  const DType out_type = cuda::output_dtype(ast);

  // the CPU backend's outputs
  Runtime rt(HostAllocator{});
  std::unique_ptr<Device> cpu = make_cpu_device(rt, cpu::CpuOptions{.threads = 1, .cache_dir = "", .cache_level = 0});
  codegen::Kernel kc = codegen::lower(ast, *cpu->target());
  std::unique_ptr<Program> prog = cpu->compile(kc);
  std::vector<std::vector<char>> cpu_bufs;
  std::vector<void*> cpu_ptrs;
  for (const std::vector<char>& b : inputs) {
    cpu_bufs.emplace_back(b.size() + kReadSlackBytes + 64, 0);
    if (!b.empty()) std::memcpy(cpu_bufs.back().data(), b.data(), b.size());  // an empty vector's data() may be null
  }
  for (std::vector<char>& b : cpu_bufs) cpu_ptrs.push_back(b.data());
  // the host clock's timing (Program::run_timed; CUDA times with events) runs it the same way
  CHECK(prog->run_timed(cpu_ptrs.data()) >= 0);
  std::vector<char> want(cpu_bufs[0].begin(), cpu_bufs[0].begin() + long(inputs[0].size()));

  std::unique_ptr<cuda::Emulated> emu = cuda::Emulated::build(src, k, &why);
  REQUIRE_MESSAGE(emu, why << "\n" << src);
  for (int order = 0; order < 3; order++) {
    std::vector<std::unique_ptr<cuda::GuardedBuffer>> gb;
    std::vector<void*> ptrs;
    for (const std::vector<char>& b : inputs) {
      gb.push_back(std::make_unique<cuda::GuardedBuffer>(b.size()));
      if (!b.empty()) std::memcpy(gb.back()->ptr(), b.data(), b.size());
      ptrs.push_back(gb.back()->ptr());
    }
    std::memset(gb[0]->ptr(), 0x7f, inputs[0].size());  // outputs not written show up
    res.converged = emu->run(ptrs.data(), order) && res.converged;
    std::vector<char> got(static_cast<char*>(gb[0]->ptr()), static_cast<char*>(gb[0]->ptr()) + inputs[0].size());
    size_t first = 0, bad = cuda::count_mismatches(want, got, out_type, &first);
    res.agree = res.agree && bad == 0;
    if (expect_agree) {
      INFO(k.name << " in thread order " << order << ": " << bad << " wrong output(s), the first at " << first);
      CHECK(bad == 0);
    }
  }
  return res;
}

codegen::Target sm90() { return cuda::cuda_target(90); }

std::string without_barriers(const std::string& src) {
  std::string s = src;
  for (size_t p; (p = s.find("__syncthreads();")) != std::string::npos;) s.erase(p, std::strlen("__syncthreads();"));
  return s;
}
// The combine's first step reads its partner one place off: lid + 127 instead of lid + 128.
std::string partner_off_by_one(const std::string& src) {
  std::string s = src;
  size_t p = s.find("(lid + (128))");
  if (p != std::string::npos) s.replace(p, std::strlen("(lid + (128))"), "(lid + (127))");
  return s;
}
}  // namespace

TEST_CASE("CUDA emulation: a full sum as a GROUP reduction, its size no multiple of the block") {
  UOpTable t;
  codegen::Kernel k;
  Result r = emulate(kernel_ast(reduce(input(t, 1, {1000}), Ops::ADD, {0})), sm90(), &k);
  CHECK(k.group == 256);
  CHECK(k.grid[0] == 1);
  CHECK(k.block[0] == 256);
  if (r.ran) CHECK(r.converged);
}

TEST_CASE("CUDA emulation: row sums, a 2-D sum, a column sum over few columns") {
  UOpTable t;
  codegen::Kernel k;
  emulate(kernel_ast(reduce(input(t, 1, {13, 1000}), Ops::ADD, {1})), sm90(), &k);
  CHECK(k.group == 256);
  CHECK(k.grid[0] == 13);
  emulate(kernel_ast(reduce(input(t, 1, {37, 300}), Ops::ADD, {0, 1})), sm90(), &k);
  CHECK(k.group == 256);
  CHECK(k.grid[0] == 1);
  emulate(kernel_ast(reduce(input(t, 1, {700, 3}), Ops::ADD, {0})), sm90(), &k);
  CHECK(k.group == 256);
  CHECK(k.grid[0] == 3);
}

TEST_CASE("CUDA emulation: loops flattened (per-channel sums), gated loads of a padded input, a transposed input") {
  UOpTable t;
  codegen::Kernel k;
  // (batch, channel, pixels) summed over batch and pixels: 9 x 70 positions per channel
  UOpRef x = mg::test::mv(Ops::RESHAPE, input(t, 1, {9 * 4 * 70}), {9, 4, 70});
  emulate(kernel_ast(reduce(x, Ops::ADD, {0, 2})), sm90(), &k);
  CHECK(k.group == 256);
  CHECK(k.grid[0] == 4);
  // padded by 3 and 4 zeros along the reduced axis: loads gated by the pad and by the block
  UOpRef p = mg::test::mv(Ops::PAD, input(t, 1, {5, 300}), {0, 0, 3, 4});
  emulate(kernel_ast(reduce(p, Ops::ADD, {1})), sm90(), &k);
  CHECK(k.group == 256);
  // a transposed view: the reduction is strided in memory
  UOpRef tr = mg::test::mv(Ops::PERMUTE, input(t, 1, {600, 5}), {1, 0});
  emulate(kernel_ast(reduce(tr, Ops::ADD, {1})), sm90(), &k);
  CHECK(k.group == 256);
  // as many positions as threads: no loop in the partial
  emulate(kernel_ast(reduce(input(t, 1, {7, 256}), Ops::ADD, {1})), sm90(), &k);
  CHECK(k.group == 256);
  CHECK(loops(k) == 0);
}

TEST_CASE("CUDA emulation: max of int32 and float32 rows, the padding's identity the lowest value") {
  UOpTable t;
  codegen::Kernel k;
  UOpRef x = input(t, 1, {5, 777}, dtypes::int32);
  emulate(kernel_ast(reduce(x * full_like(x, -3) - full_like(x, 1000), Ops::MAX, {1})), sm90(), &k);
  CHECK(k.group == 256);
  UOpRef f = input(t, 1, {3, 515});
  emulate(kernel_ast(reduce(f - full_like(f, 5.0), Ops::MAX, {1})), sm90(), &k);  // every value below 0
  CHECK(k.group == 256);
}

TEST_CASE("CUDA emulation: mean-like expressions, two reductions in one kernel") {
  UOpTable t;
  codegen::Kernel k;
  UOpRef x = input(t, 1, {6, 513}), y = input(t, 2, {6, 513});
  UOpRef sum = reduce(x * y, Ops::ADD, {1});
  emulate(kernel_ast(sum * full_like(sum, 1.0 / 513) + full_like(sum, 1.0)), sm90(), &k);
  CHECK(k.group == 256);
  UOpRef both = reduce(x, Ops::ADD, {1}) + reduce(x, Ops::MAX, {1});
  emulate(kernel_ast(both), sm90(), &k);
  CHECK(k.group == 256);
  // an integer sum that wraps: the same in any order
  UOpRef i = input(t, 1, {2, 4099}, dtypes::int32);
  emulate(kernel_ast(reduce(i * full_like(i, 1 << 26), Ops::ADD, {1})), sm90(), &k);
  CHECK(k.group == 256);
  // a bool "any" (MAX over bools)
  UOpRef b = input(t, 1, {4, 600}, dtypes::bool_);
  emulate(kernel_ast(reduce(b, Ops::MAX, {1})), sm90(), &k);
  CHECK(k.group == 256);
}

TEST_CASE("CUDA emulation: float16 and bfloat16 reductions, summed in float32 and rounded once") {
  UOpTable t;
  codegen::Kernel k;
  emulate(kernel_ast(reduce(input(t, 1, {5, 1000}, dtypes::float16), Ops::ADD, {1})), sm90(), &k);
  CHECK(k.group == 256);
  emulate(kernel_ast(reduce(input(t, 1, {3000}, dtypes::bfloat16), Ops::ADD, {0})), sm90(), &k);
  CHECK(k.group == 256);
  emulate(kernel_ast(reduce(input(t, 1, {4, 700}, dtypes::float16), Ops::MAX, {1})), sm90(), &k);
  CHECK(k.group == 256);
}

TEST_CASE("CUDA emulation: the device's limits shrink the block") {
  UOpTable t;
  codegen::Kernel k;
  emulate(kernel_ast(reduce(input(t, 1, {3, 1000}), Ops::ADD, {1})), cuda::cuda_target(80, /*max_threads=*/64), &k);
  CHECK(k.group == 64);
  CHECK(k.block[0] == 64);
  // 2 reductions of 4 bytes in 512 bytes of shared memory: 64 threads
  emulate(kernel_ast(reduce(input(t, 1, {3, 1000}), Ops::ADD, {1}) + reduce(input(t, 1, {3, 1000}), Ops::MAX, {1})),
          cuda::cuda_target(80, 1024, /*shared_bytes=*/512), &k);
  CHECK(k.group == 64);
}

TEST_CASE("CUDA emulation: kernels without GROUP (elementwise with lanes, a reduction per thread)") {
  UOpTable t;
  codegen::Kernel k;
  UOpRef a = input(t, 1, {37, 41}), b = input(t, 2, {37, 41});
  emulate(kernel_ast(a * b + a), sm90(), &k);
  CHECK(k.group == 1);
  CHECK(k.gid != nullptr);
  emulate(kernel_ast(reduce(input(t, 1, {300, 4096}), Ops::ADD, {0})), sm90(), &k);  // many outputs, not contiguous in the reduction
  CHECK(k.group == 1);
  emulate(kernel_ast(reduce(input(t, 1, {9, 100}), Ops::ADD, {1})), sm90(), &k);  // short rows
  CHECK(k.group == 1);
}

namespace {
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
// Every odd lane of a packed 2-byte vector load reads its word's low half, as the even lane
// does, instead of the high half.
std::string high_halves_lost(const std::string& src) {
  std::string s = src;
  for (size_t p; (p = s.find(" >> 16)")) != std::string::npos;) s.replace(p, std::strlen(" >> 16)"), " >> 0)");
  return s;
}
}  // namespace

TEST_CASE("CUDA emulation: float16 and bfloat16 lanes as 16-byte vectors (elementwise, reductions, mixed widths)") {
  UOpTable t;
  codegen::Kernel k;
  for (DType d : {dtypes::float16, dtypes::bfloat16}) {
    INFO(d.name());
    UOpRef a = input(t, 1, {37, 64}, d), b = input(t, 2, {37, 64}, d);
    emulate(kernel_ast(a * b + a), sm90(), &k);
    CHECK(k.width == 8);
    CHECK(has(cuda::render_cuda(k), "= *(const uint4*)&b1["));
    // column sums, a loop per thread over 16-byte rows; row sums, a GROUP reduction
    emulate(kernel_ast(reduce(input(t, 1, {200, 64}, d), Ops::ADD, {0})), sm90(), &k);  // under 256 positions: no GROUP
    CHECK(k.group == 1);
    CHECK(k.width == 8);
    CHECK(has(cuda::render_cuda(k), "= *(const uint4*)&b1["));
    emulate(kernel_ast(reduce(input(t, 1, {6, 640}, d), Ops::MAX, {0})), sm90(), &k);
    CHECK(has(cuda::render_cuda(k), "= *(const uint4*)&b1["));
    // rows padded above and below: a gate the same for all lanes
    UOpRef p = mg::test::mv(Ops::PAD, input(t, 1, {5, 64}, d), {1, 1, 0, 0});
    emulate(kernel_ast(p * full_like(p, 3.0)), sm90(), &k);
    CHECK(has(cuda::render_cuda(k), " : make_uint4(0, 0, 0, 0);"));
    // not 16-byte aligned (one element in), and padded lanes gated one by one: lane by lane
    UOpRef s = mg::test::mv(Ops::SHRINK, input(t, 1, {1025}, d), {1, 1025});
    emulate(kernel_ast(s + s), sm90(), &k);
    CHECK(!has(cuda::render_cuda(k), "(const uint4*)"));
    UOpRef q = input(t, 1, {13}, d);
    emulate(kernel_ast(q * q), sm90(), &k);
    CHECK(k.width == 4);
  }
  // float32 out of float16 (uint2 loads), float16 out of float32 (two float4 per input)
  UOpRef h = input(t, 1, {40, 24}, dtypes::float16), f = input(t, 2, {40, 24});
  emulate(kernel_ast(t.make(Ops::CAST, dtypes::float32, {h}) * f), sm90(), &k);
  CHECK(has(cuda::render_cuda(k), "uint2 "));
  emulate(kernel_ast(t.make(Ops::CAST, dtypes::bfloat16, {f + f})), sm90(), &k);
  CHECK(has(cuda::render_cuda(k), " + 4];"));
  // bytes: int8 and bool lanes, 4 to a word
  UOpRef i8 = input(t, 1, {50, 32}, dtypes::int8);
  emulate(kernel_ast(i8 * full_like(i8, 7) - full_like(i8, 100)), sm90(), &k);
  CHECK(k.width == 16);
  UOpRef x = input(t, 1, {9, 48}, dtypes::float16), y = input(t, 2, {9, 48}, dtypes::float16);
  emulate(kernel_ast(alu(Ops::CMPLT, {x, y})), sm90(), &k);
  CHECK(k.width == 16);
  UOpRef bl = input(t, 1, {9, 48}, dtypes::bool_);
  emulate(kernel_ast(t.make(Ops::CAST, dtypes::float16, {bl})), sm90(), &k);
  CHECK(has(cuda::render_cuda(k), "= *(const uint2*)&b1["));  // 8 bool lanes
}

TEST_CASE("CUDA emulation catches a packed float16 load that takes the wrong half of a word") {
  UOpTable t;
  for (DType d : {dtypes::float16, dtypes::bfloat16}) {
    UOpRef a = input(t, 1, {16, 64}, d);
    UOpRef ast = kernel_ast(a * a);
    Result broken = emulate(ast, sm90(), nullptr, high_halves_lost, false);
    if (!broken.ran) return;
    CHECK(!broken.agree);
    CHECK(emulate(ast, sm90()).agree);
  }
}

TEST_CASE("CUDA emulation catches a GROUP kernel without its barriers, or with a wrong combine") {
  UOpTable t;
  UOpRef ast = kernel_ast(reduce(input(t, 1, {5, 1000}), Ops::ADD, {1}));
  Result broken = emulate(ast, sm90(), nullptr, without_barriers, false);
  if (!broken.ran) return;
  CHECK(!broken.agree);
  Result off = emulate(ast, sm90(), nullptr, partner_off_by_one, false);
  CHECK(!off.agree);
  Result fine = emulate(ast, sm90());
  CHECK(fine.agree);
}
