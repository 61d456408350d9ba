// CompileCache: compiled programs (bytes) by key, in memory and in files, so a
// kernel is compiled once per machine rather than once per process. Keys are
// strings the caller makes from everything the bytes depend on (the source and
// the compiler's target key). See docs/runtime.md ("Compile cache").
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace mg {

struct CompileCacheStats {
  uint64_t memory_hits = 0;
  uint64_t disk_hits = 0;
  uint64_t misses = 0;
  uint64_t disk_writes = 0;
  uint64_t disk_rejects = 0;       // files found but ignored: truncated, corrupted, another key
  uint64_t disk_write_errors = 0;  // files that could not be written (the value stays in memory)
};

class CompileCache {
 public:
  // `dir`: where the files go (created if missing). `level` 0, or an empty dir,
  // keeps everything in memory only. A dir that cannot be created or written is
  // not an error: the cache then works from memory.
  CompileCache(std::string dir, int level);

  // The value stored under `key` in memory, else on disk (then kept in memory
  // too), else nothing. A file that fails any check counts as a miss.
  std::optional<std::string> get(const std::string& key);
  // Stores `value` under `key` in memory and, when on, on disk (atomically: a
  // reader sees the old file or the whole new one).
  void put(const std::string& key, const std::string& value);

  bool disk_enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }  // "" when memory-only
  CompileCacheStats stats() const;
  // The file that holds `key` ("" when memory-only); for tests and DEBUG output.
  std::string path_for(const std::string& key) const;

  // The default directory: $XDG_CACHE_HOME/moongrad, else $HOME/.cache/moongrad,
  // else "" (memory only). Pure, so tests can pass the environment in.
  static std::string default_dir(const char* xdg_cache_home, const char* home);
  static std::string default_dir();  // from this process's environment
  // CACHELEVEL from the environment: 0 turns the disk cache off; unset means 1.
  static int default_level();

 private:
  // File I/O, done without holding mu_. read_file sets `rejected` when a file
  // was there but failed a check.
  std::optional<std::string> read_file(const std::string& key, bool& rejected) const;
  bool write_file(const std::string& key, const std::string& value) const;

  std::string dir_;  // set once by the constructor
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> mem_;
  CompileCacheStats stats_;
};

}  // namespace mg
