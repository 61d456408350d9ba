// The CPU backend's JIT (backends/cpu/llvm_jit.h) on hand-written LLVM IR.
#include "backends/cpu/llvm_jit.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "uop/error.h"

namespace {

const char* kAddIR = R"(
define void @add(ptr noalias %a, ptr noalias %b, ptr noalias %out, i64 %n) {
entry:
  %empty = icmp sle i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %next, %loop ]
  %pa = getelementptr inbounds float, ptr %a, i64 %i
  %pb = getelementptr inbounds float, ptr %b, i64 %i
  %x = load float, ptr %pa
  %y = load float, ptr %pb
  %s = fadd float %x, %y
  %po = getelementptr inbounds float, ptr %out, i64 %i
  store float %s, ptr %po
  %next = add nuw nsw i64 %i, 1
  %more = icmp slt i64 %next, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}
)";

// out[i] = expf(x[i]) + exp2(x[i]): a libm call and an intrinsic.
const char* kExpIR = R"(
declare float @expf(float)
declare float @llvm.exp2.f32(float)
define void @exps(ptr noalias %x, ptr noalias %out, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %next, %loop ]
  %px = getelementptr inbounds float, ptr %x, i64 %i
  %v = load float, ptr %px
  %e = call float @expf(float %v)
  %t = call float @llvm.exp2.f32(float %v)
  %s = fadd float %e, %t
  %po = getelementptr inbounds float, ptr %out, i64 %i
  store float %s, ptr %po
  %next = add nuw nsw i64 %i, 1
  %more = icmp slt i64 %next, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}
)";

std::string const_fn(const char* name, int value) {
  return "define i32 @" + std::string(name) + "() {\n  ret i32 " + std::to_string(value) + "\n}\n";
}

// Runs f, which must throw mg::Error of kind Compile; returns its message.
template <typename F>
std::string compile_error(F f) {
  try {
    f();
  } catch (const mg::Error& e) {
    CHECK(e.kind == mg::ErrorKind::Compile);
    return e.what();
  }
  FAIL("no mg::Error thrown");
  return "";
}

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("cpu jit: detects the host target") {
  mg::cpu::LlvmJit jit;
  INFO("triple ", jit.target_triple());
  INFO("cpu ", jit.cpu_name());
  INFO("features ", jit.cpu_features());
  MESSAGE("cpu jit host: ", jit.target_triple(), " cpu=", jit.cpu_name(), " features=", jit.cpu_features());
  CHECK(!jit.target_triple().empty());
  CHECK(!jit.cpu_name().empty());
  CHECK(!jit.cpu_features().empty());
}

TEST_CASE("cpu jit: a float add loop runs on real arrays") {
  mg::cpu::LlvmJit jit;
  using AddFn = void (*)(const float*, const float*, float*, int64_t);
  void* addr = jit.compile(kAddIR, "add");
  REQUIRE(addr != nullptr);
  auto add = reinterpret_cast<AddFn>(addr);
  const int64_t n = 1003;  // not a multiple of any vector width: the remainder loop runs too
  std::vector<float> a(n), b(n), out(n + 1, -1.0f);
  for (int64_t i = 0; i < n; i++) {
    a[i] = 0.5f * static_cast<float>(i);
    b[i] = 1000.0f - static_cast<float>(i);
  }
  add(a.data(), b.data(), out.data(), n);
  int bad = 0;
  for (int64_t i = 0; i < n; i++) bad += out[i] != a[i] + b[i];
  CHECK(bad == 0);
  CHECK(out[n] == -1.0f);  // nothing written past the end
  add(a.data(), b.data(), out.data(), 0);  // n = 0 touches nothing
  CHECK(out[0] == a[0] + b[0]);
}

TEST_CASE("cpu jit: libm calls and intrinsics resolve") {
  mg::cpu::LlvmJit jit;
  using ExpFn = void (*)(const float*, float*, int64_t);
  auto exps = reinterpret_cast<ExpFn>(jit.compile(kExpIR, "exps"));
  std::vector<float> x = {-3.0f, -1.0f, 0.0f, 0.5f, 1.0f, 2.0f, 7.25f};
  std::vector<float> out(x.size());
  exps(x.data(), out.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); i++) {
    float want = std::exp(x[i]) + std::exp2(x[i]);
    CHECK(std::fabs(out[i] - want) <= 1e-5f * std::fabs(want));
  }
}

