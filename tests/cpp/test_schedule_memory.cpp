// The schedule's memory plan (temps whose lifetimes do not overlap share an arena) and the
// check that lets an assign write straight into its tensor's memory.
#include <doctest/doctest.h>

#include <string>

#include "schedule/schedule.h"
#include "tests/cpp/kernel_builders.h"

using namespace mg;
using mg::test::tensor_input;

namespace {
UOpRef scalar(UOpTable& t, double v, int64_t n) {
  UOpRef c = t.make(Ops::CONST, dtypes::float32, {t.make(Ops::DEVICE, dtypes::void_, {}, std::string("CPU"))}, v);
  return t.make(Ops::EXPAND, dtypes::float32, {t.make(Ops::RESHAPE, dtypes::float32, {c}, Shape{1})}, Shape{n});
}
UOpRef contiguous(const UOpRef& x) { return x->table->make(Ops::CONTIGUOUS, x->dtype, {x}); }
schedule::Schedule schedule_of(std::vector<UOpRef> roots) { return schedule::make_schedule(schedule::normalize(roots).sink); }
}  // namespace

TEST_CASE("memory plan: a chain of temps reuses the arena of a temp no longer read") {
  UOpTable t;
  UOpRef a = tensor_input(t, 1, {32});
  UOpRef c1 = contiguous(a * scalar(t, 2, 32));
  UOpRef c2 = contiguous(c1 + scalar(t, 1, 32));
  UOpRef c3 = contiguous(c2 * scalar(t, 3, 32));
  schedule::Schedule s = schedule_of({c3 + scalar(t, 1, 32)});
  REQUIRE(s.temp_numel.size() == 3);
  REQUIRE(s.items.size() == 4);
  // c1 is last read by the item that writes c2; c3 is written after that, into c1's arena.
  CHECK(s.temp_arena[0] == s.temp_arena[2]);
  CHECK(s.temp_arena[0] != s.temp_arena[1]);
  CHECK(s.arena_bytes.size() == 2);
  CHECK(s.arena_bytes[0] == 128);
  CHECK(schedule::temp_bytes(s) == 3 * 128);
  for (size_t tmp = 0; tmp < 3; tmp++)  // an arena outlives every temp in it
    CHECK(s.arena_last_use[size_t(s.temp_arena[tmp])] >= s.temp_last_use[tmp]);
}

TEST_CASE("memory plan: temps alive at once never share; a larger temp grows a free arena") {
  UOpTable t;
  UOpRef a = tensor_input(t, 1, {16});
  UOpRef c1 = contiguous(a * scalar(t, 2, 16));                                                   // 64 bytes
  UOpRef c2 = contiguous(t.make(Ops::PAD, dtypes::float32, {c1}, std::vector<int64_t>{0, 48}));  // 256, reads c1
  UOpRef c3 = contiguous(c2 + scalar(t, 1, 64));                                                  // 256, reads c2
  schedule::Schedule s = schedule_of({c3 * c2});
  REQUIRE(s.temp_numel.size() == 3);
  CHECK(s.temp_arena[0] == s.temp_arena[2]);  // c1 is done when c3 is written: its arena grows
  CHECK(s.temp_arena[1] != s.temp_arena[2]);  // c2 is read with c3
  CHECK(s.arena_bytes[size_t(s.temp_arena[0])] == 256);
  size_t planned = 0;
  for (size_t n : s.arena_bytes) planned += n;
  CHECK(planned == 512);
  CHECK(schedule::temp_bytes(s) == 576);
}

TEST_CASE("in place: a kernel may write over an input it reads only where it writes") {
  UOpTable t;
  UOpRef a = tensor_input(t, 1, {8}), b = tensor_input(t, 2, {8});
  {  // a + b * 2, written over a: elementwise
    schedule::Schedule s = schedule_of({a + b * scalar(t, 2, 8)});
    CHECK(schedule::can_write_over(s, 0, 0));
    CHECK(schedule::can_write_over(s, 0, -1));
  }
  {  // flip reads other positions
    schedule::Schedule s = schedule_of({t.make(Ops::FLIP, dtypes::float32, {a}, std::vector<int64_t>{0}) + b});
    CHECK_FALSE(schedule::can_write_over(s, 0, 0));
  }
  {  // a - sum(a): the sum is stored by an earlier kernel, so the writer reads a in step
    UOpRef sum = t.make(Ops::REDUCE_AXIS, dtypes::float32, {a}, ReduceArg{Ops::ADD, {0}});
    schedule::Schedule s = schedule_of({a - t.make(Ops::EXPAND, dtypes::float32, {sum}, Shape{8})});
    REQUIRE(s.items.size() == 2);
    CHECK(schedule::can_write_over(s, 0, 0));
  }
  {  // out[i] = sum_j a[j] * m[i, j]: the reduction fuses into the writer, which reads all of a
    UOpRef m = tensor_input(t, 3, {64});
    UOpRef row = t.make(Ops::EXPAND, dtypes::float32, {t.make(Ops::RESHAPE, dtypes::float32, {a}, Shape{1, 8})}, Shape{8, 8});
    UOpRef prod = row * t.make(Ops::RESHAPE, dtypes::float32, {m}, Shape{8, 8});
    UOpRef r = t.make(Ops::REDUCE_AXIS, dtypes::float32, {prod}, ReduceArg{Ops::ADD, {1}});
    schedule::Schedule s = schedule_of({t.make(Ops::RESHAPE, dtypes::float32, {r}, Shape{8})});
    REQUIRE(s.items.size() == 1);
    CHECK_FALSE(schedule::can_write_over(s, 0, 0));
  }
  {  // two roots: the second reads a after the first is written
    schedule::Schedule s = schedule_of({a * scalar(t, 2, 8), a + scalar(t, 3, 8)});
    REQUIRE(s.items.size() == 2);
    CHECK_FALSE(schedule::can_write_over(s, 0, 0));
    CHECK(schedule::can_write_over(s, 1, 0));
  }
}
