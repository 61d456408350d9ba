// LLVM IR text for a linearized kernel. Loops count in allocas (LLVM's mem2reg makes them
// registers); float16 computes in LLVM's half (promoted to float per op, as docs/semantics.md
// says); bfloat16 lives in float registers, rounded after every op; bool is i1 in registers
// and a byte in memory. Integer division, modulo and shifts are guarded so that nothing here
// is undefined (the values are those of docs/semantics.md). Values that depend on the upcast
// axis (Kernel::lane) are vectors of Kernel::width lanes.
#include "backends/cpu/llvm_renderer.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <unordered_map>

#include "codegen/lane_values.h"
#include "uop/error.h"

namespace mg::cpu {

namespace {
using codegen::LinItem;

bool is_bf16(DType d) { return d.scalar == Scalar::BFloat16; }
bool is_signed_int(DType d) { return d.is_int() && !d.is_unsigned(); }
int bits(DType d) { return d.itemsize() * 8; }
// What float16 and bfloat16 compute in (reductions accumulate in it too).
DType compute(DType d) { return d.scalar == Scalar::Float16 || is_bf16(d) ? dtypes::float32 : d; }

// The scalar LLVM type of a value in registers, and in memory.
std::string reg_scalar(DType d) {
  switch (d.scalar) {
    case Scalar::Bool: return "i1";
    case Scalar::Int8: case Scalar::UInt8: return "i8";
    case Scalar::Int16: case Scalar::UInt16: return "i16";
    case Scalar::Int32: case Scalar::UInt32: return "i32";
    case Scalar::Int64: case Scalar::UInt64: case Scalar::Index: return "i64";
    case Scalar::Float16: return "half";
    case Scalar::BFloat16: case Scalar::Float32: return "float";
    case Scalar::Float64: return "double";
    default: fail(ErrorKind::Compile, "CPU renderer: no LLVM type for " + d.name());
  }
}
std::string mem_scalar(DType d) { return d.scalar == Scalar::Bool ? "i8" : is_bf16(d) ? "i16" : reg_scalar(d); }

std::string hex_double(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  char s[24];
  std::snprintf(s, sizeof s, "0x%016llX", static_cast<unsigned long long>(b));
  return s;
}

// An LLVM type: a scalar, or a vector of w of them.
struct Ty {
  std::string s;  // scalar type
  int w = 1;
  std::string str() const { return w == 1 ? s : "<" + std::to_string(w) + " x " + s + ">"; }
  // A constant of this type: lit, or lit in every lane.
  std::string c(const std::string& lit) const {
    if (w == 1) return lit;
    std::string v = "<";
    for (int i = 0; i < w; i++) v += (i ? ", " : "") + s + " " + lit;
    return v + ">";
  }
  // Intrinsic name suffix: f32, i64, v16f32, ...
  std::string sfx() const {
    std::string e = s == "half" ? "f16" : s == "float" ? "f32" : s == "double" ? "f64" : s == "ptr" ? "p0" : s;
    return w == 1 ? e : "v" + std::to_string(w) + e;
  }
  Ty with(const std::string& scalar) const { return Ty{scalar, w}; }
};

std::string float_lit(DType d, double v) {
  if (d.scalar == Scalar::Float16) {
    char s[16];
    std::snprintf(s, sizeof s, "0xH%04X", unsigned(float_to_half(float(v))));
    return s;
  }
  if (d.scalar == Scalar::Float64) return hex_double(v);
  return hex_double(double(float(v)));  // float and bfloat16 registers: exact in float
}
std::string zero_lit(DType d) { return d.is_bool() ? "false" : d.is_float() ? float_lit(d, 0.0) : "0"; }

class Renderer {
 public:
  explicit Renderer(const codegen::Kernel& k) : k_(k), w_(k.lane ? k.width : 1) {}

