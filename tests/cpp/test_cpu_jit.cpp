// The CPU backend's JIT (backends/cpu/llvm_jit.h) on hand-written LLVM IR.
#include "backends/cpu/llvm_jit.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
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
