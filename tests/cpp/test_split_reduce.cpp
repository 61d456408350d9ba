// GPU targets split a large reduction to one value across blocks (schedule::split_reductions):
// the structure of the split schedule, the cases left alone, and the values, computed on the
// CPU both ways.
#include <doctest/doctest.h>

#include <string>

#include "backends/cpu/cpu_device.h"
#include "runtime/executor.h"
#include "schedule/schedule.h"
#include "tests/cpp/kernel_builders.h"

using namespace mg;
using mg::test::reduce;
using mg::test::tensor_input;

namespace {
size_t kernels(const std::vector<UOpRef>& roots) { return schedule::make_schedule(schedule::normalize(roots).sink).items.size(); }
}  // namespace

TEST_CASE("split reductions: a full reduction of 2^18 elements becomes 1024 partials and their reduction") {
  UOpTable t;
  UOpRef x = tensor_input(t, 1, {512, 512});
  UOpRef sum = reduce(x, Ops::ADD, {0, 1});
  std::vector<UOpRef> split = schedule::split_reductions(std::vector<UOpRef>{sum}, 1024);
  CHECK(*split[0]->shape() == Shape{1, 1});
  schedule::Schedule s = schedule::make_schedule(schedule::normalize(split).sink);
  REQUIRE(s.items.size() == 2);
  CHECK(s.items[0].numel == 1024);
  CHECK(s.items[1].numel == 1);
  CHECK(kernels({sum}) == 1);
  // Left alone: a reduction to many values, a small one, and a size no power of two divides.
  UOpRef rows = reduce(x, Ops::ADD, {1});
  CHECK(schedule::split_reductions(std::vector<UOpRef>{rows}, 1024)[0] == rows);
  UOpRef small = reduce(tensor_input(t, 2, {100, 100}), Ops::ADD, {0, 1});
  CHECK(schedule::split_reductions(std::vector<UOpRef>{small}, 1024)[0] == small);
  UOpRef odd = reduce(tensor_input(t, 3, {65537}), Ops::MAX, {0});
  CHECK(schedule::split_reductions(std::vector<UOpRef>{odd}, 1024)[0] == odd);
}

TEST_CASE("split reductions: the same values as the unsplit graph (sum, max, a mean), run on the CPU") {
  UOpTable t;  // outlives the runtime, whose caches hold its nodes
  Runtime rt(HostAllocator{});
  rt.add_device(std::make_unique<cpu::CpuDevice>(rt, cpu::CpuOptions{1, "", 0}));  // the runtime drops it last
  Device& dev = *rt.devices().back();
  const int64_t n = int64_t(1) << 17;
  UOpRef x = tensor_input(t, 1, {256, 512});
  BufferRef xb = std::make_shared<Buffer>(&dev, size_t(n) * 4);
  float* xs = static_cast<float*>(xb->ptr());
  for (int64_t i = 0; i < n; i++) xs[i] = float((i * 7919) % 1000) * 0.001f - 0.25f;
  rt.bind(x->src[0].get(), xb);
  UOpRef sum = reduce(x, Ops::ADD, {0, 1});
  UOpRef mx = reduce(x, Ops::MAX, {0, 1});
  UOpRef mean = sum * t.make(Ops::RESHAPE, dtypes::float32, {t.cnst(dtypes::float32, 1.0 / double(n))}, Shape{1, 1});
  std::vector<UOpRef> roots{sum, mx, mean};
  std::vector<UOpRef> split = schedule::split_reductions(roots, 1024);
  CHECK(kernels(split) == 5);  // partials of the sum and of the max; then the sum, the max, the mean
  std::vector<BufferRef> a = realize_compiled(rt, dev, roots, {}, nullptr);
  std::vector<BufferRef> b = realize_compiled(rt, dev, split, {}, nullptr);
  double want = 0;
  float want_max = -1e30f;
  for (int64_t i = 0; i < n; i++) {
    want += xs[i];
    want_max = std::max(want_max, xs[i]);
  }
  for (int k = 0; k < 3; k++) {
    const float va = *static_cast<float*>(a[size_t(k)]->ptr()), vb = *static_cast<float*>(b[size_t(k)]->ptr());
    const double w = k == 0 ? want : k == 1 ? double(want_max) : want / double(n);
    CHECK(va == doctest::Approx(w).epsilon(1e-4));
    CHECK(vb == doctest::Approx(w).epsilon(1e-4));
  }
  CHECK(*static_cast<float*>(b[1]->ptr()) == want_max);  // max is exact either way
}
