// LlvmJit: the whole ORC setup of the CPU backend, kept in this one file
// (after LLVM's LLJITBuilder examples). See docs/cpu_jit.md.
#include "backends/cpu/llvm_jit.h"

#include <mutex>

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/IRReader/IRReader.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include "uop/error.h"

namespace mg::cpu {
namespace {

[[noreturn]] void compile_error(const std::string& what, const std::string& diag) {
  std::string d = diag;
  while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
  fail(ErrorKind::Compile, what + " : " + d);
}

// Unwraps an llvm::Expected, turning its error into mg::Error(Compile).
template <typename T>
T take(llvm::Expected<T> v, const std::string& what) {
  if (!v) compile_error(what, llvm::toString(v.takeError()));
  return std::move(*v);
}

// LLVM's target registry is process-wide by LLVM's own design: registering the
// native target, its asm printer and parser must happen once per process,
// hence the call_once (the only static state here, and it is LLVM's).
void init_native_target() {
  static std::once_flag once;
  static bool failed = false;
  std::call_once(once, [] {
    failed = llvm::InitializeNativeTarget() || llvm::InitializeNativeTargetAsmPrinter() ||
             llvm::InitializeNativeTargetAsmParser();
  });
  if (failed) compile_error("LlvmJit: native target", "LLVM has no target for this host");
}

}  // namespace

struct LlvmJit::Impl {
  llvm::orc::JITTargetMachineBuilder jtmb;
  std::unique_ptr<llvm::TargetMachine> tm;  // for the optimizer's TargetIRAnalysis
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::mutex mu;
  explicit Impl(llvm::orc::JITTargetMachineBuilder b) : jtmb(std::move(b)) {}
};

LlvmJit::LlvmJit() {
  init_native_target();
  // detectHost fills in the host triple, CPU name and CPU features.
  auto jtmb = take(llvm::orc::JITTargetMachineBuilder::detectHost(), "LlvmJit: detecting the host");
  jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);  // -O2-level codegen
  impl_ = std::make_unique<Impl>(jtmb);
  impl_->tm = take(jtmb.createTargetMachine(), "LlvmJit: creating the target machine");
  impl_->jit = take(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(jtmb)).create(),
                    "LlvmJit: creating the LLJIT");
  // Undefined symbols (expf, sinf, memset, ...) resolve against this process.
  auto gen = take(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                      impl_->jit->getDataLayout().getGlobalPrefix()),
                  "LlvmJit: process symbol generator");
  impl_->jit->getMainJITDylib().addGenerator(std::move(gen));
}

LlvmJit::~LlvmJit() = default;

void* LlvmJit::compile(const std::string& ir_text, const std::string& fn_name) {
  const std::string who = "LlvmJit::compile('" + fn_name + "')";
  std::lock_guard<std::mutex> lock(impl_->mu);

  // Parse into a fresh context: each module owns its LLVMContext.
  auto ctx = std::make_unique<llvm::LLVMContext>();
  llvm::SMDiagnostic diag;
  std::unique_ptr<llvm::Module> mod =
      llvm::parseIR(llvm::MemoryBufferRef(ir_text, fn_name), diag, *ctx);
  if (!mod) {
    std::string text;
    llvm::raw_string_ostream os(text);
    diag.print(nullptr, os, /*ShowColors=*/false);
    compile_error(who + ": IR parse error", os.str());
  }
  std::string verr;
  llvm::raw_string_ostream vos(verr);
  if (llvm::verifyModule(*mod, &vos)) compile_error(who + ": IR verifier failed", vos.str());

  mod->setDataLayout(impl_->jit->getDataLayout());
  mod->setTargetTriple(impl_->jit->getTargetTriple().str());

  // The standard O2 pipeline; a PassBuilder given the target machine registers
  // its TargetIRAnalysis, so the vectorizers see the host's vector widths.
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(impl_->tm.get());
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(*mod, mam);

  // One resource tracker per module: a failed lookup removes what was added.
  auto rt = impl_->jit->getMainJITDylib().createResourceTracker();
  if (auto err = impl_->jit->addIRModule(rt, llvm::orc::ThreadSafeModule(std::move(mod), std::move(ctx)))) {
    std::string msg = llvm::toString(std::move(err));
    llvm::consumeError(rt->remove());
    compile_error(who + ": adding the module", msg);
  }
  auto addr = impl_->jit->lookup(fn_name);
  if (!addr) {
    std::string msg = llvm::toString(addr.takeError());
    llvm::consumeError(rt->remove());
    compile_error(who + ": symbol lookup failed", msg);
  }
  return addr->toPtr<void*>();
}

std::string LlvmJit::target_triple() const { return impl_->jtmb.getTargetTriple().str(); }
std::string LlvmJit::cpu_name() const { return impl_->jtmb.getCPU(); }
std::string LlvmJit::cpu_features() const { return impl_->jtmb.getFeatures().getString(); }

}  // namespace mg::cpu
