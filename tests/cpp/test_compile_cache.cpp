// The compiled-program cache (src/runtime/compile_cache.h): memory, disk, and
// files that must not be trusted.
#include "runtime/compile_cache.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mg_cache_test_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

std::string read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << data;
}
size_t files_in(const fs::path& dir) {
  size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) n++;
  return n;
}

// A value with every byte value in it, NULs included.
std::string binary_value(size_t n) {
  std::string v(n, '\0');
  for (size_t i = 0; i < n; i++) v[i] = static_cast<char>((i * 131 + 7) & 0xff);
  return v;
}

}  // namespace

TEST_CASE("compile cache: a value put is found in memory") {
  mg::CompileCache c("", 1);  // no dir: memory only
  CHECK(!c.disk_enabled());
  CHECK(!c.get("k1").has_value());
  c.put("k1", binary_value(100));
  auto v = c.get("k1");
  REQUIRE(v.has_value());
  CHECK(*v == binary_value(100));
  CHECK(!c.get("k2").has_value());
  c.put("k1", "replaced");
  CHECK(c.get("k1").value() == "replaced");
  auto s = c.stats();
  CHECK(s.memory_hits == 2);
  CHECK(s.misses == 2);
  CHECK(s.disk_hits == 0);
  CHECK(s.disk_writes == 0);
}

TEST_CASE("compile cache: a second cache on the same dir finds the value on disk") {
  TempDir d;
  const std::string value = binary_value(5000);
  {
    mg::CompileCache first(d.str(), 1);
    REQUIRE(first.disk_enabled());
    CHECK(!first.get("program A").has_value());
    first.put("program A", value);
    CHECK(first.stats().disk_writes == 1);
    CHECK(fs::exists(first.path_for("program A")));
  }
  mg::CompileCache second(d.str(), 1);
  auto v = second.get("program A");
  REQUIRE(v.has_value());
  CHECK(*v == value);
  CHECK(second.get("program A").value() == value);  // now from memory
  CHECK(!second.get("program B").has_value());
  auto s = second.stats();
  CHECK(s.disk_hits == 1);
  CHECK(s.memory_hits == 1);
  CHECK(s.misses == 1);
  CHECK(s.disk_rejects == 0);
  CHECK(files_in(d.path) == 1);  // no temporary file left behind

  // An empty value and an empty key are values like any other.
  second.put("", "");
  mg::CompileCache third(d.str(), 1);
  auto e = third.get("");
  REQUIRE(e.has_value());
  CHECK(e->empty());
}

TEST_CASE("compile cache: truncated, corrupted or foreign files are ignored and rewritten") {
  TempDir d;
  const std::string key = "kernel r_16_4 | target x", value = binary_value(3000);
  std::string path, good;
  {
    mg::CompileCache c(d.str(), 1);
    c.put(key, value);
    path = c.path_for(key);
    good = read_bytes(path);
  }
  REQUIRE(good.size() == 32 + key.size() + value.size());

  auto fresh_get = [&](const std::string& file_bytes) {
    write_bytes(path, file_bytes);
    mg::CompileCache c(d.str(), 1);  // a new one: nothing in memory
    auto v = c.get(key);
    auto s = c.stats();
    CHECK(s.disk_hits == (v ? 1u : 0u));
    CHECK(s.disk_rejects == (v ? 0u : 1u));
    return v;
  };

  CHECK(fresh_get(good).value() == value);  // the untouched file is good
  // Cut short anywhere: in the header, in the key, in the value, one byte short.
  for (size_t len : {size_t(0), size_t(7), size_t(31), size_t(40), good.size() / 2, good.size() - 1})
    CHECK(!fresh_get(good.substr(0, len)).has_value());
  CHECK(!fresh_get(good + "x").has_value());  // trailing bytes
  // One bit flipped: in the magic, the version, a length, the checksum, the key, the value.
  for (size_t at : {size_t(0), size_t(8), size_t(17), size_t(24), size_t(40), good.size() - 100}) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x04);
    CHECK(!fresh_get(bad).has_value());
  }
  // A valid file for another key under this key's name (a hash collision).
  {
    TempDir other;
    mg::CompileCache o(other.str(), 1);
    o.put("some other key", value);
    CHECK(!fresh_get(read_bytes(o.path_for("some other key"))).has_value());
  }

  // After a rejected file, put rewrites it and it is trusted again.
  write_bytes(path, good.substr(0, 100));
  mg::CompileCache c(d.str(), 1);
  CHECK(!c.get(key).has_value());
  c.put(key, value);
  CHECK(read_bytes(path) == good);
  mg::CompileCache again(d.str(), 1);
  CHECK(again.get(key).value() == value);
}

