// UOp IR: interning, dtypes, derived facts, printing.
#include <doctest/doctest.h>

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string>

#include "uop/error.h"
#include "uop/exec_alu.h"
#include "uop/uop.h"

using namespace mg;

namespace {
size_t rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  return 0;
}
}  // namespace

TEST_CASE("interning: the same structure is the same node") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 10), y = t.var("y", 0, 10);
  UOpRef a = x + y * 4, b = x + y * 4;
  CHECK(a == b);
  CHECK(a.get() == b.get());
  CHECK(a->hash == b->hash);
  CHECK(!(x + y == y + x));  // interning is structural, not algebraic
  CHECK(t.cnst(dtypes::float32, 0.0) != t.cnst(dtypes::float32, -0.0));
  CHECK(t.cnst(dtypes::float32, std::nan("")) == t.cnst(dtypes::float32, std::nan("")));
  CHECK(t.cnst(dtypes::int32, int64_t(1)) != t.cnst(dtypes::int64, int64_t(1)));
}

TEST_CASE("interning: dropped graphs are freed, a million nodes return their memory") {
  UOpTable t;
  UOpRef keep = t.var("keep", 0, 1);
  size_t base_live = t.live();
  size_t rss0 = rss_kib();
  size_t peak = 0;
  for (int round = 0; round < 2; round++) {
    {
      UOpRef x = t.var("x", 0, 100);
      UOpRef e = x;
      for (int i = 0; i < 1000000; i++) e = e + int64_t(i);  // a chain: freeing must not recurse
      CHECK(t.live() == base_live + 2000001);
      peak = std::max(peak, rss_kib());
    }
    CHECK(t.live() == base_live);
    malloc_trim(0);  // hand freed pages back to the OS, so RSS shows what is really held
  }
  size_t rss1 = rss_kib();
#ifdef __SANITIZE_ADDRESS__
  return;  // ASan's allocator quarantines freed memory: RSS says nothing here (live counts did)
#endif
  INFO("rss before " << rss0 << " KiB, peak " << peak << " KiB, after " << rss1 << " KiB");
  CHECK(peak > rss0 + 50000);          // the nodes really took memory...
  CHECK(rss1 < rss0 + (peak - rss0) / 2 + 1);  // ...and most of it came back
  CHECK(keep->op == Ops::DEFINE_VAR);
}

TEST_CASE("block pool: emptied blocks are kept for reuse, as many as are in use, at least kMinKept") {
  BlockPool pool;
  const size_t floor = BlockPool::kMinKept, n = 3 * BlockPool::kMinKept;
  std::vector<void*> got;
  for (size_t i = 0; i < n; i++) got.push_back(pool.get());
  for (void* b : got) CHECK(uintptr_t(b) % BlockPool::kBlockBytes == 0);  // slabs find a block from its objects
  for (size_t i = 0; i < n / 2; i++) pool.put(got[i]);  // half back: as many kept as still in use
  CHECK(pool.kept() == n / 2);
  std::vector<void*> again;
  for (size_t i = 0; i < n / 2; i++) again.push_back(pool.get());  // the kept ones come back first
  CHECK(pool.kept() == 0);
  std::sort(again.begin(), again.end());
  std::vector<void*> first(got.begin(), got.begin() + long(n / 2));
  std::sort(first.begin(), first.end());
  CHECK(again == first);
  for (void* b : again) pool.put(b);
  for (size_t i = n / 2; i < n; i++) pool.put(got[i]);  // all back: only the floor stays
  CHECK(pool.kept() == floor);
}

TEST_CASE("block pool: a table's rewrites reuse the blocks their predecessors freed") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 100);
  auto grow = [&] {
    UOpRef e = x;
    for (int i = 0; i < 20000; i++) e = e + int64_t(i);  // about 60 blocks of nodes
    return e;
  };
  const size_t before = t.live();
  { UOpRef e = grow(); }
  CHECK(t.live() == before);
#ifdef __SANITIZE_ADDRESS__
  return;  // under ASan every node is its own allocation (uop.cpp): no slabs, no blocks
#endif
  const size_t kept = t.kept_blocks();
  CHECK(kept >= 40);  // what the dropped graph used stays for the next one
  { UOpRef e = grow(); CHECK(t.kept_blocks() < kept); }
  CHECK(t.kept_blocks() == kept);
}

