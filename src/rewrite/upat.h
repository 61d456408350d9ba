// UPat: a pattern over UOps. Built with operators so that rule tables read like algebra:
//   var("x") + 0            any node x plus the constant 0 (either order: ADD is commutative)
//   (var("x") * cvar("c1")) * cvar("c2")
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "uop/uop.h"

namespace mg {

class UPat;

struct UPatNode {
  enum class Src : uint8_t {
    Any,       // sources are not looked at
    Ordered,   // exactly these, in order
    Prefix,    // these first, then any number more
    Permuted,  // these in any order (commutative ops)
    Repeat,    // every source (any count) matches the one pattern
  };
  bool any_op = true;
  OpSet ops;
  std::vector<DType> dtypes;                  // empty: any dtype; matches a dtype or its scalar
  std::optional<Arg> arg;                     // exact arg
  std::optional<double> value;                // CONST with this value (ints and floats alike)
  std::function<bool(const Arg&)> arg_pred;
  std::function<bool(const UOp&)> pred;       // any other condition on the node
  bool (*pred_fn)(const UOp&) = nullptr;      // pred, when it is a plain function: called directly
  std::string name;                           // bind the node to this name
  Src src_kind = Src::Any;
  std::vector<UPat> src;
  std::vector<UPat> alts;                     // UPat::any: the first alternative that matches
  bool is_any = false;                        // made by UPat::any
  std::source_location loc;                   // where it was written (the latest line of its parts)
};

class UPat {
 public:
  // Each factory records where it is called: a rule's location is that of its pattern.
  using Loc = std::source_location;
  UPat(Ops op, Loc l = Loc::current());
  UPat(OpSet ops, Loc l = Loc::current());
  explicit UPat(std::shared_ptr<const UPatNode> n) : n_(std::move(n)) {}

  static UPat var(std::string name = "", Loc l = Loc::current());   // any node
  static UPat cvar(std::string name = "", Loc l = Loc::current());  // any CONST
  static UPat cnst(double v, Loc l = Loc::current());               // a CONST equal to v
  static UPat any(std::vector<UPat> alternatives, Loc l = Loc::current());

  UPat named(std::string name) const;
  UPat src(std::vector<UPat> s) const;
  UPat src_prefix(std::vector<UPat> s) const;
  UPat perm(std::vector<UPat> s) const;
  UPat rep(UPat s) const;
  UPat dtype(std::vector<DType> d) const;
  UPat dtype(DType d) const { return dtype(std::vector<DType>{d}); }
  UPat arg(Arg a) const;
  UPat arg_if(std::function<bool(const Arg&)> p) const;
  UPat where(std::function<bool(const UOp&)> p) const;

  const UPatNode& node() const { return *n_; }
  std::string str() const;

 private:
  UPat edit(const std::function<void(UPatNode&)>& f) const;
  std::shared_ptr<const UPatNode> n_;
};

inline UPat var(std::string name = "", UPat::Loc l = UPat::Loc::current()) { return UPat::var(std::move(name), l); }
inline UPat cvar(std::string name = "", UPat::Loc l = UPat::Loc::current()) { return UPat::cvar(std::move(name), l); }

// Pattern algebra: commutative ops match their sources in any order.
UPat operator+(const UPat& a, const UPat& b);
UPat operator*(const UPat& a, const UPat& b);
UPat operator-(const UPat& a, const UPat& b);
UPat operator/(const UPat& a, const UPat& b);  // IDIV
UPat operator%(const UPat& a, const UPat& b);
UPat operator&(const UPat& a, const UPat& b);
UPat operator|(const UPat& a, const UPat& b);
UPat operator^(const UPat& a, const UPat& b);
UPat operator-(const UPat& a);
UPat lt(const UPat& a, const UPat& b);
UPat ne(const UPat& a, const UPat& b);
UPat eq(const UPat& a, const UPat& b);
UPat maximum(const UPat& a, const UPat& b);
UPat where(const UPat& c, const UPat& a, const UPat& b);
UPat alu(Ops op, std::vector<UPat> src);  // ordered, or permuted for commutative ops; located at its sources

#define MG_UPAT_SCALAR_OPS(OP)                                                                         \
  template <class N> requires std::is_arithmetic_v<N>                                                  \
  UPat operator OP(const UPat& a, N b) { return a OP UPat::cnst(double(b), a.node().loc); }            \
  template <class N> requires std::is_arithmetic_v<N>                                                  \
  UPat operator OP(N a, const UPat& b) { return UPat::cnst(double(a), b.node().loc) OP b; }
MG_UPAT_SCALAR_OPS(+) MG_UPAT_SCALAR_OPS(*) MG_UPAT_SCALAR_OPS(-) MG_UPAT_SCALAR_OPS(/)
MG_UPAT_SCALAR_OPS(%) MG_UPAT_SCALAR_OPS(&) MG_UPAT_SCALAR_OPS(|) MG_UPAT_SCALAR_OPS(^)
#undef MG_UPAT_SCALAR_OPS

}  // namespace mg