  RenderedKernel run() {
    for (const LinItem& it : k_.lin) item(it);
    std::string body = "@" + k_.fn_name + ".body";
    std::string out = "; kernel " + k_.name + "\n";
    out += "define internal void " + body + "(";
    for (int i = 0; i < k_.n_params; i++) out += (i ? ", " : "") + std::string("ptr noalias %b") + std::to_string(i);
    for (size_t i = 0; i < k_.vars.size(); i++) out += (i || k_.n_params ? ", " : "") + std::string("i64 %var") + std::to_string(i);
    out += std::string(k_.n_params || !k_.vars.empty() ? ", " : "") + "i64 %begin, i64 %end) alwaysinline nounwind {\nentry:\n" + allocas_ + body_ + "  ret void\n}\n\n";
    out += "define void @" + k_.fn_name + "(ptr %args, i64 %begin, i64 %end) nounwind {\nentry:\n";
    std::string call;
    for (int i = 0; i < k_.n_params; i++) {
      std::string n = std::to_string(i);
      out += "  %a" + n + " = getelementptr ptr, ptr %args, i64 " + n + "\n  %p" + n + " = load ptr, ptr %a" + n + "\n";
      call += "ptr %p" + n + ", ";
    }
    // a variable's parameter points to its value
    for (size_t i = 0; i < k_.vars.size(); i++) {
      std::string n = std::to_string(i), slot = std::to_string(size_t(k_.n_params) + i);
      out += "  %va" + n + " = getelementptr ptr, ptr %args, i64 " + slot + "\n  %vp" + n + " = load ptr, ptr %va" + n + "\n  %vv" + n +
             " = load i64, ptr %vp" + n + "\n";
      call += "i64 %vv" + n + ", ";
    }
    out += "  call void " + body + "(" + call + "i64 %begin, i64 %end)\n  ret void\n}\n";
    return RenderedKernel{std::move(out), std::move(decls_)};
  }

 private:
  // ---- values ----
  std::string fresh() { return "%v" + std::to_string(n_++); }
  void line(const std::string& s) { body_ += "  " + s + "\n"; }
  void label(const std::string& l) { body_ += l + ":\n"; block_ = l; }
  void declare(const std::string& d) { decls_.insert(d); }

  static bool contiguous(const UOp* index) { return codegen::contiguous_access(index); }
  bool vec(const UOp* u) { return lanes_(u); }  // u depends on the lane: a vector
  Ty reg(DType d, bool v) const { return Ty{reg_scalar(d), v ? w_ : 1}; }
  Ty mem(DType d, bool v) const { return Ty{mem_scalar(d), v ? w_ : 1}; }

  std::string lit(const UOp* c) {
    DType d = c->dtype;
    if (d.is_bool()) return c->const_int() ? "true" : "false";
    if (d.is_float()) return float_lit(d, c->const_float());
    return std::to_string(c->const_int());
  }

  // u's value as a scalar, or as a vector (a scalar is splatted into every lane).
  std::string val(const UOp* u, bool as_vec = false) {
    if (u->op == Ops::CONST) return reg(u->dtype, as_vec).c(lit(u));
    if (u->op == Ops::DEFINE_GLOBAL) return "%b" + std::to_string(std::get<int64_t>(u->arg));
    if (u->op == Ops::DEFINE_VAR) return as_vec ? splat(reg(u->dtype, false), var_name(u)) : var_name(u);
    if (u == k_.lane) {
      std::string v = "<";
      for (int i = 0; i < w_; i++) v += (i ? ", i64 " : "i64 ") + std::to_string(i);
      return v + ">";
    }
    auto it = names_.find(u);
    if (it == names_.end()) fail(ErrorKind::Internal, "CPU renderer: " + node_str(u) + " used before it was computed");
    if (!as_vec || vec(u)) return it->second;
    return splat(reg(u->dtype, false), it->second);
  }
  std::string var_name(const UOp* u) const {
    auto it = std::find(k_.vars.begin(), k_.vars.end(), u);
    if (it == k_.vars.end()) fail(ErrorKind::Internal, "CPU renderer: " + node_str(u) + " is not among the kernel's variables");
    return "%var" + std::to_string(it - k_.vars.begin());
  }
  std::string splat(const Ty& scalar, const std::string& x) {
    Ty v{scalar.s, w_};
    std::string a = fresh(), b = fresh();
    line(a + " = insertelement " + v.str() + " poison, " + scalar.s + " " + x + ", i64 0");
    line(b + " = shufflevector " + v.str() + " " + a + ", " + v.str() + " poison, <" + std::to_string(w_) + " x i32> zeroinitializer");
    return b;
  }

  void item(const LinItem& it) {
    switch (it.kind) {
      case LinItem::LoopBegin: loop_begin(it.u); break;
      case LinItem::LoopEnd: loop_end(it.u); break;
      case LinItem::AccInit: acc_init(it.u); break;
      case LinItem::AccUpdate: acc_update(it.u, it.v); break;
      case LinItem::Op: op(it.u); break;
    }
  }

  // ---- loops and accumulators ----
  void loop_begin(const UOp* r) {
    std::string id = std::to_string(n_++), ctr = "%ctr" + id;
    allocas_ += "  " + ctr + " = alloca i64\n";
    bool outer = r == k_.outer_range;
    line("store i64 " + std::string(outer ? "%begin" : "0") + ", ptr " + ctr);
    line("br label %head" + id);
    label("head" + id);
    std::string i = "%i" + id, c = "%c" + id;
    line(i + " = load i64, ptr " + ctr);
    line(c + " = icmp slt i64 " + i + ", " + (outer ? "%end" : val(r->src[0].get())));
    line("br i1 " + c + ", label %body" + id + ", label %exit" + id);
    label("body" + id);
    names_[r] = i;
    loops_[r] = id;
  }

