// LlvmJit: LLVM IR text in, a callable host address out. One ORC LLJIT per
// instance, built for the host CPU (its name and features, so AVX2/AVX-512 are
// used where present). Compiling is split in two so that compiled code can be
// cached: compile_object (IR -> ELF object bytes, the slow part) and load
// (object bytes -> address). LLVM's headers stay out of this header (pimpl), so
// only llvm_jit.cpp pays for them at build time. See docs/cpu_jit.md.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace mg::cpu {

class LlvmJit {
 public:
  LlvmJit();  // throws mg::Error(Compile) if the host target cannot be set up
  ~LlvmJit();
  LlvmJit(const LlvmJit&) = delete;
  LlvmJit& operator=(const LlvmJit&) = delete;

  // Parses `ir_text` (textual LLVM IR, one module; `name` labels it in
  // messages), verifies it, runs the O2 pipeline for the host target and
  // generates an ELF object file in memory. Returns it wrapped in a 32-byte
  // header (magic, a hash of target_key(), the ELF's length and a 64-bit
  // checksum of it), which any LlvmJit with the same target_key() can load, in
  // this process or a later one. Failure: mg::Error(Compile,
  // "LlvmJit::compile_object('<name>'): <what> : <LLVM diagnostic>").
  std::string compile_object(const std::string& ir_text, const std::string& name);

  // Links an object from compile_object into this JIT and returns the address
  // of `fn_name`, which lives as long as this LlvmJit. The header is checked
  // before LLVM sees a byte (LLVM's linker trusts its input and can crash on a
  // corrupted object): truncated or altered bytes, an object for another
  // target, a missing or already defined symbol all throw mg::Error(Compile),
  // and leave nothing of the object behind.
  void* load(const std::string& object, const std::string& fn_name);
  // The same for an object defining several functions: their addresses, in order.
  std::vector<void*> load_all(const std::string& object, const std::vector<std::string>& fn_names);

  // The ELF file inside an object from compile_object (to dump it for objdump),
  // after the same checks as load. Throws mg::Error(Compile) when they fail.
  static std::string elf_of(const std::string& object);

  // load(compile_object(ir_text, fn_name), fn_name).
  void* compile(const std::string& ir_text, const std::string& fn_name);

  // What compile_object would produce, as text: the host assembly (DEBUG=7,
  // VIZ's disassembly tab) and the optimized IR. Same errors as compile_object.
  std::string assembly(const std::string& ir_text, const std::string& name);
  std::string optimized_ir(const std::string& ir_text, const std::string& name);

  std::string target_triple() const;
  std::string cpu_name() const;
  std::string cpu_features() const;  // "+avx2,+fma,..." as LLVM spells them
  // Everything an object depends on besides its IR: triple, CPU, features and
  // the LLVM version. Part of every compiled-program cache key.
  std::string target_key() const;

  // compile_object, assembly and optimized_ir may run on several threads at once (each
  // makes its own LLVM context and target machine); load and load_all hold a mutex, one
  // caller at a time; the target queries read only what the constructor set.
 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mg::cpu
