// The C ABI seen from a C++ host: contexts, errors, status names, callbacks.
#include "capi/moongrad.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

bool contains(const char* hay, const char* needle) { return hay && std::strstr(hay, needle) != nullptr; }

// Records what the library asks of a host's callbacks.
struct Host {
  int allocs = 0, frees = 0;
  std::vector<std::string> logs;
};

void* host_alloc(void* user, size_t size, size_t align) {
  static_cast<Host*>(user)->allocs++;
  return std::aligned_alloc(align, (size + align - 1) / align * align);
}
void host_free(void* user, void* p) {
  static_cast<Host*>(user)->frees++;
  std::free(p);
}
void host_log(void* user, int, const char* msg) { static_cast<Host*>(user)->logs.emplace_back(msg); }

}  // namespace

TEST_CASE("mg_version matches the header's version macros") {
  const std::string want = std::to_string(MG_VERSION_MAJOR) + "." + std::to_string(MG_VERSION_MINOR) + "." +
                           std::to_string(MG_VERSION_PATCH);
  CHECK(std::string(mg_version()) == want);
}

TEST_CASE("create and destroy a context") {
  mg_ctx* ctx = nullptr;
  REQUIRE(mg_ctx_create(nullptr, &ctx) == MG_OK);
  REQUIRE(ctx != nullptr);
  CHECK(std::string(mg_last_error(ctx)).empty());
  CHECK(mg_device_count(ctx) >= 0);
  mg_ctx_destroy(ctx);
  mg_ctx_destroy(nullptr);  // documented no-op
}

TEST_CASE("two contexts are independent") {
  mg_ctx *a = nullptr, *b = nullptr;
  REQUIRE(mg_ctx_create(nullptr, &a) == MG_OK);
  REQUIRE(mg_ctx_create(nullptr, &b) == MG_OK);
  CHECK(a != b);
  CHECK(mg_device_name(a, 1000) == nullptr);
  CHECK(contains(mg_last_error(a), "mg_device_name"));
  CHECK(std::string(mg_last_error(b)).empty());
  mg_ctx_destroy(a);
  mg_ctx_destroy(b);
}

TEST_CASE("NULL out pointer gives MG_ERR_INVALID and a message naming mg_ctx_create") {
  Host host;
  mg_ctx_opts opts{};
  opts.user = &host;
  opts.log = host_log;
  CHECK(mg_ctx_create(&opts, nullptr) == MG_ERR_INVALID);
  REQUIRE(host.logs.size() == 1);
  CHECK(contains(host.logs[0].c_str(), "mg_ctx_create"));
  CHECK(mg_ctx_create(nullptr, nullptr) == MG_ERR_INVALID);  // no log callback: status only
  CHECK(contains(mg_last_error(nullptr), "NULL"));
}

TEST_CASE("mg_device_name out of range gives NULL and a message") {
  mg_ctx* ctx = nullptr;
  REQUIRE(mg_ctx_create(nullptr, &ctx) == MG_OK);
  const int n = mg_device_count(ctx);
  CHECK(mg_device_name(ctx, n) == nullptr);
  CHECK(contains(mg_last_error(ctx), "out of range"));
  CHECK(mg_device_name(ctx, -1) == nullptr);
  CHECK(contains(mg_last_error(ctx), "index -1"));
  CHECK(mg_device_name(nullptr, 0) == nullptr);
  CHECK(mg_device_count(nullptr) == -1);
  mg_ctx_destroy(ctx);
}

TEST_CASE("mg_status_name names every status") {
  const char* want[] = {"MG_OK",        "MG_ERR_INVALID", "MG_ERR_SHAPE", "MG_ERR_DTYPE",
                        "MG_ERR_INDEX", "MG_ERR_DEVICE",  "MG_ERR_IO",    "MG_ERR_FREED",
                        "MG_ERR_OOM",   "MG_ERR_COMPILE", "MG_ERR_INTERNAL"};
  for (int s = MG_OK; s <= MG_ERR_INTERNAL; s++) {
    CAPTURE(s);
    CHECK(std::string(mg_status_name(static_cast<mg_status>(s))) == want[s]);
  }
  CHECK(std::string(mg_status_name(static_cast<mg_status>(MG_ERR_INTERNAL + 1))) == "MG_ERR_UNKNOWN");
}

TEST_CASE("custom alloc, free and log callbacks are accepted and used") {
  Host host;
  mg_ctx_opts opts{};
  opts.user = &host;
  opts.alloc = host_alloc;
  opts.free = host_free;
  opts.log = host_log;
  mg_ctx* ctx = nullptr;
  REQUIRE(mg_ctx_create(&opts, &ctx) == MG_OK);
  CHECK(host.allocs >= 1);
  mg_ctx_destroy(ctx);
  CHECK(host.frees == host.allocs);

  SUBCASE("alloc without free is rejected") {
    opts.free = nullptr;
    CHECK(mg_ctx_create(&opts, &ctx) == MG_ERR_INVALID);
    CHECK(ctx == nullptr);
    CHECK(contains(host.logs.back().c_str(), "together"));
  }
}
