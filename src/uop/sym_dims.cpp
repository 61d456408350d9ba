// Symbolic dims: the variables a Shape entry may stand for (see kSymDim in uop.h).
#include "uop/error.h"
#include "uop/uop.h"

namespace mg {

int64_t UOpTable::sym_dim(const UOpRef& var) {
  if (!var || var->op != Ops::DEFINE_VAR || var->dtype != dtypes::index)
    fail(ErrorKind::Invalid, "symbolic dim: needs an index DEFINE_VAR, got " + (var ? node_str(var.get()) : std::string("nothing")));
  const VarArg& v = std::get<VarArg>(var->arg);
  if (v.lo < 0) fail(ErrorKind::Invalid, "symbolic dim '" + v.name + "': a size cannot be negative (lower bound " + std::to_string(v.lo) + ")");
  for (size_t i = 0; i < sym_vars_.size(); i++)
    if (sym_vars_[i] == var) return kSymDim + int64_t(i);
  if (int64_t(sym_vars_.size()) >= kMaxSymVars) fail(ErrorKind::Invalid, "symbolic dim '" + v.name + "': too many variables");
  sym_vars_.push_back(var);
  return kSymDim + int64_t(sym_vars_.size() - 1);
}

const UOpRef& UOpTable::sym_var(int64_t dim) const {
  if (!is_sym(dim) || size_t(dim - kSymDim) >= sym_vars_.size())
    fail(ErrorKind::Shape, "symbolic dim " + std::to_string(dim) + " is no variable of this context");
  return sym_vars_[size_t(dim - kSymDim)];
}

int64_t UOpTable::dim_max(int64_t d) const { return is_sym(d) ? std::get<VarArg>(sym_var(d)->arg).hi : d; }

UOpRef UOpTable::dim_node(int64_t d) { return is_sym(d) ? sym_var(d) : cnst(dtypes::index, d); }

int64_t UOpTable::numel_max(const Shape& s) const {
  int64_t n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, dim_max(d), &n)) fail(ErrorKind::Shape, "shape " + shape_str(s, *this) + " has more elements than fit in 64 bits");
  return n;
}

std::string shape_str(const Shape& s, const UOpTable& t) {
  std::string r = "{";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + (is_sym(s[i]) ? std::get<VarArg>(t.sym_var(s[i])->arg).name : std::to_string(s[i]));
  return r + "}";
}

}  // namespace mg