  void loop_end(const UOp* r) {
    const std::string& id = loops_.at(r);
    std::string nx = fresh();
    line(nx + " = add i64 %i" + id + ", 1");
    line("store i64 " + nx + ", ptr %ctr" + id);
    line("br label %head" + id);
    label("exit" + id);
  }

  static std::string identity(Ops op, DType c) {
    if (op == Ops::ADD) return zero_lit(c);
    if (op == Ops::MUL) return c.is_float() ? float_lit(c, 1.0) : c.is_bool() ? "true" : "1";
    if (c.is_float()) return float_lit(c, -INFINITY);
    if (c.is_bool()) return "false";
    return std::to_string(int64_t(int_min(c.scalar)));
  }

  void acc_init(const UOp* r) {
    DType c = compute(r->dtype);
    Ty t = reg(c, vec(r));
    std::string acc = "%acc" + std::to_string(n_++);
    allocas_ += "  " + acc + " = alloca " + t.str() + "\n";
    line("store " + t.str() + " " + t.c(identity(std::get<Ops>(r->arg), c)) + ", ptr " + acc);
    accs_[r] = acc;
  }

  void acc_update(const UOp* r, const UOp* v) {
    DType c = compute(r->dtype);
    bool vv = vec(r);
    Ty t = reg(c, vv);
    const std::string& acc = accs_.at(r);
    std::string cur = fresh();
    line(cur + " = load " + t.str() + ", ptr " + acc);
    std::string x = val(v, vv);
    if (v->dtype.scalar == Scalar::Float16) {
      std::string wide = fresh();
      line(wide + " = fpext " + reg(v->dtype, vv).str() + " " + x + " to " + t.str());
      x = wide;
    }
    std::string out = binary(std::get<Ops>(r->arg), c, vv, cur, x, /*reassoc=*/true);
    line("store " + t.str() + " " + out + ", ptr " + acc);
  }

  // ---- arithmetic ----
  // From float (the compute type) back to a float16 or bfloat16 value.
  std::string narrow(DType d, bool v, const std::string& x) {
    if (d.scalar == Scalar::Float16) {
      std::string n = fresh();
      line(n + " = fptrunc " + reg(dtypes::float32, v).str() + " " + x + " to " + reg(d, v).str());
      return n;
    }
    if (is_bf16(d)) return bf16_round(v, x);
    return x;
  }

  // Round to nearest even at bfloat16's precision, NaN kept a NaN (float_to_bf16's rule).
  std::string bf16_round(bool v, const std::string& x) {
    Ty f = reg(dtypes::float32, v), i = f.with("i32"), b = f.with("i1");
    std::string fn = "@mg_bf16_" + f.sfx();
    declare("define internal " + f.str() + " " + fn + "(" + f.str() + " %x) alwaysinline nounwind {\n"
            "  %b = bitcast " + f.str() + " %x to " + i.str() + "\n  %abs = and " + i.str() + " %b, " + i.c("2147483647") + "\n"
            "  %nan = icmp ugt " + i.str() + " %abs, " + i.c("2139095040") + "\n  %lsb = lshr " + i.str() + " %b, " + i.c("16") + "\n"
            "  %odd = and " + i.str() + " %lsb, " + i.c("1") + "\n  %up = add " + i.str() + " %b, " + i.c("32767") + "\n"
            "  %rnd = add " + i.str() + " %up, %odd\n  %rm = and " + i.str() + " %rnd, " + i.c("-65536") + "\n"
            "  %q = or " + i.str() + " %b, " + i.c("4194304") + "\n  %qm = and " + i.str() + " %q, " + i.c("-65536") + "\n"
            "  %sel = select " + b.str() + " %nan, " + i.str() + " %qm, " + i.str() + " %rm\n"
            "  %f = bitcast " + i.str() + " %sel to " + f.str() + "\n  ret " + f.str() + " %f\n}");
    std::string n = fresh();
    line(n + " = call " + f.str() + " " + fn + "(" + f.str() + " " + x + ")");
    return n;
  }

  std::string call1(const std::string& fn, DType d, bool v, const std::string& x) {
    Ty t = reg(d, v);
    std::string name = "llvm." + fn + "." + t.sfx();
    declare("declare " + t.str() + " @" + name + "(" + t.str() + ")");
    std::string n = fresh();
    line(n + " = call " + t.str() + " @" + name + "(" + t.str() + " " + x + ")");
    return n;
  }

