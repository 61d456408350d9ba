#include "backends/ref/ref_view.h"

#include <algorithm>

namespace mg::ref {

namespace {
std::vector<int64_t> row_major(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

bool dim_unmasked(const RefView& v, size_t d) {
  return v.mask.empty() || (v.mask[d].first <= 0 && v.mask[d].second >= v.shape[d]);
}

// Clamps the mask to the shape, and drops it when it lets every position through, so that
// a pad undone by a shrink leaves a plain (possibly contiguous) view.
void normalize_mask(RefView& v) {
  if (v.mask.empty()) return;
  bool full = true;
  for (size_t d = 0; d < v.shape.size(); d++) {
    auto& [lo, hi] = v.mask[d];
    lo = std::clamp<int64_t>(lo, 0, v.shape[d]);
    hi = std::clamp<int64_t>(hi, 0, v.shape[d]);
    if (hi < lo) hi = lo;
    full = full && lo == 0 && hi == v.shape[d];
  }
  if (full) v.mask.clear();
}
}  // namespace

RefView RefView::contiguous(const Shape& s) { return RefView{s, row_major(s), 0, {}}; }

int64_t RefView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool RefView::is_contiguous() const {
  if (!mask.empty()) return false;
  int64_t want = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 0) return true;  // nothing is read
    if (shape[i] != 1 && strides[i] != want) return false;
    want *= shape[i];
  }
  return true;
}

bool RefView::is_broadcast() const {
  if (!mask.empty()) return false;
  for (size_t i = 0; i < shape.size(); i++)
    if (shape[i] != 1 && strides[i] != 0) return false;
  return true;
}

bool RefView::all_masked() const {
  for (const auto& [lo, hi] : mask)
    if (hi <= lo) return true;
  return false;
}

std::optional<RefView> RefView::reshape(const Shape& s) const {
  RefView out{s, row_major(s), offset, {}};
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  if (n == 0) return out;             // nothing will be read
  if (!mask.empty()) return std::nullopt;  // padding does not survive regrouping in general
  // The dims of size > 1 on both sides, grouped into runs of equal products. A run of old dims
  // can be regrouped without a copy when it steps through memory as one strided range.
  std::vector<size_t> old_dims;
  for (size_t i = 0; i < shape.size(); i++)
    if (shape[i] != 1) old_dims.push_back(i);
  size_t oi = 0, j = 0;
  while (j < s.size()) {
    if (s[j] == 1) { out.strides[j++] = 0; continue; }
    size_t o0 = oi, j0 = j;
    int64_t po = shape[old_dims[oi]], pn = s[j];
    while (po != pn) {
      if (po < pn) po *= shape[old_dims[++oi]];
      else pn *= s[++j];
    }
    for (size_t k = o0; k < oi; k++)
      if (strides[old_dims[k]] != strides[old_dims[k + 1]] * shape[old_dims[k + 1]]) return std::nullopt;
    int64_t st = strides[old_dims[oi]];
    for (size_t k = j + 1; k-- > j0;) {
      out.strides[k] = st;
      st *= s[k];
    }
    oi++, j++;
  }
  return out;
}

RefView RefView::expand(const Shape& s) const {
  RefView out = *this;
  for (size_t i = 0; i < s.size(); i++) {
    if (shape[i] == s[i]) continue;
    out.shape[i] = s[i];
    out.strides[i] = 0;
    if (!out.mask.empty()) out.mask[i] = mask[i].first < mask[i].second ? std::pair<int64_t, int64_t>{0, s[i]} : std::pair<int64_t, int64_t>{0, 0};
  }
  normalize_mask(out);
  return out;
}

RefView RefView::permute(const std::vector<int64_t>& order) const {
  RefView out = *this;
  for (size_t i = 0; i < order.size(); i++) {
    out.shape[i] = shape[order[i]];
    out.strides[i] = strides[order[i]];
    if (!mask.empty()) out.mask[i] = mask[order[i]];
  }
  return out;
}

