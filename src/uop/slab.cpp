#include "uop/slab.h"

#include <algorithm>
#include <new>

namespace mg {

BlockPool::~BlockPool() {
  while (spares_) release(pop());
}

void BlockPool::release(void* block) { ::operator delete(block, std::align_val_t(kBlockBytes)); }

void* BlockPool::pop() {
  Spare* s = spares_;
  spares_ = s->next;
  kept_--;
  return s;
}

void* BlockPool::get() {
  in_use_++;
  return spares_ ? pop() : ::operator new(kBlockBytes, std::align_val_t(kBlockBytes));
}

void BlockPool::put(void* block) {
  const size_t keep = std::max(kMinKept, --in_use_);
  if (kept_ < keep) {
    spares_ = new (block) Spare{spares_};
    kept_++;
    return;
  }
  release(block);
  if (kept_ > keep) release(pop());  // fewer in use than kept: one goes (in_use_ falls by one a call)
}

Slab::Slab(size_t object_bytes, BlockPool& pool)
    : pool_(pool), size_((object_bytes + 15) / 16 * 16), per_block_((kBlockBytes - kHeader) / size_) {}

Slab::~Slab() {
  // Blocks still holding objects belong to objects never freed (a leak elsewhere); the rest
  // went back to the pool as they emptied. Give back what has room; full blocks are
  // unreachable here.
  while (room_) {
    Block* b = room_;
    unlist(b);
    pool_.put(b);
  }
}

void Slab::list(Block* b) {
  b->prev = nullptr;
  b->next = room_;
  if (room_) room_->prev = b;
  room_ = b;
  b->listed = true;
}

void Slab::unlist(Block* b) {
  if (b->prev) b->prev->next = b->next;
  else room_ = b->next;
  if (b->next) b->next->prev = b->prev;
  b->listed = false;
}

void* Slab::alloc_slow() {
  if (!room_) list(new (pool_.get()) Block{});
  Block* b = room_;
  void* p = take(b);
  if (!b->free_list && b->carved == per_block_) unlist(b);  // full
  return p;
}

void Slab::free_slow(void* p) {
  Block* b = block_of(p);
  give(b, p);
  if (b->live == 0 && (room_ != b || b->next)) {  // empty, and not the only block with room
    if (b->listed) unlist(b);
    pool_.put(b);
    return;
  }
  if (!b->listed) list(b);
  else if (room_ != b) { unlist(b); list(b); }  // the next allocation reuses what was just freed
}

}  // namespace mg
