// LlvmJit: the whole ORC setup of the CPU backend, kept in this one file
// (after LLVM's LLJITBuilder examples). See docs/cpu_jit.md.
#include "backends/cpu/llvm_jit.h"

#include <cstring>
#include <mutex>

#include <llvm/ADT/SmallVector.h>
#include <llvm/BinaryFormat/Magic.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/IRReader/IRReader.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CodeGen.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include "uop/arg.h"
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

// The wrapper around an ELF object, little-endian:
//   0 magic "MGOBJ\0\0\1"   8 hash of target_key()   16 ELF length   24 checksum of the ELF
// The checksum is why load can promise an error instead of a crash: LLVM's
// JITLink trusts its input (a corrupted relocation makes it read out of bounds).
constexpr char kObjMagic[8] = {'M', 'G', 'O', 'B', 'J', 0, 0, 1};
constexpr size_t kObjHeader = 32;

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(const std::string& in, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= uint64_t(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}
uint64_t key_hash(const std::string& target_key) { return hash_bytes(target_key.data(), target_key.size()); }

std::string wrap_object(const llvm::SmallVectorImpl<char>& elf, const std::string& target_key) {
  std::string out(kObjMagic, sizeof kObjMagic);
  put_u64(out, key_hash(target_key));
  put_u64(out, elf.size());
  put_u64(out, hash_bytes(elf.data(), elf.size()));
  out.append(elf.data(), elf.size());
  return out;
}

// Checks magic, length and checksum (the target hash is load's to check).
void check_object(const std::string& obj, const std::string& who) {
  if (obj.size() < kObjHeader || std::memcmp(obj.data(), kObjMagic, sizeof kObjMagic) != 0)
    compile_error(who, "expected an object from LlvmJit::compile_object (a 32-byte header starting \"MGOBJ\"), got " +
                           std::to_string(obj.size()) + " bytes that are not one");
  uint64_t len = get_u64(obj, 16);
  if (len != obj.size() - kObjHeader)
    compile_error(who, "truncated or padded object: its header says " + std::to_string(len) +
                           " bytes of ELF, " + std::to_string(obj.size() - kObjHeader) + " are there");
  if (hash_bytes(obj.data() + kObjHeader, len) != get_u64(obj, 24))
    compile_error(who, "corrupted object: the checksum of its " + std::to_string(len) +
                           " ELF bytes does not match its header");
  if (llvm::identify_magic(llvm::StringRef(obj.data() + kObjHeader, len)) != llvm::file_magic::elf_relocatable)
    compile_error(who, "the object's payload is not an ELF relocatable file");
}

// A parsed module and the context it lives in (a module must not outlive it).
struct ParsedModule {
  std::unique_ptr<llvm::LLVMContext> ctx;
  std::unique_ptr<llvm::Module> mod;
};

}  // namespace

struct LlvmJit::Impl {
  llvm::orc::JITTargetMachineBuilder jtmb;
  std::string key;  // target_key()
  std::string session_error;  // what the ExecutionSession reported during the current load
  std::unique_ptr<llvm::orc::LLJIT> jit;  // after session_error: its reporter writes there
  std::mutex mu;
  explicit Impl(llvm::orc::JITTargetMachineBuilder b) : jtmb(std::move(b)) {}

  // A target machine of its own for each compile running at once: modules compile on several
  // threads, each with its own context and target machine. Target machines are kept for reuse
  // (a fresh one sets up its subtarget tables again on first use, which costs more than a
  // small kernel's codegen).
  std::vector<std::unique_ptr<llvm::TargetMachine>> idle_tms;
  std::unique_ptr<llvm::TargetMachine> take_tm() {
    std::unique_lock<std::mutex> lock(mu);
    if (!idle_tms.empty()) {
      std::unique_ptr<llvm::TargetMachine> tm = std::move(idle_tms.back());
      idle_tms.pop_back();
      return tm;
    }
    llvm::orc::JITTargetMachineBuilder b = jtmb;
    lock.unlock();
    return take(b.createTargetMachine(), "LlvmJit: creating a target machine");
  }
  void give_tm(std::unique_ptr<llvm::TargetMachine> tm) {
    std::lock_guard<std::mutex> lock(mu);
    idle_tms.push_back(std::move(tm));
  }
  // take_tm() for the scope of one compile.
  struct TmLease {
    Impl& impl;
    std::unique_ptr<llvm::TargetMachine> tm;
    explicit TmLease(Impl& i) : impl(i), tm(i.take_tm()) {}
    ~TmLease() { impl.give_tm(std::move(tm)); }
    TmLease(const TmLease&) = delete;
    TmLease& operator=(const TmLease&) = delete;
  };
  // Parse, optimize and emit one module as an object file or as assembly text.
  llvm::SmallVector<char, 0> build(const std::string& ir_text, const std::string& name, llvm::CodeGenFileType type, const std::string& who);
  // Parse, verify, set the host's layout and triple, run the O2 pipeline.
  static ParsedModule optimize(llvm::TargetMachine& tm, const std::string& ir_text, const std::string& name, const std::string& who);
  // Codegen of an optimized module to an object file or to assembly text.
  static void emit(llvm::TargetMachine& tm, llvm::Module& mod, llvm::CodeGenFileType type, llvm::SmallVectorImpl<char>& out,
                   const std::string& who);
};