  // a op b for two values of dtype d (vectors when v).
  std::string binary(Ops op, DType d, bool v, const std::string& a, const std::string& b, bool reassoc = false) {
    Ty t = reg(d, v), bt = t.with("i1");
    std::string ts = t.str(), n = fresh();
    auto emit = [&](const std::string& ins) { line(n + " = " + ins + " " + ts + " " + a + ", " + b); return n; };
    // contract: a multiply feeding an add may become one FMA (one rounding instead of two);
    // reassoc (reductions only): the order of a sum may change, so it vectorizes.
    std::string fl = reassoc ? "reassoc contract " : "contract ";
    if (d.is_bool()) {
      switch (op) {
        case Ops::ADD: case Ops::MAX: case Ops::OR: return emit("or");
        case Ops::MUL: case Ops::AND: return emit("and");
        case Ops::SUB: case Ops::XOR: case Ops::CMPNE: return emit("xor");
        case Ops::CMPEQ: return emit("icmp eq");
        case Ops::CMPLT: return emit("icmp ult");
        default: break;
      }
    } else if (d.is_float()) {
      switch (op) {
        case Ops::ADD: return emit("fadd " + fl);
        case Ops::SUB: return emit("fsub");
        case Ops::MUL: return emit("fmul " + fl);
        case Ops::FDIV: return emit("fdiv");
        case Ops::MOD: return emit("frem");
        case Ops::CMPLT: return emit("fcmp olt");
        case Ops::CMPNE: return emit("fcmp une");
        case Ops::CMPEQ: return emit("fcmp oeq");
        case Ops::MAX: {  // NaN if either is NaN, else a > b ? a : b
          std::string un = fresh(), gt = fresh(), m = fresh();
          line(un + " = fcmp uno " + ts + " " + a + ", " + b);
          line(gt + " = fcmp ogt " + ts + " " + a + ", " + b);
          line(m + " = select " + bt.str() + " " + gt + ", " + ts + " " + a + ", " + ts + " " + b);
          line(n + " = select " + bt.str() + " " + un + ", " + ts + " " + t.c(float_lit(d, NAN)) + ", " + ts + " " + m);
          return n;
        }
        case Ops::POW: {
          std::string name = "llvm.pow." + t.sfx();
          declare("declare " + ts + " @" + name + "(" + ts + ", " + ts + ")");
          line(n + " = call " + ts + " @" + name + "(" + ts + " " + a + ", " + ts + " " + b + ")");
          return n;
        }
        default: break;
      }
    } else {
      bool s = is_signed_int(d);
      switch (op) {
        case Ops::ADD: return emit("add");
        case Ops::SUB: return emit("sub");
        case Ops::MUL: return emit("mul");
        case Ops::AND: return emit("and");
        case Ops::OR: return emit("or");
        case Ops::XOR: return emit("xor");
        case Ops::CMPLT: return emit(s ? "icmp slt" : "icmp ult");
        case Ops::CMPNE: return emit("icmp ne");
        case Ops::CMPEQ: return emit("icmp eq");
        case Ops::MAX: {
          std::string gt = fresh();
          line(gt + " = icmp " + std::string(s ? "sgt " : "ugt ") + ts + " " + a + ", " + b);
          line(n + " = select " + bt.str() + " " + gt + ", " + ts + " " + a + ", " + ts + " " + b);
          return n;
        }
        case Ops::IDIV: case Ops::MOD: return divmod(op, d, t, a, b, n);
        case Ops::SHL: case Ops::SHR: return shift(op, d, t, a, b, n);
        case Ops::POW: return ipow(d, t, a, b, n);
        default: break;
      }
    }
    fail(ErrorKind::Compile, std::string("CPU renderer: no ") + op_name(op) + " for " + d.name());
  }

