// WINDOW's shape: sliding windows over the last n dims (see window_shape in uop.h).
#include "uop/error.h"
#include "uop/uop.h"

namespace mg {

Shape window_shape(const Shape& in, const std::vector<int64_t>& arg) {
  auto bad = [&](const std::string& why) -> Shape {
    fail(ErrorKind::Shape, "WINDOW of " + shape_str(in) + " with {k, stride, dilation} " + shape_str(arg) + ": " + why);
  };
  if (arg.empty() || arg.size() % 3) return bad("needs one {k, stride, dilation} triple per windowed dim");
  const size_t n = arg.size() / 3;
  if (n > in.size()) return bad("more windowed dims than the shape has");
  const size_t pre = in.size() - n;
  Shape out(in.begin(), in.begin() + int64_t(pre));
  for (size_t j = 0; j < n; j++) {
    int64_t i = in[pre + j], k = arg[3 * j], s = arg[3 * j + 1], d = arg[3 * j + 2];
    if (is_sym(i) || is_sym(k) || is_sym(s) || is_sym(d)) return bad("windowed dims cannot be variables");
    if (k < 1 || s < 1 || d < 1) return bad("k, stride and dilation must be at least 1");
    if (k > i || (k > 1 && d > (i - 1) / (k - 1)))
      return bad("a window of " + std::to_string(k) + " with dilation " + std::to_string(d) + " does not fit in a dim of size " + std::to_string(i));
    out.push_back((i - d * (k - 1) - 1) / s + 1);
  }
  for (size_t j = 0; j < n; j++) out.push_back(arg[3 * j]);
  return out;
}

}  // namespace mg
