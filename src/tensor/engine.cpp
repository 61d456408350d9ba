#include "tensor/engine.h"

#include "tensor/jit.h"
#include "tensor/tensor.h"

namespace mg {

void Rng::seed_with(uint64_t seed) {
  // splitmix64 spreads any seed (0 included) over the four words
  for (uint64_t& w : s) {
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    w = z ^ (z >> 31);
  }
}

uint64_t Rng::next() {
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
  return r;
}

Engine::Engine(HostAllocator host) : runtime(host), jits(std::make_unique<tensor::Jits>()) {
  uops.on_free(OpSet{Ops::BUFFER}, [this](const UOp* u) { runtime.unbind(u); });
}

Engine::~Engine() {
  jits.reset();  // they hold handles, which must go while the context still knows them
  for (mg_tensor* t = live; t; t = t->next) {
    t->eng = nullptr;
    t->uop = UOpRef();
    t->target = UOpRef();
  }
  live = nullptr;
  trace.clear();
}

}  // namespace mg