TEST_CASE("structural hash is stable across tables and runs") {
  UOpTable t1, t2;
  auto build = [](UOpTable& t) { UOpRef x = t.var("x", 0, 7); return (x * 4 + t.cnst(dtypes::index, int64_t(3))) % 8; };
  UOpRef a = build(t1), b = build(t2);
  CHECK(a->hash == b->hash);
  // A fixed value: this must not change between processes or builds of the same version.
  CHECK(a->hash == build(t1)->hash);
  UOpRef c = t1.var("x", 0, 7) * 4;
  CHECK(c->hash != a->hash);
}

TEST_CASE("dtype promotion follows tinygrad's lattice") {
  using namespace dtypes;
  CHECK(least_upper_dtype(int8, uint8) == int16);
  CHECK(least_upper_dtype(int32, float16) == float16);
  CHECK(least_upper_dtype(int64, uint64) == float16);
  CHECK(least_upper_dtype(float16, bfloat16) == float32);
  CHECK(least_upper_dtype(bool_, int8) == int8);
  CHECK(least_upper_dtype(uint32, int32) == int64);
  CHECK(least_upper_dtype(uint16, int8) == int32);
  CHECK(least_upper_dtype(float32, float64) == float64);
  CHECK(least_upper_dtype(bool_, bool_) == bool_);
  CHECK(int32.itemsize() == 4);
  CHECK(float16.vec(4).itemsize() == 8);
  CHECK(float32.ptr(16).name() == "float32*[16]");
  CHECK(int_max(Scalar::UInt64) == (i128(1) << 64) - 1);
  CHECK(int_min(Scalar::Int8) == -128);
}

TEST_CASE("half and bfloat16 conversions round to nearest even") {
  CHECK(float_to_half(1.0f) == 0x3c00);
  CHECK(float_to_half(65504.0f) == 0x7bff);
  CHECK(float_to_half(65520.0f) == 0x7c00);          // rounds up to inf
  CHECK(float_to_half(1.0f + 1.0f / 2048) == 0x3c00);  // tie to even
  CHECK(float_to_half(5.960464477539063e-08f) == 0x0001);  // smallest subnormal
  CHECK(half_to_float(0x0001) == doctest::Approx(5.960464477539063e-08));
  CHECK(half_to_float(0xc000) == -2.0f);
  CHECK(float_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_float(float_to_bf16(3.14159f)) == 3.140625f);
}

TEST_CASE("constant evaluation uses C semantics") {
  auto ev = [](Ops op, DType dt, int64_t a, int64_t b) {
    Arg v[2] = {int64_t(a), int64_t(b)};
    auto r = exec_alu(op, dt, dt, v);
    return r ? std::optional<int64_t>(std::get<int64_t>(*r)) : std::nullopt;
  };
  CHECK(ev(Ops::IDIV, dtypes::int32, -7, 2) == -3);
  CHECK(ev(Ops::MOD, dtypes::int32, -7, 2) == -1);
  CHECK(ev(Ops::MOD, dtypes::int32, 7, -2) == 1);
  CHECK(ev(Ops::IDIV, dtypes::int32, 1, 0) == std::nullopt);
  CHECK(ev(Ops::IDIV, dtypes::int32, INT32_MIN, -1) == INT32_MIN);
  CHECK(ev(Ops::ADD, dtypes::int8, 127, 1) == -128);
  CHECK(ev(Ops::MUL, dtypes::uint8, 16, 17) == 16);
  CHECK(ev(Ops::SUB, dtypes::uint32, 0, 1) == 0xffffffff);
  CHECK(ev(Ops::SHL, dtypes::int32, 1, 31) == INT32_MIN);
  CHECK(ev(Ops::SHL, dtypes::int32, 1, 32) == std::nullopt);
  CHECK(ev(Ops::SHR, dtypes::int32, -8, 1) == -4);
  CHECK(ev(Ops::POW, dtypes::int32, 3, 4) == 81);
  Arg big[2] = {int64_t(-1), int64_t(1)};  // uint64: -1 is 2^64-1, not below 1
  CHECK(std::get<int64_t>(*exec_alu(Ops::CMPLT, dtypes::bool_, dtypes::uint64, big)) == 0);
  // float -> int saturates, NaN -> 0; float32 arithmetic rounds to float32
  CHECK(std::get<int64_t>(exec_cast(Arg(1e10), dtypes::float32, dtypes::int32)) == INT32_MAX);
  CHECK(std::get<int64_t>(exec_cast(Arg(std::nan("")), dtypes::float32, dtypes::int32)) == 0);
  CHECK(std::get<int64_t>(exec_cast(Arg(-2.7), dtypes::float64, dtypes::int32)) == -2);
  CHECK(std::get<int64_t>(exec_cast(Arg(int64_t(300)), dtypes::int32, dtypes::uint8)) == 44);
  Arg f[2] = {0.1, 0.2};
  CHECK(std::get<double>(*exec_alu(Ops::ADD, dtypes::float32, dtypes::float32, f)) == double(0.1f + 0.2f));
  Arg one[1] = {int64_t(0x3f800000)};
  CHECK(std::get<double>(*exec_bitcast(one[0], dtypes::int32, dtypes::float32)) == 1.0);
}

