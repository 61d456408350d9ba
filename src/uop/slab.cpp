#include "uop/slab.h"

#include <new>

namespace mg {

Slab::Slab(size_t object_bytes) : size_((object_bytes + 15) / 16 * 16), per_block_((kBlockBytes - kHeader) / size_) {}

Slab::~Slab() {
  // Blocks still holding objects belong to objects never freed (a leak elsewhere); the rest
  // were released as they emptied. Free what has room; full blocks are unreachable here.
  while (room_) {
    Block* b = room_;
    unlist(b);
    ::operator delete(static_cast<void*>(b), std::align_val_t(kBlockBytes));
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
  if (!room_) list(new (::operator new(kBlockBytes, std::align_val_t(kBlockBytes))) Block{});
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
    ::operator delete(static_cast<void*>(b), std::align_val_t(kBlockBytes));
    return;
  }
  if (!b->listed) list(b);
  else if (room_ != b) { unlist(b); list(b); }  // the next allocation reuses what was just freed
}

}  // namespace mg
