// Inside the C ABI: engine exceptions become MG_ERR_* statuses with their message.
#include <doctest/doctest.h>

#include "capi/context.h"

TEST_CASE("capi: engine errors become statuses with their message, nothing escapes") {
  mg_ctx* ctx = nullptr;
  REQUIRE(mg_ctx_create(nullptr, &ctx) == MG_OK);
  mg_status s = mg::capi::guarded(ctx, "mg_example", [&]() -> mg_status {
    mg::UOpRef x = ctx->engine.uops.var("x", 0, 3);
    mg::UOpRef buf = ctx->engine.uops.make(mg::Ops::BUFFER, mg::dtypes::float32, {}, int64_t(6));
    mg::UOpRef r = ctx->engine.uops.make(mg::Ops::RESHAPE, mg::dtypes::float32, {buf}, std::vector<int64_t>{2, 3});
    (void)(r + ctx->engine.uops.make(mg::Ops::RESHAPE, mg::dtypes::float32, {buf}, std::vector<int64_t>{3, 2}))->shape();
    return MG_OK;
  });
  CHECK(s == MG_ERR_SHAPE);
  CHECK(std::string(mg_last_error(ctx)) == "mg_example: ADD: operand shapes {2, 3} and {3, 2} differ");
  CHECK(mg::capi::guarded(ctx, "mg_bad", []() -> mg_status { throw mg::Error(mg::ErrorKind::Index, "index 5 out of range"); }) == MG_ERR_INDEX);
  CHECK(mg::capi::guarded(ctx, "mg_oops", []() -> mg_status { throw 42; }) == MG_ERR_INTERNAL);
  // The context's node table is empty again once the graph is dropped.
  CHECK(ctx->engine.uops.live() == 0);
  mg_ctx_destroy(ctx);
}
