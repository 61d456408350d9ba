// Variables through the C ABI (docs/variables.md): a size given by a variable, its values bound
// per call, and every misuse (bad names and bounds, forged dims, values out of range) as a
// status with a message that leaves the context usable.
#include "capi/moongrad.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

namespace {
bool contains(const char* hay, const char* needle) { return hay && std::strstr(hay, needle) != nullptr; }

// Sum of the first n of 0, 1, ..., 9, with n the variable `dim`.
mg_tensor* first_sum(mg_ctx* ctx, mg_tensor* x, int64_t dim) {
  const int64_t lohi[2] = {0, dim};
  const int64_t axis = 0;
  mg_tensor *s = nullptr, *r = nullptr;
  REQUIRE(mg_tensor_movement(ctx, MG_SHRINK, x, lohi, 2, &s) == MG_OK);
  REQUIRE(mg_tensor_reduce(ctx, MG_REDUCE_SUM, s, &axis, 1, &r) == MG_OK);
  mg_tensor_release(s);
  return r;
}
}  // namespace

TEST_CASE("variable C ABI: one graph evaluated at each bound value") {
  mg_ctx* ctx = nullptr;
  REQUIRE(mg_ctx_create(nullptr, &ctx) == MG_OK);
  std::vector<int32_t> data{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const int64_t ten = 10;
  mg_tensor* x = nullptr;
  REQUIRE(mg_tensor_from_host(ctx, data.data(), MG_INT32, &ten, 1, "CPU", &x) == MG_OK);
  int64_t n = 0, again = 0;
  REQUIRE(mg_variable(ctx, "n", 1, 10, &n) == MG_OK);
  REQUIRE(mg_variable(ctx, "n", 1, 10, &again) == MG_OK);
  CHECK(again == n);
  for (int64_t v : {1, 4, 10}) {
    REQUIRE(mg_variable_bind(ctx, n, v) == MG_OK);
    mg_tensor* r = first_sum(ctx, x, n);
    int32_t got = -1;
    REQUIRE(mg_tensor_copyout(ctx, r, &got, sizeof got) == MG_OK);
    CHECK(got == v * (v - 1) / 2);
    mg_tensor_release(r);
  }
  const char* name = nullptr;
  int64_t lo = 0, hi = 0, value = 0;
  int bound = 0;
  REQUIRE(mg_variable_info(ctx, n, &name, &lo, &hi, &value, &bound) == MG_OK);
  CHECK(std::strcmp(name, "n") == 0);
  CHECK(lo == 1);
  CHECK(hi == 10);
  CHECK(value == 10);
  CHECK(bound == 1);
  mg_tensor_release(x);
  mg_ctx_destroy(ctx);
}

TEST_CASE("variable C ABI: bad input is a status with a message") {
  mg_ctx* ctx = nullptr;
  REQUIRE(mg_ctx_create(nullptr, &ctx) == MG_OK);
  int64_t n = 0;
  CHECK(mg_variable(ctx, nullptr, 1, 4, &n) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "name must be"));
  CHECK(mg_variable(ctx, "9lives", 1, 4, &n) == MG_ERR_INVALID);
  CHECK(mg_variable(ctx, "a-b", 1, 4, &n) == MG_ERR_INVALID);
  CHECK(mg_variable(ctx, "n", 4, 1, &n) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "0 <= lo <= hi"));
  CHECK(mg_variable(ctx, "n", 1, 4, nullptr) == MG_ERR_INVALID);
  REQUIRE(mg_variable(ctx, "n", 1, 4, &n) == MG_OK);
  CHECK(mg_variable(ctx, "n", 1, 5, &n) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "exists with bounds [1, 4]"));
  CHECK(mg_variable_bind(ctx, n, 5) == MG_ERR_INDEX);
  CHECK(contains(mg_last_error(ctx), "outside its bounds [1, 4]"));
  // dims that name no variable: forged encodings and plain negative sizes
  const int64_t forged = n + 1000, negative = -3;
  CHECK(mg_variable_bind(ctx, forged, 1) == MG_ERR_SHAPE);
  CHECK(mg_variable_info(ctx, 7, nullptr, nullptr, nullptr, nullptr, nullptr) == MG_ERR_SHAPE);
  mg_tensor* t = nullptr;
  CHECK(mg_tensor_full(ctx, 1.0, MG_FLOAT32, &forged, 1, "CPU", &t) == MG_ERR_SHAPE);
  CHECK(mg_tensor_full(ctx, 1.0, MG_FLOAT32, &negative, 1, "CPU", &t) == MG_ERR_SHAPE);
  CHECK(contains(mg_last_error(ctx), "negative size"));
  std::vector<float> host(4, 1.0f);
  CHECK(mg_tensor_from_host(ctx, host.data(), MG_FLOAT32, &n, 1, "CPU", &t) == MG_ERR_SHAPE);
  CHECK(contains(mg_last_error(ctx), "cannot have a variable size"));
  // a shape of n, unbound: realizing it says so; bound, it reads n values
  REQUIRE(mg_tensor_full(ctx, 2.0, MG_FLOAT32, &n, 1, "CPU", &t) == MG_OK);
  float out[4] = {};
  CHECK(mg_realize(ctx, &t, 1) == MG_ERR_INVALID);
  CHECK(contains(mg_last_error(ctx), "'n' is not bound"));
  REQUIRE(mg_variable_bind(ctx, n, 3) == MG_OK);
  CHECK(mg_tensor_copyout(ctx, t, out, 4 * sizeof(float)) == MG_ERR_INVALID);  // 3 values, not 4
  REQUIRE(mg_tensor_copyout(ctx, t, out, 3 * sizeof(float)) == MG_OK);
  CHECK(out[2] == 2.0f);
  int64_t shape = 0;
  REQUIRE(mg_tensor_shape(ctx, t, &shape, 1) == MG_OK);
  CHECK(shape == 3);  // realized: the value it was realized with
  mg_tensor_release(t);
  mg_ctx_destroy(ctx);
}
