// Slab: memory for objects of one size, carved from 64 KiB blocks. A freed object is reused
// by the next allocation of its block (still in cache), so the many short-lived nodes of a
// rewrite do not go through malloc each; a block whose objects are all freed goes back to the
// table's BlockPool.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mg {

// Empty blocks, shared by the slabs of one table. A rewrite's nodes and memos mostly die when
// it ends, and the next rewrite makes as many again: kept here, their blocks are not given
// back to the system and faulted in anew each time (about 1,000 page faults for a 12,000-node
// rewrite). It keeps at most as many empty blocks as are in use, and at least kMinKept, so
// dropping a big graph still returns most of its memory.
class BlockPool {
 public:
  static constexpr size_t kBlockBytes = 64 * 1024;  // a power of two: a block is found from its objects
  static constexpr size_t kMinKept = 64;             // 4 MiB
  BlockPool() = default;
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  void* get();
  void put(void* block);
  size_t kept() const { return kept_; }

 private:
  struct Spare { Spare* next; };
  void* pop();                   // the spare put last
  static void release(void* block);  // to the system
  Spare* spares_ = nullptr;
  size_t kept_ = 0, in_use_ = 0;
};

class Slab {
 public:
  Slab(size_t object_bytes, BlockPool& pool);
  ~Slab();
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  // Inline for the usual case: the block in front keeps room after this allocation, or is the
  // one freed into and keeps objects after this free.
  void* alloc() {
    Block* b = room_;
    return b && b->live + 1 < per_block_ ? take(b) : alloc_slow();
  }
  void free(void* p) {
    Block* b = block_of(p);
    if (b != room_ || b->live <= 1) return free_slow(p);
    give(b, p);
  }

 private:
  void* alloc_slow();
  void free_slow(void* p);
  static constexpr size_t kBlockBytes = BlockPool::kBlockBytes;
  struct Block {
    Block *prev, *next;  // in the list of blocks with room
    void* free_list;     // freed objects, linked through their first bytes
    uint32_t live = 0, carved = 0;
    bool listed = false;
  };
  static constexpr size_t kHeader = (sizeof(Block) + 63) / 64 * 64;
  Block* block_of(void* p) const { return reinterpret_cast<Block*>(uintptr_t(p) & ~uintptr_t(kBlockBytes - 1)); }
  // An object of b: one freed before, else the next never used.
  void* take(Block* b) {
    void* p = b->free_list;
    if (p) b->free_list = *static_cast<void**>(p);
    else p = reinterpret_cast<unsigned char*>(b) + kHeader + size_t(b->carved++) * size_;
    b->live++;
    return p;
  }
  void give(Block* b, void* p) {
    *static_cast<void**>(p) = b->free_list;
    b->free_list = p;
    b->live--;
  }
  void list(Block* b);
  void unlist(Block* b);

  BlockPool& pool_;
  size_t size_, per_block_;
  Block* room_ = nullptr;  // blocks with room, the one freed into last first
};

}  // namespace mg
