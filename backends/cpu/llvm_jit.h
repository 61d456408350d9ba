// LlvmJit: LLVM IR text in, a callable host address out. One ORC LLJIT per
// instance, built for the host CPU (its name and features, so AVX2/AVX-512 are
// used where present). LLVM's headers stay out of this header (pimpl), so only
// llvm_jit.cpp pays for them at build time.
#pragma once
#include <memory>
#include <string>

namespace mg::cpu {

class LlvmJit {
 public:
  LlvmJit();  // throws mg::Error(Compile) if the host target cannot be set up
  ~LlvmJit();
  LlvmJit(const LlvmJit&) = delete;
  LlvmJit& operator=(const LlvmJit&) = delete;

  // Parses `ir_text` (textual LLVM IR, one module), verifies it, runs the O2
  // pipeline for the host target, adds it to this JIT and returns the address
  // of `fn_name`. Any failure throws mg::Error(Compile, "<what> : <LLVM
  // diagnostic>") and leaves nothing of that module behind. Serialized by a
  // mutex; the returned code lives as long as this LlvmJit.
  void* compile(const std::string& ir_text, const std::string& fn_name);

  std::string target_triple() const;
  std::string cpu_name() const;
  std::string cpu_features() const;  // "+avx2,+fma,..." as LLVM spells them

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mg::cpu
