// Rendered CUDA C run on the host, for checking the CUDA code generation where there is no GPU
// (tests/cpp/test_cuda_emulate.cpp, CUDA_CHECK=...,emulate): the kernel is compiled by the
// host's C++ compiler (g++) against cuda_emulate_shim.h and loaded with dlopen. Slow (a compile
// per kernel, a fiber per CUDA thread) and not a device. See docs/cuda.md.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codegen/codegen.h"

namespace mg::cuda {

class Emulated {
 public:
  // nullptr, with the reason in `why`, when g++ is missing or cannot compile it.
  static std::unique_ptr<Emulated> build(const std::string& cuda_src, const codegen::Kernel& k, std::string* why);
  ~Emulated();
  Emulated(const Emulated&) = delete;
  Emulated& operator=(const Emulated&) = delete;
  // Runs k's grid on host buffers (parameter order). The threads of a block take turns between
  // barriers in `order` (0: 0..T-1, 1: the reverse, 2: odd ones first). False when the threads
  // of a block did not all reach the same barriers.
  bool run(void* const* bufs, int order) const;

 private:
  Emulated() = default;
  std::string dir_;
  void* so_ = nullptr;
  int (*launch_)(void**, const unsigned*, const unsigned*, int) = nullptr;
  unsigned grid_[3] = {1, 1, 1}, block_[3] = {1, 1, 1};
};

bool host_compiler_available();  // g++ runs

// Host memory whose last byte is followed by an inaccessible page (the start 16-byte aligned,
// so up to 15 bytes of slack): a kernel that reads past its buffer crashes.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t nbytes);
  ~GuardedBuffer();
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  void* ptr() const { return ptr_; }

 private:
  size_t span_ = 0;
  char* base_ = nullptr;
  char* ptr_ = nullptr;
};

// Random contents for each parameter of a kernel AST, by parameter number (floats in [-1, 1],
// ints in [-50, 50], bools true one time in 7). Empty with the reason in `why` for a dtype it
// has no values for.
std::vector<std::vector<char>> random_params(const UOpRef& ast, uint32_t seed, std::string* why);
DType output_dtype(const UOpRef& ast);  // what parameter 0 holds

// How many elements of two outputs of dtype d differ (ints and bools exactly; floats relatively
// to tol32 for float32 and float64, 2e-3 for float16, 1.6e-2 for bfloat16: sums in another
// order), the first in `first`.
size_t count_mismatches(const std::vector<char>& want, const std::vector<char>& got, DType d, size_t* first, double tol32 = 1e-5);

// CUDA_CHECK's emulate mode: kernel k (lowered from ast for target t and rendered as src) and
// the same AST lowered without opts (one thread per output, plain loops: no GROUP, no lanes)
// run emulated on the same random inputs and must agree. Empty when they do, else what went
// wrong (a compile error, a barrier not all threads reached, the outputs that differ).
std::string check_against_unoptimized(const UOpRef& ast, const codegen::Kernel& k, const std::string& src, codegen::Target t);

}  // namespace mg::cuda