RefView RefView::pad(const std::vector<int64_t>& ba) const {
  if (std::all_of(ba.begin(), ba.end(), [](int64_t x) { return x == 0; })) return *this;
  RefView out = *this;
  if (out.mask.empty())
    for (int64_t d : shape) out.mask.push_back({0, d});
  for (size_t i = 0; i < shape.size(); i++) {
    int64_t before = ba[2 * i], after = ba[2 * i + 1];
    out.offset -= before * strides[i];
    out.mask[i].first += before;
    out.mask[i].second += before;
    out.shape[i] += before + after;
  }
  normalize_mask(out);
  return out;
}

RefView RefView::shrink(const std::vector<int64_t>& be) const {
  RefView out = *this;
  for (size_t i = 0; i < shape.size(); i++) {
    int64_t begin = be[2 * i], end = be[2 * i + 1];
    out.offset += begin * strides[i];
    out.shape[i] = end - begin;
    if (!out.mask.empty()) out.mask[i] = {mask[i].first - begin, mask[i].second - begin};
  }
  normalize_mask(out);
  return out;
}

RefView RefView::flip(const std::vector<int64_t>& axes) const {
  RefView out = *this;
  for (int64_t a : axes) {
    int64_t n = shape[a];
    if (n == 0) continue;
    out.offset += (n - 1) * out.strides[a];
    out.strides[a] = -out.strides[a];
    if (!out.mask.empty()) out.mask[a] = {n - out.mask[a].second, n - out.mask[a].first};
  }
  return out;
}

std::optional<RefView> RefView::window(const std::vector<int64_t>& k_s_d) const {
  if (!mask.empty()) return std::nullopt;
  const size_t n = k_s_d.size() / 3, pre = shape.size() - n;
  RefView out{window_shape(shape, k_s_d), std::vector<int64_t>(strides.begin(), strides.begin() + int64_t(pre)), offset, {}};
  for (size_t j = 0; j < n; j++) out.strides.push_back(strides[pre + j] * k_s_d[3 * j + 1]);
  for (size_t j = 0; j < n; j++) out.strides.push_back(strides[pre + j] * k_s_d[3 * j + 2]);
  return out;
}

RefView RefView::simplified(std::vector<int64_t>* also) const {
  RefView out{{}, {}, offset, {}};
  std::vector<int64_t> also_out;
  bool masked = false;
  if (numel() == 0) {
    out.shape = {0};
    out.strides = {0};
    if (also) *also = {0};
    return out;
  }
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] == 1 && dim_unmasked(*this, d)) continue;  // position 0 adds nothing
    size_t k = out.shape.size();
    bool free_here = dim_unmasked(*this, d);
    bool merge = k > 0 && free_here && (out.mask.empty() || out.mask[k - 1] == std::pair<int64_t, int64_t>{0, out.shape[k - 1]}) &&
                 out.strides[k - 1] == strides[d] * shape[d] && (!also || also_out[k - 1] == (*also)[d] * shape[d]);
    if (merge) {
      out.shape[k - 1] *= shape[d];
      out.strides[k - 1] = strides[d];
      if (!out.mask.empty()) out.mask[k - 1] = {0, out.shape[k - 1]};
      if (also) also_out[k - 1] = (*also)[d];
      continue;
    }
    out.shape.push_back(shape[d]);
    out.strides.push_back(strides[d]);
    out.mask.push_back(mask.empty() ? std::pair<int64_t, int64_t>{0, shape[d]} : mask[d]);
    masked = masked || !free_here;
    if (also) also_out.push_back((*also)[d]);
  }
  if (out.shape.empty()) {
    out.shape = {1};
    out.strides = {0};
    out.mask = {{0, 1}};
    if (also) also_out = {0};
  }
  if (!masked) out.mask.clear();
  if (also) *also = std::move(also_out);
  return out;
}

}  // namespace mg::ref