TEST_CASE("cpu jit: bad IR raises a Compile error naming the function") {
  mg::cpu::LlvmJit jit;
  std::string msg = compile_error([&] { jit.compile("define void @broken( {\n", "broken"); });
  INFO(msg);  // read when a check fails, so it shows the latest message
  CHECK(has(msg, "broken"));
  CHECK(has(msg, "parse error"));
  CHECK(has(msg, "error: expected"));  // LLVM's own diagnostic

  // Parses, but the verifier rejects it: a use that its definition does not dominate.
  msg = compile_error([&] {
    jit.compile("define i32 @undom() {\n  %x = add i32 %y, 1\n  %y = add i32 1, 1\n  ret i32 %x\n}\n", "undom");
  });
  CHECK(has(msg, "undom"));
  CHECK(has(msg, "Instruction does not dominate all uses"));
}

TEST_CASE("cpu jit: a symbol that is not defined raises Compile, and leaves nothing behind") {
  mg::cpu::LlvmJit jit;
  std::string msg = compile_error([&] { jit.compile(const_fn("seven", 7), "nosuch"); });
  INFO(msg);  // read when a check fails, so it shows the latest message
  CHECK(has(msg, "nosuch"));
  CHECK(has(msg, "Symbols not found"));
  // The failed module was removed, so the same definition can be added again.
  auto seven = reinterpret_cast<int (*)()>(jit.compile(const_fn("seven", 7), "seven"));
  CHECK(seven() == 7);
  // A second definition of a name in one JIT is a Compile error, not a crash.
  msg = compile_error([&] { jit.compile(const_fn("seven", 8), "seven"); });
  CHECK(has(msg, "seven"));
}

TEST_CASE("cpu jit: two JIT instances compile the same name independently") {
  mg::cpu::LlvmJit one, two;
  void* a1 = one.compile(const_fn("k", 1), "k");
  void* a2 = two.compile(const_fn("k", 2), "k");
  CHECK(a1 != a2);
  auto f1 = reinterpret_cast<int (*)()>(a1);
  auto f2 = reinterpret_cast<int (*)()>(a2);
  CHECK(f1() == 1);
  CHECK(f2() == 2);
}

TEST_CASE("cpu jit: an object from compile_object loads and runs in another JIT") {
  std::string obj;
  {
    mg::cpu::LlvmJit maker;
    obj = maker.compile_object(kAddIR, "add");
  }  // the JIT that made it is gone: the object stands alone
  REQUIRE(obj.size() > 64);
  CHECK(mg::cpu::LlvmJit::elf_of(obj).compare(0, 4, "\x7f" "ELF") == 0);

  mg::cpu::LlvmJit user;
  auto add = reinterpret_cast<void (*)(const float*, const float*, float*, int64_t)>(user.load(obj, "add"));
  const int64_t n = 37;
  std::vector<float> a(n), b(n), out(n, 0.0f);
  for (int64_t i = 0; i < n; i++) {
    a[i] = static_cast<float>(i) * 1.5f;
    b[i] = static_cast<float>(3 * i) - 7.0f;
  }
  add(a.data(), b.data(), out.data(), n);
  int bad = 0;
  for (int64_t i = 0; i < n; i++) bad += out[i] != a[i] + b[i];
  CHECK(bad == 0);

  // Objects with external calls (expf) link too, and compiling is deterministic:
  // the same IR gives the same bytes, which is what makes caching them sound.
  mg::cpu::LlvmJit other;
  std::string e1 = other.compile_object(kExpIR, "exps");
  CHECK(e1 == user.compile_object(kExpIR, "exps"));
  auto exps = reinterpret_cast<void (*)(const float*, float*, int64_t)>(user.load(e1, "exps"));
  float x[2] = {0.0f, 1.0f}, y[2] = {0.0f, 0.0f};
  exps(x, y, 2);
  CHECK(y[0] == doctest::Approx(2.0f));
  CHECK(y[1] == doctest::Approx(std::exp(1.0f) + 2.0f));
}

