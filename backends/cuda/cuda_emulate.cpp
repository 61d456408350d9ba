#include "backends/cuda/cuda_emulate.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "backends/cuda/cuda_emulate_shim.h"
#include "backends/cuda/cuda_renderer.h"

namespace mg::cuda {

namespace {
std::string read_all(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

float f16_to_float(uint16_t h) {
  _Float16 v;
  std::memcpy(&v, &h, 2);
  return float(v);
}
float bf16_to_float(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
double float_at(const std::vector<char>& b, DType d, size_t i) {
  uint16_t h;
  switch (d.scalar) {
    case Scalar::Float16: std::memcpy(&h, b.data() + 2 * i, 2); return f16_to_float(h);
    case Scalar::BFloat16: std::memcpy(&h, b.data() + 2 * i, 2); return bf16_to_float(h);
    case Scalar::Float64: { double v; std::memcpy(&v, b.data() + 8 * i, 8); return v; }
    default: { float v; std::memcpy(&v, b.data() + 4 * i, 4); return v; }
  }
}
}  // namespace

bool host_compiler_available() { return std::system("g++ --version > /dev/null 2>&1") == 0; }

std::unique_ptr<Emulated> Emulated::build(const std::string& cuda_src, const codegen::Kernel& k, std::string* why) {
  if (!host_compiler_available()) {
    *why = "no g++ to compile emulated CUDA kernels with";
    return nullptr;
  }
  std::unique_ptr<Emulated> e(new Emulated());
  char dir[] = "/tmp/mg_emu_XXXXXX";
  if (!mkdtemp(dir)) {
    *why = "cannot make a temporary directory";
    return nullptr;
  }
  e->dir_ = dir;
  std::string body = cuda_src;  // the shim has what cuda_fp16.h and cuda_bf16.h would give
  for (const char* h : {"#include <cuda_fp16.h>\n", "#include <cuda_bf16.h>\n"})
    if (size_t p = body.find(h); p != std::string::npos) body.erase(p, std::strlen(h));
  std::string args;
  for (int i = 0; i < k.n_params; i++) args += (i ? ", " : "") + std::string("a[") + std::to_string(i) + "]";
  for (size_t i = 0; i < k.vars.size(); i++)
    args += (i || k.n_params ? ", " : "") + std::string("*(long long*)a[") + std::to_string(size_t(k.n_params) + i) + "]";
  std::ofstream(e->dir_ + "/k.cpp") << kCudaEmulateShim << body << "\nextern \"C\" void mg_emu_entry(void** a) { " << k.fn_name << "(" << args << "); }\n";
  std::string cmd = "g++ -std=c++20 -O1 -w -fsanitize=alignment -fsanitize-undefined-trap-on-error -shared -fPIC -o " + e->dir_ + "/k.so " + e->dir_ + "/k.cpp > " + e->dir_ + "/log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    *why = "g++ could not compile the emulated kernel " + k.name + ":\n" + read_all(e->dir_ + "/log").substr(0, 4000);
    return nullptr;
  }
  e->so_ = dlopen((e->dir_ + "/k.so").c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!e->so_) {
    *why = std::string("dlopen: ") + dlerror();
    return nullptr;
  }
  e->launch_ = reinterpret_cast<int (*)(void**, const unsigned*, const unsigned*, int)>(dlsym(e->so_, "mg_emu_launch"));
  if (!e->launch_) {
    *why = "no mg_emu_launch in the emulated kernel";
    return nullptr;
  }
  for (int i = 0; i < 3; i++) e->grid_[i] = unsigned(k.grid[i]), e->block_[i] = unsigned(k.block[i]);
  return e;
}

Emulated::~Emulated() {
  if (so_) dlclose(so_);
  if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
}

bool Emulated::run(void* const* bufs, int order) const {
  return launch_(const_cast<void**>(bufs), grid_, block_, order) == 0;
}

GuardedBuffer::GuardedBuffer(size_t nbytes) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE)), used = (nbytes + 15) / 16 * 16;
  span_ = (used + page - 1) / page * page + page;
  void* m = mmap(nullptr, span_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  base_ = static_cast<char*>(m);
  mprotect(base_ + span_ - page, page, PROT_NONE);
  ptr_ = base_ + span_ - page - used;
}

GuardedBuffer::~GuardedBuffer() { munmap(base_, span_); }