TEST_CASE("value ranges of integer expressions") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 10), y = t.var("y", -3, 5);
  CHECK((x + y)->vmin() == -3);
  CHECK((x + y)->vmax() == 15);
  CHECK((x * y)->vmin() == -30);
  CHECK((x * y)->vmax() == 50);
  CHECK((x % 4)->vmax() == 3);
  CHECK((y % 4)->vmin() == -3);
  CHECK((x / 3)->vmax() == 3);
  CHECK(lt(x, t.cnst(dtypes::index, int64_t(11)))->vmin() == 1);
  CHECK(!(x * 4)->may_wrap());
  UOpRef b = t.var("b", 0, 200, dtypes::uint8);
  UOpRef w = b * 2;  // uint8: may pass 255
  CHECK(w->may_wrap());
  CHECK(w->vmin() == 0);
  CHECK(w->vmax() == 255);
  CHECK((w + 1)->may_wrap());  // wrapping below is remembered above
}

TEST_CASE("shapes of tensor-level ops") {
  UOpTable t;
  UOpRef buf = t.make(Ops::BUFFER, dtypes::float32, {}, int64_t(6));
  UOpRef r = t.make(Ops::RESHAPE, dtypes::float32, {buf}, std::vector<int64_t>{2, 3});
  UOpRef p = t.make(Ops::PERMUTE, dtypes::float32, {r}, std::vector<int64_t>{1, 0});
  UOpRef pad = t.make(Ops::PAD, dtypes::float32, {p}, std::vector<int64_t>{1, 0, 0, 2});
  UOpRef red = t.make(Ops::REDUCE_AXIS, dtypes::float32, {pad}, ReduceArg{Ops::ADD, {1}});
  CHECK(*p->shape() == Shape{3, 2});
  CHECK(*pad->shape() == Shape{4, 4});
  CHECK(*red->shape() == Shape{4, 1});
  CHECK((p + p)->shape() != nullptr);
  CHECK_THROWS_WITH_AS((p + r)->shape(), doctest::Contains("ADD: operand shapes {3, 2} and {2, 3} differ"), Error);
  CHECK(t.var("i", 0, 3)->shape() != nullptr);
  CHECK(sink({red})->shape() == nullptr);
}

TEST_CASE("printing: one line per node, shared nodes once") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 10);
  UOpRef s = x * 4;
  UOpRef e = (s + s) / 2;
  CHECK(render(e) == "(((x*4)+(x*4))//2)");
  CHECK(print_graph(e) ==
        "%0 = DEFINE_VAR index ('x', 0, 10)\n"
        "%1 = CONST index 4\n"
        "%2 = MUL index %0 %1\n"
        "%3 = ADD index %2 %2\n"
        "%4 = CONST index 2\n"
        "%5 = IDIV index %3 %4\n");
}

TEST_CASE("value ranges stay exact at the edges of uint64; variables must fit their dtype") {
  UOpTable t;
  UOpRef x = t.var("x", 0, INT64_MAX, dtypes::uint64);
  UOpRef big = (x + x) * t.cnst(dtypes::uint64, int64_t(-1));  // may wrap: the full range, no overflow
  CHECK(big->vmin() == 0);
  CHECK(big->vmax() == int_max(Scalar::UInt64));
  CHECK(big->may_wrap());
  CHECK_THROWS_WITH_AS(t.var("u", -5, 5, dtypes::uint8), doctest::Contains("do not fit uint8"), Error);
  CHECK_THROWS_WITH_AS(t.var("b", 0, 2, dtypes::bool_), doctest::Contains("do not fit bool"), Error);
  CHECK(render(t.cnst(dtypes::uint64, int64_t(-1))) == "18446744073709551615");
  CHECK(print_graph(t.cnst(dtypes::uint64, int64_t(-1))) == "%0 = CONST uint64 18446744073709551615\n");
}