TEST_CASE("cpu jit: compile_object reports bad IR with LLVM's diagnostic") {
  mg::cpu::LlvmJit jit;
  std::string msg = compile_error([&] { jit.compile_object("define i32 @f() {\n  ret i64 0\n}\n", "mistyped"); });
  INFO(msg);
  CHECK(has(msg, "LlvmJit::compile_object('mistyped')"));
  CHECK(has(msg, "parse error"));
  CHECK(has(msg, "value doesn't match function result type"));  // LLVM's words
  msg = compile_error([&] { jit.assembly("garbage", "asm_of_garbage"); });
  CHECK(has(msg, "asm_of_garbage"));
  CHECK(has(msg, "expected top-level entity"));
}

TEST_CASE("cpu jit: load rejects truncated, altered or foreign objects, and the JIT stays usable") {
  mg::cpu::LlvmJit jit;
  const std::string obj = jit.compile_object(const_fn("nine", 9), "nine");
  REQUIRE(obj.size() > 200);

  std::string msg = compile_error([&] { jit.load("", "nine"); });
  INFO(msg);
  CHECK(has(msg, "LlvmJit::load('nine')"));
  CHECK(has(msg, "expected an object from LlvmJit::compile_object"));
  msg = compile_error([&] { jit.load(mg::cpu::LlvmJit::elf_of(obj), "nine"); });  // a bare ELF file
  CHECK(has(msg, "expected an object from LlvmJit::compile_object"));
  msg = compile_error([&] { jit.load(obj.substr(0, obj.size() - 1), "nine"); });
  CHECK(has(msg, "truncated or padded object"));

  // Every truncation, and bytes changed anywhere: each one an error, never a
  // crash (LLVM's linker itself segfaults on some of these; see docs/cpu_jit.md).
  int rejected = 0, tried = 0;
  auto try_load = [&](const std::string& bytes) {
    tried++;
    try {
      jit.load(bytes, "nine");
    } catch (const mg::Error& e) {
      rejected += e.kind == mg::ErrorKind::Compile;
    }
  };
  for (size_t len = 0; len < obj.size(); len += (len < 64 ? 1 : 5)) try_load(obj.substr(0, len));
  std::mt19937 rng(2024);
  for (int t = 0; t < 300; t++) {
    std::string bad = obj;
    for (int k = 0; k < 1 + t % 3; k++) {
      size_t at = rng() % bad.size();
      bad[at] = static_cast<char>(bad[at] ^ (1 + rng() % 255));  // never the same byte
    }
    try_load(bad);
  }
  CHECK(rejected == tried);
  std::string flipped = obj;
  flipped[100] = static_cast<char>(flipped[100] ^ 1);
  msg = compile_error([&] { jit.load(flipped, "nine"); });
  CHECK(has(msg, "corrupted object"));
  std::string foreign = obj;
  foreign[8] = static_cast<char>(foreign[8] ^ 1);  // the target hash
  msg = compile_error([&] { jit.load(foreign, "nine"); });
  CHECK(has(msg, "compiled for another target"));

  // A good object whose symbol is not `fn_name`: Compile, and nothing is left
  // behind, so the same object loads afterwards under its real name.
  msg = compile_error([&] { jit.load(obj, "ten"); });
  CHECK(has(msg, "Symbols not found"));
  auto nine = reinterpret_cast<int (*)()>(jit.load(obj, "nine"));
  CHECK(nine() == 9);
  msg = compile_error([&] { jit.load(obj, "nine"); });  // defined twice in one JIT
  CHECK(has(msg, "Duplicate definition"));
}

TEST_CASE("cpu jit: assembly and optimized IR show the optimized code") {
  mg::cpu::LlvmJit jit;
  // x*2+x*2 folds to one shift/add or multiply; the IR keeps no second multiply.
  const char* ir = "define i32 @twice(i32 %x) {\n  %a = mul i32 %x, 2\n  %b = mul i32 %x, 2\n"
                   "  %c = add i32 %a, %b\n  ret i32 %c\n}\n";
  std::string opt = jit.optimized_ir(ir, "twice");
  INFO(opt);
  CHECK(has(opt, "define"));
  CHECK(has(opt, "@twice"));
  CHECK(has(opt, "shl i32 %x, 2"));
  CHECK(!has(opt, "mul"));
  std::string s = jit.assembly(ir, "twice");
  INFO(s);
  CHECK(has(s, "twice:"));
  CHECK((has(s, "ret") || has(s, "blr")));  // x86-64 or AArch64 return
  CHECK(has(jit.target_key(), jit.cpu_name()));
  CHECK(has(jit.target_key(), "llvm 19"));
}
