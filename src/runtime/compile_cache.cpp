// CompileCache: a map in memory, and one file per key under the cache dir.
// Files are checked in full before they are trusted (see the format below).
#include "runtime/compile_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "uop/arg.h"

namespace mg {
namespace {

// File format, little-endian:
//   0  magic "MGPROG\0\0"        8  format version (u32)   12 key length (u32)
//   16 value length (u64)        24 checksum (u64) of lengths, key and value
//   32 key bytes, then value bytes; the file ends exactly there.
// The full key is stored because the file name is only a hash of it.
constexpr char kMagic[8] = {'M', 'G', 'P', 'R', 'O', 'G', 0, 0};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeader = 32;

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const std::string& in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= uint64_t(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

uint64_t checksum(const std::string& key, const char* value, size_t value_len) {
  uint64_t h = hash_mix(hash_mix(0x6d67636163686531ull, key.size()), value_len);
  return hash_bytes(value, value_len, hash_bytes(key.data(), key.size(), h));
}

std::string hex(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; i--, v >>= 4) s[i] = digits[v & 15];
  return s;
}

// The whole file, or nothing if it cannot be opened or read.
std::optional<std::string> slurp(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  std::optional<std::string> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    std::string buf(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < buf.size()) {
      ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    if (got == buf.size()) out = std::move(buf);
  }
  ::close(fd);
  return out;
}

bool write_all(int fd, const std::string& data) {
  size_t put = 0;
  while (put < data.size()) {
    ssize_t w = ::write(fd, data.data() + put, data.size() - put);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    put += static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

CompileCache::CompileCache(std::string dir, int level) {
  if (level <= 0 || dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // Not there and not makeable (a file in the way, no permission): memory only.
  if (!ec && std::filesystem::is_directory(dir, ec)) dir_ = std::move(dir);
}

std::string CompileCache::path_for(const std::string& key) const {
  if (dir_.empty()) return "";
  // 128 bits of hash: two keys sharing a file is not expected, and harmless
  // (the stored key is compared), but would make them evict each other.
  return dir_ + "/" + hex(hash_bytes(key.data(), key.size(), 1)) +
         hex(hash_bytes(key.data(), key.size(), 2)) + ".prog";
}

std::optional<std::string> CompileCache::get(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = mem_.find(key);
    if (it != mem_.end()) {
      stats_.memory_hits++;
      return it->second;
    }
  }
  bool rejected = false;
  std::optional<std::string> v = disk_enabled() ? read_file(key, rejected) : std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.disk_rejects += rejected;
  if (!v) {
    stats_.misses++;
    return std::nullopt;
  }
  stats_.disk_hits++;
  mem_.insert_or_assign(key, *v);
  return v;
}

void CompileCache::put(const std::string& key, const std::string& value) {
  bool wrote = disk_enabled() && write_file(key, value);
  std::lock_guard<std::mutex> lock(mu_);
  mem_.insert_or_assign(key, value);
  if (disk_enabled()) (wrote ? stats_.disk_writes : stats_.disk_write_errors)++;
}

std::optional<std::string> CompileCache::read_file(const std::string& key, bool& rejected) const {
  std::optional<std::string> file = slurp(path_for(key));
  if (!file) return std::nullopt;  // no file: a plain miss
  const std::string& f = *file;
  rejected = true;  // until every check has passed
  if (f.size() < kHeader || std::memcmp(f.data(), kMagic, sizeof kMagic) != 0) return std::nullopt;
  if (get_le(f, 8, 4) != kVersion) return std::nullopt;
  uint64_t klen = get_le(f, 12, 4), vlen = get_le(f, 16, 8);
  // Lengths from the file are not trusted: compared with the real size, without overflow.
  if (klen != key.size() || klen > f.size() - kHeader || vlen != f.size() - kHeader - klen) return std::nullopt;
  if (f.compare(kHeader, klen, key) != 0) return std::nullopt;  // another key with the same file name
  const char* value = f.data() + kHeader + klen;
  if (get_le(f, 24, 8) != checksum(key, value, vlen)) return std::nullopt;
  rejected = false;
  return std::string(value, vlen);
}

bool CompileCache::write_file(const std::string& key, const std::string& value) const {
  if (key.size() > 0xffffffffu) return false;  // the header has 32 bits for it
  std::string data;
  data.reserve(kHeader + key.size() + value.size());
  data.append(kMagic, sizeof kMagic);
  put_le(data, kVersion, 4);
  put_le(data, key.size(), 4);
  put_le(data, value.size(), 8);
  put_le(data, checksum(key, value.data(), value.size()), 8);
  data += key;
  data += value;

  // Write a temporary file beside the target, then rename it over the target:
  // readers (other threads, other processes) see the old file or the new one,
  // never half of one. No fsync: a file cut short by a crash fails the checks.
  const std::string path = path_for(key);
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return false;
  bool ok = write_all(fd, data);
  ok = (::close(fd) == 0) && ok;
  ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) ::unlink(tmp.c_str());
  return ok;
}

CompileCacheStats CompileCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::string CompileCache::default_dir(const char* xdg_cache_home, const char* home) {
  // The XDG base directory spec: a relative XDG_CACHE_HOME is invalid and ignored.
  if (xdg_cache_home && xdg_cache_home[0] == '/') return std::string(xdg_cache_home) + "/moongrad";
  if (home && home[0] != '\0') return std::string(home) + "/.cache/moongrad";
  return "";
}

std::string CompileCache::default_dir() {
  return default_dir(std::getenv("XDG_CACHE_HOME"), std::getenv("HOME"));
}

int CompileCache::default_level() {
  const char* s = std::getenv("CACHELEVEL");
  if (!s || !*s) return 1;
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (*end != '\0') return 1;  // not a number: the default
  return v <= 0 ? 0 : static_cast<int>(std::min(v, 100L));
}

}  // namespace mg