TEST_CASE("sources read like a vector; up to two live in the node, more beside it") {
  UOpTable t;
  UOpRef a = t.var("a", 0, 9), b = t.var("b", 0, 9), c = t.var("c", 0, 9);
  UOpRef two = a + b, three = sink({a, b, c, a});
  CHECK(two->src.size() == 2);
  CHECK(three->src.size() == 4);
  CHECK(three->src[3] == a);
  CHECK(three->src.front() == a);
  CHECK(three->src.back() == a);
  CHECK(two->src.at(1) == b);
  CHECK_THROWS_AS(two->src.at(2), std::out_of_range);
  std::vector<UOpRef> v = three->src;  // converts, as a vector would copy
  CHECK(v.size() == 4);
  CHECK(three->src == v);
  CHECK(std::vector<UOpRef>(two->src.begin(), two->src.end()) == std::vector<UOpRef>{a, b});
  size_t n = 0;
  for (const UOpRef& s : three->src) n += s == a;
  CHECK(n == 2);
  CHECK(t.var("z", 0, 1)->src.empty());
  // the sources are held: dropping the expressions frees what only they used
  size_t live = t.live();
  { UOpRef tmp = sink({a + c, b + c, a + b + c}); }
  CHECK(t.live() == live);
}

TEST_CASE("memos: kept with their node by key, freed with it") {
  struct Note : UOp::Memo {
    explicit Note(const void* key, int v, int* freed) : UOp::Memo(key), v(v), freed(freed) {}
    ~Note() override { ++*freed; }
    int v;
    int* freed;
  };
  static const char key_a = 0, key_b = 0;  // keys: addresses only (never written)
  UOpTable t;
  int freed = 0;
  {
    UOpRef x = t.var("x", 0, 9) + 1;
    CHECK(x->memo(&key_a) == nullptr);
    x->add_memo<Note>(&key_a, 1, &freed);
    x->add_memo<Note>(&key_b, 2, &freed);
    CHECK(static_cast<Note*>(x->memo(&key_a))->v == 1);
    CHECK(static_cast<Note*>(x->memo(&key_b))->v == 2);
    CHECK(freed == 0);
  }
  CHECK(freed == 2);
}

TEST_CASE("ids are unique and grow; a freed node's id is not reused") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9);
  uint64_t first = t.next_id();
  UOpRef y = x + 1;
  CHECK(y->id >= first);
  CHECK(t.next_id() > y->id);
  uint64_t old = y->id;
  y = nullptr;
  UOpRef z = x + 1;  // the same structure again, maybe at the same address: a new id
  CHECK(z->id > old);
}

TEST_CASE("node marks: flags for one walk, unmarked again in the next, cleared when epochs wrap") {
  UOpTable t;
  UOpRef x = t.var("x", 0, 9), y = x + 1, z = y * 2;
  {
    NodeMarks m(t);
    CHECK(!m.has(x.get(), 1));
    CHECK(m.add(x.get(), 1));
    CHECK(!m.add(x.get(), 1));  // already there
    CHECK(m.add(x.get(), 4));   // another flag of the same node
    CHECK(m.has(x.get(), 1));
    CHECK(m.has(x.get(), 4));
    CHECK(!m.has(x.get(), 2));
    CHECK(!m.has(y.get(), 1));
    CHECK(m.add(y.get(), 2));
    CHECK_THROWS_WITH_AS(NodeMarks{t}, doctest::Contains("already marking"), Error);  // one walk at a time
  }
  {
    NodeMarks m(t);  // a new walk: nothing marked, with no clearing
    CHECK(!m.has(x.get(), 1));
    CHECK(!m.has(x.get(), 4));
    CHECK(!m.has(y.get(), 2));
  }
  UOpTable other;
  { NodeMarks a(t), b(other); }  // walks of two tables may overlap
  // Marked in one walk, then 4,094 walks that mark nothing: the epochs wrap and a walk takes the
  // first epoch again, which must not find the old flags.
  bool stale = false;
  {
    NodeMarks m(t);
    m.add(z.get(), 8);
  }
  for (int i = 0; i < 5000; i++) {
    NodeMarks m(t);
    stale = stale || m.has(z.get(), 8);
  }
  CHECK(!stale);
}