  // By zero: 0. Signed by -1: -a for IDIV (MIN wraps to MIN), 0 for MOD. Never a trap.
  std::string divmod(Ops op, DType d, const Ty& t, const std::string& a, const std::string& b, const std::string& n) {
    std::string ts = t.str(), bs = t.with("i1").str(), z = fresh(), bad = fresh(), safe = fresh(), q = fresh();
    bool s = is_signed_int(d);
    line(z + " = icmp eq " + ts + " " + b + ", " + t.c("0"));
    std::string m1 = t.with("i1").c("false");
    if (s) { m1 = fresh(); line(m1 + " = icmp eq " + ts + " " + b + ", " + t.c("-1")); }
    line(bad + " = or " + bs + " " + z + ", " + m1);
    line(safe + " = select " + bs + " " + bad + ", " + ts + " " + t.c("1") + ", " + ts + " " + b);
    const char* ins = op == Ops::IDIV ? (s ? "sdiv" : "udiv") : (s ? "srem" : "urem");
    line(q + " = " + ins + " " + ts + " " + a + ", " + safe);
    if (op == Ops::MOD) { line(n + " = select " + bs + " " + bad + ", " + ts + " " + t.c("0") + ", " + ts + " " + q); return n; }
    std::string neg = fresh(), r = fresh();
    line(neg + " = sub " + ts + " " + t.c("0") + ", " + a);
    line(r + " = select " + bs + " " + m1 + ", " + ts + " " + neg + ", " + ts + " " + q);
    line(n + " = select " + bs + " " + z + ", " + ts + " " + t.c("0") + ", " + ts + " " + r);
    return n;
  }

  // A shift by a negative amount or by the width or more shifts every bit out.
  std::string shift(Ops op, DType d, const Ty& t, const std::string& a, const std::string& b, const std::string& n) {
    std::string ts = t.str(), bs = t.with("i1").str(), oob = fresh(), safe = fresh(), r = fresh();
    line(oob + " = icmp uge " + ts + " " + b + ", " + t.c(std::to_string(bits(d))));
    line(safe + " = select " + bs + " " + oob + ", " + ts + " " + t.c("0") + ", " + ts + " " + b);
    bool s = is_signed_int(d);
    line(r + " = " + std::string(op == Ops::SHL ? "shl" : s ? "ashr" : "lshr") + " " + ts + " " + a + ", " + safe);
    std::string out = t.c("0");
    if (op == Ops::SHR && s) { out = fresh(); line(out + " = ashr " + ts + " " + a + ", " + t.c(std::to_string(bits(d) - 1))); }
    line(n + " = select " + bs + " " + oob + ", " + ts + " " + out + ", " + ts + " " + r);
    return n;
  }

  // Square and multiply with wrap-around; negative exponents as docs/semantics.md. Vectors
  // call the scalar function lane by lane.
  std::string ipow(DType d, const Ty& t, const std::string& a, const std::string& b, const std::string& n) {
    std::string e = t.s, fn = "@mg_ipow_" + std::string(is_signed_int(d) ? "s" : "u") + e;
    bool s = is_signed_int(d);
    std::string neg_case = s ? "  %neg = icmp slt " + e + " %b, 0\n  br i1 %neg, label %negexp, label %loop\n"
                               "negexp:\n  %one = icmp eq " + e + " %a, 1\n  %mone = icmp eq " + e + " %a, -1\n"
                               "  %odd = and " + e + " %b, 1\n  %isodd = icmp ne " + e + " %odd, 0\n"
                               "  %pm = select i1 %isodd, " + e + " -1, " + e + " 1\n"
                               "  %r1 = select i1 %mone, " + e + " %pm, " + e + " 0\n"
                               "  %r2 = select i1 %one, " + e + " 1, " + e + " %r1\n  ret " + e + " %r2\n"
                             : "  br label %loop\n";
    declare("define internal " + e + " " + fn + "(" + e + " %a, " + e + " %b) nounwind {\nentry:\n" + neg_case +
            "loop:\n  %r = phi " + e + " [1, %entry], [%r.n, %step]\n  %x = phi " + e + " [%a, %entry], [%x.n, %step]\n"
            "  %e = phi " + e + " [%b, %entry], [%e.n, %step]\n  %more = icmp ne " + e + " %e, 0\n"
            "  br i1 %more, label %step, label %done\nstep:\n  %bit = and " + e + " %e, 1\n  %isbit = icmp ne " + e + " %bit, 0\n"
            "  %rx = mul " + e + " %r, %x\n  %r.n = select i1 %isbit, " + e + " %rx, " + e + " %r\n  %x.n = mul " + e + " %x, %x\n"
            "  %e.n = lshr " + e + " %e, 1\n  br label %loop\ndone:\n  ret " + e + " %r\n}");
    if (t.w == 1) {
      line(n + " = call " + e + " " + fn + "(" + e + " " + a + ", " + e + " " + b + ")");
      return n;
    }
    std::string acc = "poison";
    for (int i = 0; i < t.w; i++) {
      std::string x = fresh(), y = fresh(), r = fresh(), nx = i == t.w - 1 ? n : fresh();
      line(x + " = extractelement " + t.str() + " " + a + ", i64 " + std::to_string(i));
      line(y + " = extractelement " + t.str() + " " + b + ", i64 " + std::to_string(i));
      line(r + " = call " + e + " " + fn + "(" + e + " " + x + ", " + e + " " + y + ")");
      line(nx + " = insertelement " + t.str() + " " + acc + ", " + e + " " + r + ", i64 " + std::to_string(i));
      acc = nx;
    }
    return n;
  }

