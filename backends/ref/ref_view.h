// REF: a view is how a tensor's elements sit in a flat buffer (shape, strides, offset, and
// a mask for padding). Movement ops only change the view, so a chain of them costs nothing
// until an ALU op, a reduction or a result reads through it.
#pragma once
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "uop/uop.h"

namespace mg::ref {

struct RefView {
  Shape shape;
  std::vector<int64_t> strides;  // in elements; 0 for broadcast dims, negative after FLIP
  int64_t offset = 0;            // element index of position 0 (padding may push it out of range)
  // Empty: every position is valid. Else per dim the half-open range [lo, hi) of positions that
  // read the buffer; the rest read as zero (PAD). Addresses are computed for valid positions only.
  std::vector<std::pair<int64_t, int64_t>> mask;

  static RefView contiguous(const Shape& s);
  int64_t numel() const;
  bool is_contiguous() const;  // row-major, unmasked: element i is at offset + i
  bool is_broadcast() const;   // unmasked and every position reads element `offset`

  std::optional<RefView> reshape(const Shape& s) const;  // nullopt: needs a copy first
  RefView expand(const Shape& s) const;
  RefView permute(const std::vector<int64_t>& order) const;  // out dim i = in dim order[i]
  RefView pad(const std::vector<int64_t>& before_after) const;
  RefView shrink(const std::vector<int64_t>& begin_end) const;
  RefView flip(const std::vector<int64_t>& axes) const;
  // Sliding windows (WINDOW's arg): nullopt when padded, as a window mixes positions of a dim.
  std::optional<RefView> window(const std::vector<int64_t>& k_s_d) const;

  // The same positions in the same row-major order with fewer dims (at least one): size-1 dims
  // dropped and unmasked dims that step through memory as one merged. Reading loops run faster
  // on it. `also`: strides of a second array walked in lockstep (a reduction's output); dims
  // merge only where they merge for both, and *also is rewritten to match.
  RefView simplified(std::vector<int64_t>* also = nullptr) const;
  bool all_masked() const;  // some dim's valid range is empty: every element reads zero
};

}  // namespace mg::ref
