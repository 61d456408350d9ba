// Reading a view into contiguous memory: the one place that walks strides and masks for
// elementwise ops and results (reductions walk views themselves, see ref_reduce.cpp).
#include <cstring>

#include "backends/ref/ref_gather.h"
#include "uop/error.h"

namespace mg::ref {

namespace {
// W: an unsigned integer as wide as one element; elements are copied as bits.
template <class W>
void gather_general(const RefView& v, const W* src, int64_t start, int64_t count, W* dst) {
  const size_t nd = v.shape.size(), in = nd - 1;
  const bool masked = !v.mask.empty();
  std::vector<int64_t> idx(nd);
  for (size_t d = nd, rest = size_t(start); d-- > 0;) {
    idx[d] = int64_t(rest % size_t(v.shape[d]));
    rest /= size_t(v.shape[d]);
  }
  const int64_t n_in = v.shape[in], st_in = v.strides[in];
  while (count > 0) {
    const int64_t len = std::min(n_in - idx[in], count);
    int64_t addr = v.offset;
    bool valid = true;
    for (size_t d = 0; d < in; d++) {
      addr += idx[d] * v.strides[d];
      if (masked) valid = valid && idx[d] >= v.mask[d].first && idx[d] < v.mask[d].second;
    }
    // positions [idx_in, idx_in + len) of the innermost dim; [lo, hi) of them read memory
    int64_t lo = idx[in], hi = idx[in] + len;
    if (masked) {
      lo = std::max(lo, v.mask[in].first);
      hi = std::min(hi, v.mask[in].second);
    }
    if (!valid || hi < lo) hi = lo = idx[in];
    W* out = dst;
    for (int64_t p = idx[in]; p < lo; p++) *out++ = 0;
    if (hi > lo) {  // only valid positions have an address inside the buffer
      const int64_t first = addr + lo * st_in;
      if (st_in == 1) std::memcpy(out, src + first, size_t(hi - lo) * sizeof(W));
      else
        for (int64_t p = 0; p < hi - lo; p++) out[p] = src[first + p * st_in];
      out += hi - lo;
    }
    for (int64_t p = hi; p < idx[in] + len; p++) *out++ = 0;
    dst += len;
    count -= len;
    idx[in] += len;
    for (size_t d = in; d > 0 && idx[d] == v.shape[d]; d--) {
      idx[d] = 0;
      idx[d - 1]++;
    }
  }
}

template <class W>
void gather_as(const RefValue& v, const RefView& sv, int64_t start, int64_t count, void* dst) {
  const W* src = reinterpret_cast<const W*>(v.base());
  W* out = static_cast<W*>(dst);
  if (sv.is_broadcast()) {
    W x = src[sv.offset];
    for (int64_t i = 0; i < count; i++) out[i] = x;
  } else {
    gather_general(sv, src, start, count, out);
  }
}
}  // namespace

void gather(const RefValue& v, int64_t start, int64_t count, void* dst) {
  if (count <= 0) return;
  const size_t isz = size_t(v.itemsize());
  if (v.view.is_contiguous()) {
    std::memcpy(dst, v.base() + size_t(v.view.offset + start) * isz, size_t(count) * isz);
    return;
  }
  if (v.view.all_masked()) {
    std::memset(dst, 0, size_t(count) * isz);
    return;
  }
  RefView sv = v.view.simplified();
  switch (isz) {
    case 1: gather_as<uint8_t>(v, sv, start, count, dst); break;
    case 2: gather_as<uint16_t>(v, sv, start, count, dst); break;
    case 4: gather_as<uint32_t>(v, sv, start, count, dst); break;
    case 8: gather_as<uint64_t>(v, sv, start, count, dst); break;
    default: fail(ErrorKind::Internal, "REF: no elements of " + std::to_string(isz) + " bytes");
  }
}

}  // namespace mg::ref
