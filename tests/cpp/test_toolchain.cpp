// Guards against toolchain bugs the build works around (see premake5.lua).
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

namespace {
struct Opaque;
__attribute__((noinline)) std::vector<int64_t> pass_through(Opaque*, std::vector<int64_t> v) { return v; }
__attribute__((noinline)) Opaque* opaque() { return nullptr; }
}  // namespace

TEST_CASE("toolchain: a constant with a zero upper half survives (GCC 12 AVX-512 SLP bug)") {
  CHECK(pass_through(opaque(), {1, 1, 0, 0}) == std::vector<int64_t>{1, 1, 0, 0});
  CHECK(pass_through(opaque(), {2, 2, 2, 2, 0, 0, 0, 0}) == std::vector<int64_t>{2, 2, 2, 2, 0, 0, 0, 0});
}