  std::string unary(Ops op, DType d, bool v, const std::string& x) {
    Ty t = reg(d, v);
    switch (op) {
      case Ops::NEG: {
        std::string n = fresh();
        if (d.is_float()) line(n + " = fneg " + t.str() + " " + x);
        else line(n + " = sub " + t.str() + " " + t.c("0") + ", " + x);
        return n;
      }
      case Ops::EXP2: return call1("exp2", d, v, x);
      case Ops::LOG2: return call1("log2", d, v, x);
      case Ops::SIN: return call1("sin", d, v, x);
      case Ops::SQRT: return call1("sqrt", d, v, x);
      case Ops::TRUNC: return call1("trunc", d, v, x);
      case Ops::RECIPROCAL: {
        std::string n = fresh();
        line(n + " = fdiv " + t.str() + " " + t.c(float_lit(d, 1.0)) + ", " + x);
        return n;
      }
      default: fail(ErrorKind::Compile, std::string("CPU renderer: no ") + op_name(op) + " for " + d.name());
    }
  }

  std::string cast(DType from, DType to, bool v, const std::string& x) {
    Ty tf = reg(from, v), tt = reg(to, v), f32 = reg(dtypes::float32, v);
    std::string n = fresh();
    if (to.is_bool()) {
      if (from.is_float()) line(n + " = fcmp une " + tf.str() + " " + x + ", " + tf.c(float_lit(from, 0.0)));
      else line(n + " = icmp ne " + tf.str() + " " + x + ", " + tf.c("0"));
      return n;
    }
    if (from.is_bool()) {
      line(n + " = " + std::string(to.is_float() ? "uitofp " : "zext ") + tf.str() + " " + x + " to " + tt.str());
      return n;
    }
    if (from.is_int() && to.is_int()) {
      int fb = bits(from), tb = bits(to);
      if (fb == tb) return x;
      line(n + " = " + std::string(tb < fb ? "trunc" : is_signed_int(from) ? "sext" : "zext") + " " + tf.str() + " " + x + " to " + tt.str());
      return n;
    }
    if (from.is_int()) {  // -> float: float64 directly, the others through float32
      const char* ins = is_signed_int(from) ? "sitofp" : "uitofp";
      if (to.scalar == Scalar::Float64) { line(n + " = " + ins + " " + tf.str() + " " + x + " to " + tt.str()); return n; }
      line(n + " = " + ins + " " + tf.str() + " " + x + " to " + f32.str());
      return narrow(to, v, n);
    }
    if (to.is_int()) {  // saturating, NaN -> 0
      std::string name = std::string("llvm.") + (is_signed_int(to) ? "fptosi" : "fptoui") + ".sat." + tt.sfx() + "." + tf.sfx();
      declare("declare " + tt.str() + " @" + name + "(" + tf.str() + ")");
      line(n + " = call " + tt.str() + " @" + name + "(" + tf.str() + " " + x + ")");
      return n;
    }
    // float -> float: through float32 except float32 <-> float64 and float64 -> float64
    std::string f = x;
    if (from.scalar == Scalar::Float16) { line(n + " = fpext " + tf.str() + " " + x + " to " + f32.str()); f = n; }
    else if (from.scalar == Scalar::Float64) {
      if (to.scalar == Scalar::Float64) return x;
      line(n + " = fptrunc " + tf.str() + " " + x + " to " + f32.str());
      f = n;
    }
    if (to.scalar == Scalar::Float64) {
      std::string m = fresh();
      line(m + " = fpext " + f32.str() + " " + f + " to " + tt.str());
      return m;
    }
    if (to.scalar == Scalar::Float32) return f;
    return narrow(to, v, f);
  }

