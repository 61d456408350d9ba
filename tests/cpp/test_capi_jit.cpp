// The jit through the C ABI (docs/jit.md): a capture and replays from a C++ host, an assign
// that is not an output, and every misuse as a status with a message.
#include "capi/moongrad.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {
bool contains(const char* hay, const char* needle) { return hay && std::strstr(hay, needle) != nullptr; }

mg_tensor* floats(mg_ctx* ctx, std::vector<float> v) {
  const int64_t n = int64_t(v.size());
  mg_tensor* t = nullptr;
  REQUIRE(mg_tensor_from_host(ctx, v.data(), MG_FLOAT32, &n, 1, "CPU", &t) == MG_OK);
  return t;
}

std::vector<float> values(mg_ctx* ctx, mg_tensor* t, size_t n) {
  std::vector<float> v(n);
  REQUIRE(mg_tensor_copyout(ctx, t, v.data(), n * sizeof(float)) == MG_OK);
  return v;
}

// The function: returns x * w, and assigns w + x to w.
mg_tensor* body(mg_ctx* ctx, mg_tensor* x, mg_tensor* w) {
  mg_tensor *y = nullptr, *next = nullptr;
  mg_tensor* src[2] = {x, w};
  REQUIRE(mg_tensor_alu(ctx, MG_OP_MUL, src, 2, &y) == MG_OK);
  REQUIRE(mg_tensor_alu(ctx, MG_OP_ADD, src, 2, &next) == MG_OK);
  REQUIRE(mg_tensor_assign(ctx, w, next) == MG_OK);
  mg_tensor_release(next);
  return y;
}
}  // namespace

TEST_CASE("jit C ABI: capture once, replay with new arguments, the assign runs every call") {
  mg_ctx* ctx = nullptr;
  REQUIRE(mg_ctx_create(nullptr, &ctx) == MG_OK);
  mg_tensor* w = floats(ctx, {1, 2});
  REQUIRE(mg_realize(ctx, &w, 1) == MG_OK);
  const void* wptr = nullptr;
  REQUIRE(mg_tensor_ptr(ctx, w, &wptr) == MG_OK);
  int64_t id = 0;
  REQUIRE(mg_jit_new(ctx, &id) == MG_OK);
  mg_tensor* x = floats(ctx, {1, 1});
  REQUIRE(mg_jit_begin(ctx, id, &x, 1) == MG_OK);
  mg_tensor* y = body(ctx, x, w);
  int replayable = -1;
  REQUIRE(mg_jit_end(ctx, id, &y, 1, &replayable) == MG_OK);
  CHECK(replayable == 1);
  CHECK(std::string(mg_jit_why(ctx, id)).empty());
  CHECK(values(ctx, y, 2) == std::vector<float>{1, 2});
  CHECK(values(ctx, w, 2) == std::vector<float>{2, 3});  // realized by mg_jit_end, not returned
  mg_tensor_release(y);
  mg_jit_info info{};
  REQUIRE(mg_jit_get_info(ctx, id, &info) == MG_OK);
  CHECK(info.kernels == 2);
  float wv[2] = {2, 3};
  for (float k = 2; k <= 4; k++) {
    mg_tensor* xk = floats(ctx, {k, -k});
    mg_tensor* out = nullptr;
    REQUIRE(mg_jit_replay(ctx, id, &xk, 1, &out, 1) == MG_OK);
    CHECK(values(ctx, out, 2) == std::vector<float>{k * wv[0], -k * wv[1]});
    wv[0] += k;
    wv[1] -= k;
    CHECK(values(ctx, w, 2) == std::vector<float>{wv[0], wv[1]});
    mg_tensor_release(out);
    mg_tensor_release(xk);
  }
  const void* wptr2 = nullptr;
  REQUIRE(mg_tensor_ptr(ctx, w, &wptr2) == MG_OK);
  CHECK(wptr2 == wptr);  // the replays wrote w's own memory
  REQUIRE(mg_jit_free(ctx, id) == MG_OK);
  mg_tensor_release(x);
  mg_tensor_release(w);
  mg_ctx_destroy(ctx);
}

TEST_CASE("jit C ABI: misuse is a status with a message, and the context stays usable") {
  mg_ctx* ctx = nullptr;
  REQUIRE(mg_ctx_create(nullptr, &ctx) == MG_OK);
  int64_t id = 0;
  CHECK(mg_jit_new(nullptr, &id) == MG_ERR_INVALID);
  CHECK(mg_jit_new(ctx, nullptr) == MG_ERR_INVALID);
  CHECK(mg_jit_begin(ctx, 999, nullptr, 0) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "no jit with id 999"));
  CHECK(mg_jit_why(ctx, 999) == nullptr);
  REQUIRE(mg_jit_new(ctx, &id) == MG_OK);
  mg_tensor* x = floats(ctx, {1, 2});
  mg_tensor* out = nullptr;
  CHECK(mg_jit_replay(ctx, id, &x, 1, &out, 1) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "nothing captured"));
  CHECK(out == nullptr);
  CHECK(mg_jit_end(ctx, id, &x, 1, nullptr) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "end without begin"));
  CHECK(mg_jit_begin(ctx, id, nullptr, 1) == MG_ERR_INVALID);
  REQUIRE(mg_jit_begin(ctx, id, &x, 1) == MG_OK);
  int64_t other = 0;
  REQUIRE(mg_jit_new(ctx, &other) == MG_OK);
  CHECK(mg_jit_begin(ctx, other, &x, 1) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "a capture is already running"));
  mg_tensor* y = nullptr;
  mg_tensor* src[2] = {x, x};
  REQUIRE(mg_tensor_alu(ctx, MG_OP_ADD, src, 2, &y) == MG_OK);
  CHECK(mg_jit_end(ctx, id, &y, -1, nullptr) == MG_ERR_INVALID);  // aborts the capture
  CHECK(mg_jit_begin(ctx, other, &x, 1) == MG_OK);                 // so a new one may start
  int ok = 0;
  REQUIRE(mg_jit_end(ctx, other, &y, 1, &ok) == MG_OK);
  CHECK(ok == 1);
  mg_tensor* two[2] = {nullptr, nullptr};
  CHECK(mg_jit_replay(ctx, other, &x, 1, two, 2) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "1 output(s), nout is 2"));
  CHECK((two[0] == nullptr && two[1] == nullptr));
  mg_tensor* x3 = floats(ctx, {1, 2, 3});
  CHECK(mg_jit_replay(ctx, other, &x3, 1, &out, 1) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "argument 1 is {3} float32 on CPU, but was captured as {2} float32 on CPU"));
  CHECK(mg_jit_replay(ctx, other, nullptr, 0, &out, 1) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "called with 0 tensor argument(s), captured with 1"));
  REQUIRE(mg_jit_replay(ctx, other, &x, 1, &out, 1) == MG_OK);
  CHECK(values(ctx, out, 2) == std::vector<float>{2, 4});
  mg_tensor_release(out);
  CHECK(mg_jit_free(ctx, other) == MG_OK);
  CHECK(mg_jit_free(ctx, other) == MG_ERR_INVALID);
  for (mg_tensor* t : {x, y, x3}) mg_tensor_release(t);
  mg_ctx_destroy(ctx);  // frees the jit never freed (id)
}