LlvmJit::LlvmJit() {
  init_native_target();
  // detectHost fills in the host triple, CPU name and CPU features.
  auto jtmb = take(llvm::orc::JITTargetMachineBuilder::detectHost(), "LlvmJit: detecting the host");
  jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);  // -O2-level codegen
  // Position-independent code, small code model: what LLJIT sets itself when it
  // links with JITLink (x86-64 and AArch64 ELF). Our objects are generated by
  // our own TargetMachine, so it must be set here, before that is made; PIC
  // code can be linked at any address, so objects load in any later process.
  jtmb.setRelocationModel(llvm::Reloc::PIC_);
  jtmb.setCodeModel(llvm::CodeModel::Small);
  impl_ = std::make_unique<Impl>(jtmb);
  // "obj2" names how objects are made here (PIC, small code model, O2, the
  // wrapper); bump it when that changes, so objects of the old recipe are not reused.
  impl_->key = "obj2 " + jtmb.getTargetTriple().str() + " " + jtmb.getCPU() + " " +
               jtmb.getFeatures().getString() + " llvm " + LLVM_VERSION_STRING;
  take(jtmb.createTargetMachine(), "LlvmJit: creating the target machine");  // fail here, not at the first compile
  impl_->jit = take(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(jtmb)).create(),
                    "LlvmJit: creating the LLJIT");
  // A link failure is reported to the session, not in the lookup's error (that
  // only says "Failed to materialize symbols"); keep it for the message.
  Impl* impl = impl_.get();
  impl_->jit->getExecutionSession().setErrorReporter([impl](llvm::Error e) {
    impl->session_error += llvm::toString(std::move(e)) + "\n";
  });
  // Undefined symbols (expf, sinf, memset, ...) resolve against this process.
  auto gen = take(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                      impl_->jit->getDataLayout().getGlobalPrefix()),
                  "LlvmJit: process symbol generator");
  impl_->jit->getMainJITDylib().addGenerator(std::move(gen));
}

LlvmJit::~LlvmJit() = default;

ParsedModule LlvmJit::Impl::optimize(llvm::TargetMachine& tm, const std::string& ir_text, const std::string& name,
                                     const std::string& who) {
  // Parse into a fresh context: each module owns its LLVMContext.
  ParsedModule pm{std::make_unique<llvm::LLVMContext>(), nullptr};
  llvm::SMDiagnostic diag;
  pm.mod = llvm::parseIR(llvm::MemoryBufferRef(ir_text, name), diag, *pm.ctx);
  if (!pm.mod) {
    std::string text;
    llvm::raw_string_ostream os(text);
    diag.print(nullptr, os, /*ShowColors=*/false);
    compile_error(who + ": IR parse error", os.str());
  }
  std::string verr;
  llvm::raw_string_ostream vos(verr);
  if (llvm::verifyModule(*pm.mod, &vos)) compile_error(who + ": IR verifier failed", vos.str());

  pm.mod->setDataLayout(tm.createDataLayout());
  pm.mod->setTargetTriple(tm.getTargetTriple().str());

  // The standard O2 pipeline; a PassBuilder given the target machine registers
  // its TargetIRAnalysis, so the vectorizers see the host's vector widths.
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  // moongrad unrolls and vectorizes kernels itself (codegen's opts): LLVM's unroller and SLP
  // vectorizer cost compile time and find little more. The loop vectorizer stays (it turns
  // reassociable reductions into vector ones).
  llvm::PipelineTuningOptions pto;
  pto.LoopUnrolling = false;
  pto.SLPVectorization = false;
  pto.LoopVectorization = true;
  pto.LoopInterleaving = true;
  llvm::PassBuilder pb(&tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(*pm.mod, mam);
  return pm;
}

void LlvmJit::Impl::emit(llvm::TargetMachine& tm, llvm::Module& mod, llvm::CodeGenFileType type,
                         llvm::SmallVectorImpl<char>& out, const std::string& who) {
  // Codegen still runs on the legacy pass manager (as in clang and llc).
  llvm::raw_svector_ostream os(out);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr, type))
    compile_error(who + ": code generation", "the target cannot emit this file type");
  pm.run(mod);
}