std::vector<std::vector<char>> random_params(const UOpRef& ast, uint32_t seed, std::string* why) {
  std::mt19937 rng(seed);
  std::vector<std::vector<char>> bufs;
  for (UOp* u : ast->toposort()) {
    if (u->op != Ops::DEFINE_GLOBAL) continue;
    const size_t p = size_t(std::get<int64_t>(u->arg));
    if (bufs.size() <= p) bufs.resize(p + 1);
    const DType d = u->dtype.base();
    const size_t item = size_t(d.itemsize());
    bufs[p].assign(size_t(u->dtype.ptr_size) * item, 0);
    for (int64_t i = 0; i < u->dtype.ptr_size; i++) {
      char* at = bufs[p].data() + size_t(i) * item;
      const float f = std::uniform_real_distribution<float>(-1, 1)(rng);
      const int64_t n = std::uniform_int_distribution<int64_t>(-50, 50)(rng);
      switch (d.scalar) {
        case Scalar::Bool: *at = char(rng() % 7 == 0); break;
        case Scalar::Float16: { _Float16 h = _Float16(f); std::memcpy(at, &h, 2); break; }
        case Scalar::BFloat16: { uint32_t u32; std::memcpy(&u32, &f, 4); uint16_t b = uint16_t(u32 >> 16); std::memcpy(at, &b, 2); break; }
        case Scalar::Float32: std::memcpy(at, &f, 4); break;
        case Scalar::Float64: { double v = f; std::memcpy(at, &v, 8); break; }
        default:
          if (!d.is_int()) {
            *why = "no random values for " + d.name();
            return {};
          }
          const int64_t v = d.is_unsigned() ? n + 50 : n;
          std::memcpy(at, &v, item);  // its low bytes (little-endian): the same value at every width
      }
    }
  }
  return bufs;
}

DType output_dtype(const UOpRef& ast) {
  for (UOp* u : ast->toposort())
    if (u->op == Ops::DEFINE_GLOBAL && std::get<int64_t>(u->arg) == 0) return u->dtype.base();
  return dtypes::void_;
}

size_t count_mismatches(const std::vector<char>& want, const std::vector<char>& got, DType d, size_t* first, double tol32) {
  const double tol = d.scalar == Scalar::Float16 ? 2e-3 : d.scalar == Scalar::BFloat16 ? 1.6e-2 : tol32;
  const size_t item = size_t(d.itemsize());
  size_t bad = 0;
  for (size_t i = 0; i < want.size() / item && i < got.size() / item; i++) {
    bool ok;
    if (d.is_float()) {
      const double a = float_at(want, d, i), b = float_at(got, d, i);
      ok = (std::isnan(a) && std::isnan(b)) || a == b || std::fabs(a - b) <= tol * std::max(1.0, std::fabs(a));
    } else {
      ok = std::memcmp(want.data() + i * item, got.data() + i * item, item) == 0;
    }
    if (!ok && !bad++ && first) *first = i;
  }
  return bad + (want.size() != got.size());
}

std::string check_against_unoptimized(const UOpRef& ast, const codegen::Kernel& k, const std::string& src, codegen::Target t) {
  std::string why;
  std::vector<std::vector<char>> inputs = random_params(ast, 1234, &why);
  if (inputs.empty()) return why;
  t.opts = false;
  codegen::Kernel plain = codegen::lower(ast, t);
  std::vector<std::vector<char>> outs;
  for (const auto& [kernel, source] : {std::pair<const codegen::Kernel*, std::string>{&k, src}, {&plain, render_cuda(plain)}}) {
    std::unique_ptr<Emulated> e = Emulated::build(source, *kernel, &why);
    if (!e) return why;
    std::vector<std::unique_ptr<GuardedBuffer>> bufs;
    std::vector<void*> ptrs;
    for (const std::vector<char>& b : inputs) {
      bufs.push_back(std::make_unique<GuardedBuffer>(b.size()));
      std::memcpy(bufs.back()->ptr(), b.data(), b.size());
      ptrs.push_back(bufs.back()->ptr());
    }
    std::memset(ptrs[0], 0x7f, inputs[0].size());  // outputs not written show up
    if (!e->run(ptrs.data(), 0)) return "the threads of a block of kernel " + kernel->name + " did not all reach the same barriers";
    outs.emplace_back(static_cast<char*>(ptrs[0]), static_cast<char*>(ptrs[0]) + inputs[0].size());
  }
  // One thread's loop over n positions, next to a tree of partial sums, drifts by up to about
  // n * 2^-24 of its terms' magnitude (float32): a quarter of that is allowed, and at least 1e-4
  // (terms that cancel leave a small result). Wrong addresses, gates or identities miss by far
  // more; the unit tests (test_cuda_emulate.cpp) compare small kernels to 1e-5.
  int64_t longest = 1;
  for (UOp* u : plain.lowered->toposort()) {
    if (u->op != Ops::REDUCE) continue;
    int64_t n = 1;
    for (size_t i = 1; i < u->src.size(); i++)
      if (u->src[i]->op == Ops::RANGE) n *= u->src[i]->src[0]->const_int();
    longest = std::max(longest, n);
  }
  const DType d = output_dtype(ast);
  size_t first = 0, bad = count_mismatches(outs[1], outs[0], d, &first, std::max(1e-4, double(longest) * 0x1p-24 / 4));
  if (!bad) return "";
  std::string vals;
  if (d.is_float()) vals = " (" + std::to_string(float_at(outs[0], d, first)) + ", without opts " + std::to_string(float_at(outs[1], d, first)) + ")";
  return std::to_string(bad) + " output(s) differ from the kernel without opts, the first at " + std::to_string(first) + vals;
}

}  // namespace mg::cuda