  std::string bitcast(DType from, DType to, bool v, const std::string& x) {
    Ty it = Ty{"i" + std::to_string(bits(from)), v ? w_ : 1}, i32 = it.with("i32"), i16 = it.with("i16");
    std::string i = x;
    if (from.is_bool()) { i = fresh(); line(i + " = zext " + reg(from, v).str() + " " + x + " to " + it.str()); }
    else if (is_bf16(from)) {
      std::string w = fresh(), s = fresh();
      line(w + " = bitcast " + reg(from, v).str() + " " + x + " to " + i32.str());
      line(s + " = lshr " + i32.str() + " " + w + ", " + i32.c("16"));
      i = fresh();
      line(i + " = trunc " + i32.str() + " " + s + " to " + i16.str());
    } else if (from.is_float()) { i = fresh(); line(i + " = bitcast " + reg(from, v).str() + " " + x + " to " + it.str()); }
    std::string n = fresh();
    if (to.is_bool()) { line(n + " = icmp ne " + it.str() + " " + i + ", " + it.c("0")); return n; }
    if (is_bf16(to)) {
      std::string w = fresh(), s = fresh();
      line(w + " = zext " + i16.str() + " " + i + " to " + i32.str());
      line(s + " = shl " + i32.str() + " " + w + ", " + i32.c("16"));
      line(n + " = bitcast " + i32.str() + " " + s + " to " + reg(to, v).str());
      return n;
    }
    if (to.is_float()) { line(n + " = bitcast " + it.str() + " " + i + " to " + reg(to, v).str()); return n; }
    return i;
  }

  // ---- memory ----
  // From the bytes loaded (mem type) to the register type.
  std::string from_mem(DType d, bool v, const std::string& r) {
    if (d.is_bool()) { std::string n = fresh(); line(n + " = icmp ne " + mem(d, v).str() + " " + r + ", " + mem(d, v).c("0")); return n; }
    if (is_bf16(d)) return bitcast(dtypes::int16, d, v, r);
    return r;
  }

  std::string load(const UOp* u) {
    const UOp* idx = u->src[0].get();
    DType d = u->dtype;
    bool v = vec(u);
    Ty m = mem(d, v);
    std::string p = val(idx), align = std::to_string(d.itemsize());
    const UOp* gate = idx->src.size() > 2 ? idx->src[2].get() : nullptr;
    bool always = !gate || (gate->op == Ops::CONST && gate->const_int());
    bool per_lane = v && (!contiguous(idx) || (gate && vec(gate)));
    if (per_lane) {  // a gather, or a contiguous load with a mask
      std::string mask = gate ? val(gate, true) : m.with("i1").c("true"), n = fresh();
      if (contiguous(idx)) {
        std::string name = "llvm.masked.load." + m.sfx() + ".p0";
        declare("declare " + m.str() + " @" + name + "(ptr, i32, " + m.with("i1").str() + ", " + m.str() + ")");
        line(n + " = call " + m.str() + " @" + name + "(ptr " + p + ", i32 " + align + ", " + m.with("i1").str() + " " + mask + ", " + m.str() + " zeroinitializer)");
      } else {
        Ty ptrs = m.with("ptr");
        std::string name = "llvm.masked.gather." + m.sfx() + "." + ptrs.sfx();
        declare("declare " + m.str() + " @" + name + "(" + ptrs.str() + ", i32, " + m.with("i1").str() + ", " + m.str() + ")");
        line(n + " = call " + m.str() + " @" + name + "(" + ptrs.str() + " " + p + ", i32 " + align + ", " + m.with("i1").str() + " " + mask + ", " + m.str() + " zeroinitializer)");
      }
      return from_mem(d, v, n);
    }
    if (always) {
      std::string r = fresh();
      line(r + " = load " + m.str() + ", ptr " + p + ", align " + align);
      return from_mem(d, v, r);
    }
    // one gate for the whole value: branch around the load
    std::string id = std::to_string(n_++), from = block_;
    line("br i1 " + val(gate) + ", label %ld" + id + ", label %ldj" + id);
    label("ld" + id);
    std::string r = fresh();
    line(r + " = load " + m.str() + ", ptr " + p + ", align " + align);
    std::string x = from_mem(d, v, r);
    std::string loaded_in = block_;
    line("br label %ldj" + id);
    label("ldj" + id);
    std::string n = fresh();
    Ty t = reg(d, v);
    line(n + " = phi " + t.str() + " [" + x + ", %" + loaded_in + "], [" + t.c(zero_lit(d)) + ", %" + from + "]");
    return n;
  }