TEST_CASE("compile cache: level 0 writes nothing") {
  TempDir d;
  mg::CompileCache c(d.str(), 0);
  CHECK(!c.disk_enabled());
  CHECK(c.path_for("k").empty());
  c.put("k", "v");
  CHECK(c.get("k").value() == "v");  // memory still works
  CHECK(files_in(d.path) == 0);
  CHECK(c.stats().disk_writes == 0);
  // A level-1 cache on the same dir does not see it.
  mg::CompileCache disk(d.str(), 1);
  CHECK(!disk.get("k").has_value());
}

TEST_CASE("compile cache: a dir that cannot be made leaves a working memory cache") {
  TempDir d;
  write_bytes((d.path / "a_file").string(), "x");
  // A regular file where a directory should be: fails even for root.
  mg::CompileCache c((d.path / "a_file" / "cache").string(), 1);
  CHECK(!c.disk_enabled());
  c.put("k", "v");
  CHECK(c.get("k").value() == "v");
  CHECK(c.stats().disk_write_errors == 0);
}

TEST_CASE("compile cache: a missing dir is created") {
  TempDir d;
  fs::path nested = d.path / "x" / "y" / "moongrad";
  mg::CompileCache c(nested.string(), 1);
  CHECK(c.disk_enabled());
  CHECK(fs::is_directory(nested));
  c.put("k", "v");
  CHECK(files_in(nested) == 1);
}

TEST_CASE("compile cache: the default dir follows XDG_CACHE_HOME, then HOME") {
  using mg::CompileCache;
  CHECK(CompileCache::default_dir("/xdg", "/home/u") == "/xdg/moongrad");
  CHECK(CompileCache::default_dir(nullptr, "/home/u") == "/home/u/.cache/moongrad");
  CHECK(CompileCache::default_dir("", "/home/u") == "/home/u/.cache/moongrad");
  CHECK(CompileCache::default_dir("relative", "/home/u") == "/home/u/.cache/moongrad");  // XDG: ignored
  CHECK(CompileCache::default_dir(nullptr, nullptr).empty());
  CHECK(CompileCache::default_dir(nullptr, "").empty());
}

TEST_CASE("compile cache: writers and readers at once see whole values or none") {
  // Two instances on one dir stand for two processes; each thread rewrites the
  // same keys while fresh instances read them. A reader must never get a torn file.
  TempDir d;
  const std::string big = binary_value(200000);
  mg::CompileCache a(d.str(), 1), b(d.str(), 1);
  std::atomic<int> torn{0}, found{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 30; i++) {
        std::string key = "k" + std::to_string(i % 3);
        if (t < 2) {
          (t == 0 ? a : b).put(key, big);
        } else {
          mg::CompileCache reader(d.str(), 1);
          auto v = reader.get(key);
          if (v) (*v == big ? found : torn)++;
          torn += static_cast<int>(reader.stats().disk_rejects);
        }
      }
    });
  }
  for (auto& th : ts) th.join();
  CHECK(torn.load() == 0);
  CHECK(files_in(d.path) == 3);  // one per key, no temporary left
  mg::CompileCache last(d.str(), 1);
  CHECK(last.get("k2").value() == big);
}