llvm::SmallVector<char, 0> LlvmJit::Impl::build(const std::string& ir_text, const std::string& name, llvm::CodeGenFileType type,
                                                const std::string& who) {
  TmLease lease(*this);
  ParsedModule pm = optimize(*lease.tm, ir_text, name, who);
  llvm::SmallVector<char, 0> out;
  emit(*lease.tm, *pm.mod, type, out, who);
  return out;
}

std::string LlvmJit::compile_object(const std::string& ir_text, const std::string& name) {
  return wrap_object(impl_->build(ir_text, name, llvm::CodeGenFileType::ObjectFile, "LlvmJit::compile_object('" + name + "')"), target_key());
}

std::string LlvmJit::assembly(const std::string& ir_text, const std::string& name) {
  llvm::SmallVector<char, 0> text = impl_->build(ir_text, name, llvm::CodeGenFileType::AssemblyFile, "LlvmJit::assembly('" + name + "')");
  return std::string(text.data(), text.size());
}

std::string LlvmJit::optimized_ir(const std::string& ir_text, const std::string& name) {
  const std::string who = "LlvmJit::optimized_ir('" + name + "')";
  Impl::TmLease lease(*impl_);
  ParsedModule pm = Impl::optimize(*lease.tm, ir_text, name, who);
  std::string text;
  llvm::raw_string_ostream os(text);
  pm.mod->print(os, nullptr);
  return os.str();
}

void* LlvmJit::load(const std::string& object, const std::string& fn_name) { return load_all(object, {fn_name}).at(0); }

std::vector<void*> LlvmJit::load_all(const std::string& object, const std::vector<std::string>& fn_names) {
  const std::string fn_name = fn_names.empty() ? std::string() : fn_names[0];
  const std::string who = "LlvmJit::load('" + fn_name + "'" + (fn_names.size() > 1 ? " and " + std::to_string(fn_names.size() - 1) + " more" : "") + ")";
  check_object(object, who);  // before the lock: touches nothing of this JIT
  if (get_u64(object, 8) != key_hash(target_key()))
    compile_error(who, "the object was compiled for another target (or LLVM version) than this JIT's: " +
                           target_key());
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->session_error.clear();
  // One resource tracker per object: a failed add or lookup removes what was added.
  auto rt = impl_->jit->getMainJITDylib().createResourceTracker();
  auto fail_and_remove = [&](const std::string& what, std::string msg) {
    if (!impl_->session_error.empty()) msg += "\n" + impl_->session_error;
    llvm::consumeError(rt->remove());
    impl_->session_error.clear();  // removing may report too; that is not news
    compile_error(who + ": " + what, msg);
  };
  // A copy: the JIT keeps the buffer while it links, the caller keeps its string.
  auto buf = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(object.data() + kObjHeader, object.size() - kObjHeader), fn_name + ".o");
  if (auto err = impl_->jit->addObjectFile(rt, std::move(buf)))
    fail_and_remove("adding the object", llvm::toString(std::move(err)));
  std::vector<void*> out;
  for (const std::string& name : fn_names) {
    auto addr = impl_->jit->lookup(name);
    if (!addr) fail_and_remove("symbol lookup failed for '" + name + "'", llvm::toString(addr.takeError()));
    out.push_back(addr->toPtr<void*>());
  }
  return out;
}

std::string LlvmJit::elf_of(const std::string& object) {
  check_object(object, "LlvmJit::elf_of");
  return object.substr(kObjHeader);
}

void* LlvmJit::compile(const std::string& ir_text, const std::string& fn_name) {
  return load(compile_object(ir_text, fn_name), fn_name);
}

std::string LlvmJit::target_triple() const { return impl_->jtmb.getTargetTriple().str(); }
std::string LlvmJit::cpu_name() const { return impl_->jtmb.getCPU(); }
std::string LlvmJit::cpu_features() const { return impl_->jtmb.getFeatures().getString(); }

std::string LlvmJit::target_key() const { return impl_->key; }

}  // namespace mg::cpu