  void store(const UOp* u) {
    const UOp* idx = u->src[0].get();
    const UOp* val_node = u->src[1].get();
    DType d = val_node->dtype;
    bool v = contiguous(idx) || vec(idx);
    Ty m = mem(d, v);
    std::string x = val(val_node, v), align = std::to_string(d.itemsize());
    if (d.is_bool()) { std::string z = fresh(); line(z + " = zext " + reg(d, v).str() + " " + x + " to " + m.str()); x = z; }
    else if (is_bf16(d)) x = bitcast(d, dtypes::int16, v, x);
    // a gate masks the lanes past the end of a padded upcast
    const UOp* gate = idx->src.size() > 2 ? idx->src[2].get() : nullptr;
    bool always = !gate || (gate->op == Ops::CONST && gate->const_int());
    std::string mask = always ? m.with("i1").c("true") : val(gate, true);
    if (v && !contiguous(idx)) {
      Ty ptrs = m.with("ptr");
      std::string name = "llvm.masked.scatter." + m.sfx() + "." + ptrs.sfx();
      declare("declare void @" + name + "(" + m.str() + ", " + ptrs.str() + ", i32, " + m.with("i1").str() + ")");
      line("call void @" + name + "(" + m.str() + " " + x + ", " + ptrs.str() + " " + val(idx) + ", i32 " + align + ", " +
           m.with("i1").str() + " " + mask + ")");
      return;
    }
    if (always) {
      line("store " + m.str() + " " + x + ", ptr " + val(idx) + ", align " + align);
      return;
    }
    if (v) {
      std::string name = "llvm.masked.store." + m.sfx() + ".p0";
      declare("declare void @" + name + "(" + m.str() + ", ptr, i32, " + m.with("i1").str() + ")");
      line("call void @" + name + "(" + m.str() + " " + x + ", ptr " + val(idx) + ", i32 " + align + ", " + m.with("i1").str() + " " + mask + ")");
      return;
    }
    std::string id = std::to_string(n_++);  // one gate for the whole value: branch around the store
    line("br i1 " + val(gate) + ", label %st" + id + ", label %stj" + id);
    label("st" + id);
    line("store " + m.str() + " " + x + ", ptr " + val(idx) + ", align " + align);
    line("br label %stj" + id);
    label("stj" + id);
  }

  void op(const UOp* u) {
    std::string n;
    bool v = vec(u);
    switch (u->op) {
      case Ops::INDEX: {  // one pointer, or (per lane) a vector of them
        n = fresh();
        line(n + " = getelementptr " + mem_scalar(u->dtype.base()) + ", ptr " + val(u->src[0].get()) + ", " +
             reg(dtypes::index, v).str() + " " + val(u->src[1].get(), v));
        break;
      }
      case Ops::LOAD: n = load(u); break;
      case Ops::STORE: store(u); return;
      case Ops::REDUCE: {
        std::string a = fresh();
        line(a + " = load " + reg(compute(u->dtype), v).str() + ", ptr " + accs_.at(u));
        n = narrow(u->dtype, v, a);
        break;
      }
      case Ops::CAST: n = cast(u->src[0]->dtype, u->dtype, v, val(u->src[0].get(), v)); break;
      case Ops::BITCAST: n = bitcast(u->src[0]->dtype, u->dtype, v, val(u->src[0].get(), v)); break;
      case Ops::WHERE: {
        n = fresh();
        Ty t = reg(u->dtype, v);
        line(n + " = select " + reg(dtypes::bool_, v).str() + " " + val(u->src[0].get(), v) + ", " + t.str() + " " + val(u->src[1].get(), v) +
             ", " + t.str() + " " + val(u->src[2].get(), v));
        break;
      }
      default: {
        if (!is_alu(u->op)) fail(ErrorKind::Compile, "CPU renderer: cannot render " + node_str(u));
        DType d = u->src[0]->dtype;
        if (op_group(u->op) == OpGroup::Unary) n = unary(u->op, d, v, val(u->src[0].get(), v));
        else if (op_group(u->op) == OpGroup::Binary) n = binary(u->op, d, v, val(u->src[0].get(), v), val(u->src[1].get(), v));
        else fail(ErrorKind::Compile, "CPU renderer: cannot render " + node_str(u));
        if (is_bf16(u->dtype)) n = bf16_round(v, n);
      }
    }
    names_[u] = n;
  }

  const codegen::Kernel& k_;
  int w_;
  std::string allocas_, body_, block_ = "entry";
  std::set<std::string> decls_;
  std::unordered_map<const UOp*, std::string> names_, loops_, accs_;
  codegen::LaneValues lanes_{k_.lane};
  int n_ = 0;
};
}  // namespace

RenderedKernel render_kernel(const codegen::Kernel& k) { return Renderer(k).run(); }

std::string render_module(std::span<const RenderedKernel> ks) {
  std::string out;
  std::set<std::string> decls;
  for (const RenderedKernel& k : ks) {
    out += k.text + "\n";
    decls.insert(k.decls.begin(), k.decls.end());
  }
  for (const std::string& d : decls) out += d + "\n";
  return out;
}

std::string render_llvm(const codegen::Kernel& k) {
  RenderedKernel r = render_kernel(k);
  return render_module(std::span<const RenderedKernel>(&r, 1));
}

}  // namespace mg::cpu
