// Rendered CUDA C run on the host: with no GPU here, this is what checks that kernels compute
// the right values, GROUP reductions (shared memory, barriers) above all. Each kernel is lowered
// for a CUDA target, rendered, compiled by g++ against cuda_emulate_shim.h (one std::thread per
// CUDA thread, the threads of a block taking turns between barriers, in three orders) and run
// on random inputs; the CPU backend runs the same kernel AST, and the outputs must agree. The
// kernel is also compiled by NVRTC for sm_90 and sm_80. Without g++ the test says so and checks
// nothing. Buffers end at a page the kernel may not touch, so a read past a buffer crashes.
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_device.h"
#include "backends/cuda/cuda_renderer.h"
#include "backends/cuda/nvrtc.h"
#include "codegen/codegen.h"
#include "runtime/runtime.h"
#include "tests/cpp/cuda_emulate_shim.h"
#include "tests/cpp/kernel_builders.h"

using namespace mg;
using mg::test::input;
using mg::test::kernel_ast;

namespace {
UOpRef reduce(const UOpRef& x, Ops op, std::vector<int64_t> axes) {
  return x->table->make(Ops::REDUCE_AXIS, x->dtype, {x}, ReduceArg{op, std::move(axes)});
}

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

bool have_gxx() { return std::system("g++ --version > /dev/null 2>&1") == 0; }

// Device memory stand-in: the buffer's last byte is followed by an inaccessible page (the
// start stays 16-byte aligned, so up to 15 bytes of slack when the size is not a multiple).
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t nbytes) {
    page_ = size_t(sysconf(_SC_PAGESIZE));
    size_t used = (nbytes + 15) / 16 * 16;
    span_ = (used + page_ - 1) / page_ * page_ + page_;
    base_ = static_cast<char*>(mmap(nullptr, span_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(base_ != MAP_FAILED);
    REQUIRE(mprotect(base_ + span_ - page_, page_, PROT_NONE) == 0);
    ptr_ = base_ + span_ - page_ - used;
  }
  ~GuardedBuffer() { munmap(base_, span_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  void* ptr() const { return ptr_; }

 private:
  size_t page_, span_;
  char* base_;
  char* ptr_;
};

// One kernel compiled by g++ against the shim and loaded.
class Emulated {
 public:
  Emulated(const std::string& src, const codegen::Kernel& k) {
    char dir[] = "/tmp/mg_emu_XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    dir_ = dir;
    std::string args;
    for (int i = 0; i < k.n_params; i++) args += (i ? ", " : "") + std::string("a[") + std::to_string(i) + "]";
    std::string body = src;  // the shim has what cuda_fp16.h and cuda_bf16.h would give
    for (const char* h : {"#include <cuda_fp16.h>\n", "#include <cuda_bf16.h>\n"})
      if (size_t p = body.find(h); p != std::string::npos) body.erase(p, std::strlen(h));
    std::ofstream(dir_ + "/k.cpp") << kCudaEmulateShim << body << "\nextern \"C\" void mg_emu_entry(void** a) { " << k.fn_name << "(" << args << "); }\n";
    std::string cmd = "g++ -std=c++20 -O1 -w -shared -fPIC -pthread -o " + dir_ + "/k.so " + dir_ + "/k.cpp > " + dir_ + "/log 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::ifstream log(dir_ + "/log");
      std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      FAIL("g++ could not compile the emulated kernel:\n" << text.substr(0, 4000) << "\n" << src);
    }
    so_ = dlopen((dir_ + "/k.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    REQUIRE(so_ != nullptr);
    launch_ = reinterpret_cast<Launch>(dlsym(so_, "mg_emu_launch"));
    REQUIRE(bool(launch_));
  }
  ~Emulated() {
    if (so_) dlclose(so_);
    std::system(("rm -rf " + dir_).c_str());
  }
  // Returns false when the threads of a block did not all reach the same barriers.
  bool run(void** bufs, const codegen::Kernel& k, int order) const {
    unsigned grid[3], block[3];
    for (int i = 0; i < 3; i++) grid[i] = unsigned(k.grid[i]), block[i] = unsigned(k.block[i]);
    return launch_(bufs, grid, block, order) == 0;
  }

 private:
  using Launch = int (*)(void**, const unsigned*, const unsigned*, int);
  std::string dir_;
  void* so_ = nullptr;
  Launch launch_ = nullptr;
};

// Random inputs for each parameter of the AST (ints in [-50, 50], floats in [-1, 1]).
std::vector<std::vector<char>> random_inputs(const UOpRef& ast, std::vector<DType>& types) {
  std::mt19937 rng(1234);
  std::vector<std::vector<char>> bufs;
  for (UOp* u : ast->toposort()) {
    if (u->op != Ops::DEFINE_GLOBAL) continue;
    size_t p = size_t(std::get<int64_t>(u->arg));
    if (bufs.size() <= p) bufs.resize(p + 1), types.resize(p + 1);
    DType d = u->dtype.base();
    types[p] = d;
    bufs[p].assign(size_t(u->dtype.ptr_size) * size_t(d.itemsize()), 0);
    for (int64_t i = 0; i < u->dtype.ptr_size; i++) {
      char* at = bufs[p].data() + i * d.itemsize();
      if (d.scalar == Scalar::Float32) { float f = std::uniform_real_distribution<float>(-1, 1)(rng); std::memcpy(at, &f, 4); }
      else if (d.scalar == Scalar::Int32) { int32_t v = std::uniform_int_distribution<int32_t>(-50, 50)(rng); std::memcpy(at, &v, 4); }
      else if (d.scalar == Scalar::Bool) *at = char(rng() % 7 == 0);
      else if (d.scalar == Scalar::Float16) { _Float16 h = _Float16(std::uniform_real_distribution<float>(-1, 1)(rng)); std::memcpy(at, &h, 2); }
      else if (d.scalar == Scalar::BFloat16) {  // the top half of a float: truncation is fine for inputs
        float f = std::uniform_real_distribution<float>(-1, 1)(rng);
        uint32_t u;
        std::memcpy(&u, &f, 4);
        uint16_t b = uint16_t(u >> 16);
        std::memcpy(at, &b, 2);
      }
      else FAIL("no random values for " << d.name());
    }
  }
  return bufs;
}

// Element i of a float buffer of dtype d, as a float.
float float_at(const std::vector<char>& b, DType d, size_t i) {
  if (d.scalar == Scalar::Float16) { _Float16 h; std::memcpy(&h, b.data() + 2 * i, 2); return float(h); }
  if (d.scalar == Scalar::BFloat16) {
    uint16_t h;
    std::memcpy(&h, b.data() + 2 * i, 2);
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  float f;
  std::memcpy(&f, b.data() + 4 * i, 4);
  return f;
}

// Outputs that agree: ints and bools exactly; floats to a relative 1e-5, or about two units in
// the last place of float16 and bfloat16 (a GROUP sum adds in another order than one thread's
// loop, and the float sums may round to neighbouring 16-bit values). Returns the wrong ones.
size_t count_wrong(const std::vector<char>& want, const std::vector<char>& got, DType d, size_t* first) {
  const double tol = d.scalar == Scalar::Float16 ? 2e-3 : d.scalar == Scalar::BFloat16 ? 1.6e-2 : 1e-5;
  size_t bad = 0;
  for (size_t i = 0; i < want.size() / size_t(d.itemsize()); i++) {
    bool ok;
    if (d.is_float()) {
      float a = float_at(want, d, i), b = float_at(got, d, i);
      ok = (std::isnan(a) && std::isnan(b)) || std::fabs(a - b) <= tol * std::max(1.0f, std::fabs(a));
    } else {
      ok = std::memcmp(want.data() + i * size_t(d.itemsize()), got.data() + i * size_t(d.itemsize()), size_t(d.itemsize())) == 0;
    }
    if (!ok && !bad++ && first) *first = i;
  }
  return bad;
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
  if (!have_gxx()) {
    MESSAGE("g++ not available: CUDA emulation skipped");
    return res;
  }
  res.ran = true;
  std::vector<DType> types;
  std::vector<std::vector<char>> inputs = random_inputs(ast, types);

  // the CPU backend's outputs
  Runtime rt(HostAllocator{});
  std::unique_ptr<Device> cpu = make_cpu_device(rt, cpu::CpuOptions{.threads = 1, .cache_dir = "", .cache_level = 0});
  codegen::Kernel kc = codegen::lower(ast, *cpu->target());
  std::unique_ptr<Program> prog = cpu->compile(kc);
  std::vector<std::vector<char>> cpu_bufs;
  std::vector<void*> cpu_ptrs;
  for (const std::vector<char>& b : inputs) {
    cpu_bufs.emplace_back(b.size() + kReadSlackBytes + 64, 0);
    std::memcpy(cpu_bufs.back().data(), b.data(), b.size());
  }
  for (std::vector<char>& b : cpu_bufs) cpu_ptrs.push_back(b.data());
  prog->run(cpu_ptrs.data());
  std::vector<char> want(cpu_bufs[0].begin(), cpu_bufs[0].begin() + long(inputs[0].size()));

  Emulated emu(src, k);
  for (int order = 0; order < 3; order++) {
    std::vector<std::unique_ptr<GuardedBuffer>> gb;
    std::vector<void*> ptrs;
    for (const std::vector<char>& b : inputs) {
      gb.push_back(std::make_unique<GuardedBuffer>(b.size()));
      std::memcpy(gb.back()->ptr(), b.data(), b.size());
      ptrs.push_back(gb.back()->ptr());
    }
    std::memset(gb[0]->ptr(), 0x7f, inputs[0].size());  // outputs not written show up
    res.converged = emu.run(ptrs.data(), k, order) && res.converged;
    std::vector<char> got(static_cast<char*>(gb[0]->ptr()), static_cast<char*>(gb[0]->ptr()) + inputs[0].size());
    size_t first = 0, bad = count_wrong(want, got, types[0], &first);
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
