// LLVM IR text for a linearized kernel. Loops count in allocas (LLVM's mem2reg makes them
// registers); float16 computes in LLVM's half (promoted to float per op, as docs/semantics.md
// says); bfloat16 lives in float registers, rounded after every op; bool is i1 in registers
// and a byte in memory. Integer division, modulo and shifts are guarded so that nothing here
// is undefined (the values are those of docs/semantics.md).
#include "backends/cpu/llvm_renderer.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <unordered_map>

#include "uop/error.h"

namespace mg::cpu {

namespace {
using codegen::LinItem;

bool is_bf16(DType d) { return d.scalar == Scalar::BFloat16; }
bool is_signed_int(DType d) { return d.is_int() && !d.is_unsigned(); }

// The type a value has in registers.
std::string reg(DType d) {
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
// The type a value has in memory.
std::string mem(DType d) {
  if (d.scalar == Scalar::Bool) return "i8";
  if (is_bf16(d)) return "i16";
  return reg(d);
}
// What float16 and bfloat16 compute in (reductions accumulate in it too).
DType compute(DType d) { return d.scalar == Scalar::Float16 || is_bf16(d) ? dtypes::float32 : d; }
int bits(DType d) { return d.itemsize() * 8; }

std::string hex_double(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  char s[24];
  std::snprintf(s, sizeof s, "0x%016llX", static_cast<unsigned long long>(b));
  return s;
}

std::string float_lit(DType d, double v) {
  if (d.scalar == Scalar::Float16) {
    char s[16];
    std::snprintf(s, sizeof s, "0xH%04X", unsigned(float_to_half(float(v))));
    return s;
  }
  if (d.scalar == Scalar::Float64) return hex_double(v);
  return hex_double(double(float(v)));  // float and bfloat16 registers: exact in float
}

std::string intrinsic_suffix(DType d) { return d.scalar == Scalar::Float16 ? "f16" : d.scalar == Scalar::Float64 ? "f64" : "f32"; }

class Renderer {
 public:
  explicit Renderer(const codegen::Kernel& k) : k_(k) {}

  std::string run() {
    for (const LinItem& it : k_.lin) item(it);
    std::string out;
    out += "; kernel " + k_.name + "\n";
    out += "define internal void @body(";
    for (int i = 0; i < k_.n_params; i++) out += (i ? ", " : "") + std::string("ptr noalias %b") + std::to_string(i);
    out += std::string(k_.n_params ? ", " : "") + "i64 %begin, i64 %end) alwaysinline nounwind {\nentry:\n" + allocas_ + body_ + "  ret void\n}\n\n";
    out += "define void @" + k_.fn_name + "(ptr %args, i64 %begin, i64 %end) nounwind {\nentry:\n";
    std::string call;
    for (int i = 0; i < k_.n_params; i++) {
      std::string n = std::to_string(i);
      out += "  %a" + n + " = getelementptr ptr, ptr %args, i64 " + n + "\n  %p" + n + " = load ptr, ptr %a" + n + "\n";
      call += "ptr %p" + n + ", ";
    }
    out += "  call void @body(" + call + "i64 %begin, i64 %end)\n  ret void\n}\n";
    for (const std::string& d : decls_) out += d + "\n";
    return out;
  }

 private:
  std::string fresh(const char* p = "v") { return "%" + std::string(p) + std::to_string(n_++); }
  void line(const std::string& s) { body_ += "  " + s + "\n"; }
  void label(const std::string& l) { body_ += l + ":\n"; block_ = l; }
  void declare(const std::string& d) { decls_.insert(d); }

  // The operand text of a node: constants inline, everything else by its latest name.
  std::string val(const UOp* u) {
    if (u->op == Ops::CONST) return lit(u->dtype, u);
    if (u->op == Ops::DEFINE_GLOBAL) return "%b" + std::to_string(std::get<int64_t>(u->arg));
    auto it = names_.find(u);
    if (it == names_.end()) fail(ErrorKind::Internal, "CPU renderer: " + node_str(u) + " used before it was computed");
    return it->second;
  }
  std::string lit(DType d, const UOp* c) {
    if (d.is_bool()) return c->const_int() ? "true" : "false";
    if (d.is_float()) return float_lit(d, c->const_float());
    return std::to_string(c->const_int());
  }
  std::string typed(const UOp* u) { return reg(u->dtype) + " " + val(u); }

  void item(const LinItem& it) {
    switch (it.kind) {
      case LinItem::LoopBegin: loop_begin(it.u); break;
      case LinItem::LoopEnd: loop_end(it.u); break;
      case LinItem::AccInit: acc_init(it.u); break;
      case LinItem::AccUpdate: acc_update(it.u, it.v); break;
      case LinItem::Op: op(it.u); break;
    }
  }

  void loop_begin(const UOp* r) {
    std::string id = std::to_string(n_++);
    std::string ctr = "%ctr" + id;
    allocas_ += "  " + ctr + " = alloca i64\n";
    bool outer = r == k_.outer_range;
    line("store i64 " + std::string(outer ? "%begin" : "0") + ", ptr " + ctr);
    line("br label %head" + id);
    label("head" + id);
    std::string i = "%i" + id, c = "%c" + id;
    line(i + " = load i64, ptr " + ctr);
    std::string end = outer ? "%end" : std::to_string(r->src[0]->const_int());
    line(c + " = icmp slt i64 " + i + ", " + end);
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

  std::string identity(Ops op, DType c) {
    if (op == Ops::ADD) return c.is_float() ? float_lit(c, 0.0) : c.is_bool() ? "false" : "0";
    if (op == Ops::MUL) return c.is_float() ? float_lit(c, 1.0) : c.is_bool() ? "true" : "1";
    if (c.is_float()) return float_lit(c, -INFINITY);
    if (c.is_bool()) return "false";
    return std::to_string(int64_t(int_min(c.scalar)));
  }

  void acc_init(const UOp* r) {
    DType c = compute(r->dtype);
    std::string acc = "%acc" + std::to_string(n_++);
    allocas_ += "  " + acc + " = alloca " + reg(c) + "\n";
    line("store " + reg(c) + " " + identity(std::get<Ops>(r->arg), c) + ", ptr " + acc);
    accs_[r] = acc;
  }

  void acc_update(const UOp* r, const UOp* v) {
    DType c = compute(r->dtype);
    const std::string& acc = accs_.at(r);
    std::string cur = fresh();
    line(cur + " = load " + reg(c) + ", ptr " + acc);
    std::string x = widen(v);
    std::string out = binary(std::get<Ops>(r->arg), c, cur, x, /*reassoc=*/true);
    line("store " + reg(c) + " " + out + ", ptr " + acc);
  }

  // v in its compute type (float16 -> float; the others are already there).
  std::string widen(const UOp* v) {
    if (v->dtype.scalar != Scalar::Float16) return val(v);
    std::string w = fresh();
    line(w + " = fpext half " + val(v) + " to float");
    return w;
  }

  // From float (the compute type) back to a float16 or bfloat16 value.
  std::string narrow(DType d, const std::string& x) {
    if (d.scalar == Scalar::Float16) {
      std::string n = fresh();
      line(n + " = fptrunc float " + x + " to half");
      return n;
    }
    if (is_bf16(d)) return bf16_round(x);
    return x;
  }

  std::string bf16_round(const std::string& x) {
    declare(
        "define internal float @mg_bf16(float %x) alwaysinline nounwind {\n"
        "  %b = bitcast float %x to i32\n  %abs = and i32 %b, 2147483647\n  %nan = icmp ugt i32 %abs, 2139095040\n"
        "  %lsb = lshr i32 %b, 16\n  %odd = and i32 %lsb, 1\n  %up = add i32 %b, 32767\n  %rnd = add i32 %up, %odd\n"
        "  %rm = and i32 %rnd, -65536\n  %q = or i32 %b, 4194304\n  %qm = and i32 %q, -65536\n"
        "  %sel = select i1 %nan, i32 %qm, i32 %rm\n  %f = bitcast i32 %sel to float\n  ret float %f\n}");
    std::string n = fresh();
    line(n + " = call float @mg_bf16(float " + x + ")");
    return n;
  }

  std::string call1(const std::string& fn, DType d, const std::string& x) {
    std::string name = "llvm." + fn + "." + intrinsic_suffix(d);
    declare("declare " + reg(d) + " @" + name + "(" + reg(d) + ")");
    std::string n = fresh();
    line(n + " = call " + reg(d) + " @" + name + "(" + reg(d) + " " + x + ")");
    return n;
  }

  // a op b for two values of dtype d (registers of reg(d)).
  std::string binary(Ops op, DType d, const std::string& a, const std::string& b, bool reassoc = false) {
    std::string t = reg(d), n = fresh();
    auto emit = [&](const std::string& ins) { line(n + " = " + ins + " " + t + " " + a + ", " + b); return n; };
    std::string fl = reassoc ? "reassoc " : "";
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
          line(un + " = fcmp uno " + t + " " + a + ", " + b);
          line(gt + " = fcmp ogt " + t + " " + a + ", " + b);
          line(m + " = select i1 " + gt + ", " + t + " " + a + ", " + t + " " + b);
          line(n + " = select i1 " + un + ", " + t + " " + float_lit(d, NAN) + ", " + t + " " + m);
          return n;
        }
        case Ops::POW: {
          std::string name = "llvm.pow." + intrinsic_suffix(d);
          declare("declare " + t + " @" + name + "(" + t + ", " + t + ")");
          line(n + " = call " + t + " @" + name + "(" + t + " " + a + ", " + t + " " + b + ")");
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
          line(gt + " = icmp " + std::string(s ? "sgt " : "ugt ") + t + " " + a + ", " + b);
          line(n + " = select i1 " + gt + ", " + t + " " + a + ", " + t + " " + b);
          return n;
        }
        case Ops::IDIV: case Ops::MOD: return divmod(op, d, a, b, n);
        case Ops::SHL: case Ops::SHR: return shift(op, d, a, b, n);
        case Ops::POW: return ipow(d, a, b, n);
        default: break;
      }
    }
    fail(ErrorKind::Compile, std::string("CPU renderer: no ") + op_name(op) + " for " + d.name());
  }

  // By zero: 0. Signed by -1: -a for IDIV (MIN wraps to MIN), 0 for MOD. Never a trap.
  std::string divmod(Ops op, DType d, const std::string& a, const std::string& b, const std::string& n) {
    std::string t = reg(d), z = fresh(), bad = fresh(), safe = fresh(), q = fresh();
    bool s = is_signed_int(d);
    line(z + " = icmp eq " + t + " " + b + ", 0");
    std::string m1 = "false";
    if (s) { m1 = fresh(); line(m1 + " = icmp eq " + t + " " + b + ", -1"); }
    line(bad + " = or i1 " + z + ", " + m1);
    line(safe + " = select i1 " + bad + ", " + t + " 1, " + t + " " + b);
    const char* ins = op == Ops::IDIV ? (s ? "sdiv" : "udiv") : (s ? "srem" : "urem");
    line(q + " = " + ins + " " + t + " " + a + ", " + safe);
    if (op == Ops::MOD) { line(n + " = select i1 " + bad + ", " + t + " 0, " + t + " " + q); return n; }
    std::string neg = fresh(), r = fresh();
    line(neg + " = sub " + t + " 0, " + a);
    line(r + " = select i1 " + m1 + ", " + t + " " + neg + ", " + t + " " + q);
    line(n + " = select i1 " + z + ", " + t + " 0, " + t + " " + r);
    return n;
  }

  // A shift by a negative amount or by the width or more shifts every bit out.
  std::string shift(Ops op, DType d, const std::string& a, const std::string& b, const std::string& n) {
    std::string t = reg(d), oob = fresh(), safe = fresh(), r = fresh();
    line(oob + " = icmp uge " + t + " " + b + ", " + std::to_string(bits(d)));
    line(safe + " = select i1 " + oob + ", " + t + " 0, " + t + " " + b);
    bool s = is_signed_int(d);
    line(r + " = " + std::string(op == Ops::SHL ? "shl" : s ? "ashr" : "lshr") + " " + t + " " + a + ", " + safe);
    std::string out = "0";
    if (op == Ops::SHR && s) { out = fresh(); line(out + " = ashr " + t + " " + a + ", " + std::to_string(bits(d) - 1)); }
    line(n + " = select i1 " + oob + ", " + t + " " + out + ", " + t + " " + r);
    return n;
  }

  // Square and multiply with wrap-around; negative exponents as docs/semantics.md.
  std::string ipow(DType d, const std::string& a, const std::string& b, const std::string& n) {
    std::string t = reg(d), fn = "@mg_ipow_" + std::string(is_signed_int(d) ? "s" : "u") + t;
    bool s = is_signed_int(d);
    std::string neg_case = s ? "  %neg = icmp slt " + t + " %b, 0\n  br i1 %neg, label %negexp, label %loop\n"
                               "negexp:\n  %one = icmp eq " + t + " %a, 1\n  %mone = icmp eq " + t + " %a, -1\n"
                               "  %odd = and " + t + " %b, 1\n  %isodd = icmp ne " + t + " %odd, 0\n"
                               "  %pm = select i1 %isodd, " + t + " -1, " + t + " 1\n"
                               "  %r1 = select i1 %mone, " + t + " %pm, " + t + " 0\n"
                               "  %r2 = select i1 %one, " + t + " 1, " + t + " %r1\n  ret " + t + " %r2\n"
                             : "  br label %loop\n";
    declare("define internal " + t + " " + fn + "(" + t + " %a, " + t + " %b) nounwind {\nentry:\n" + neg_case +
            "loop:\n  %r = phi " + t + " [1, %entry], [%r.n, %step]\n  %x = phi " + t + " [%a, %entry], [%x.n, %step]\n"
            "  %e = phi " + t + " [%b, %entry], [%e.n, %step]\n  %more = icmp ne " + t + " %e, 0\n"
            "  br i1 %more, label %step, label %done\nstep:\n  %bit = and " + t + " %e, 1\n  %isbit = icmp ne " + t + " %bit, 0\n"
            "  %rx = mul " + t + " %r, %x\n  %r.n = select i1 %isbit, " + t + " %rx, " + t + " %r\n  %x.n = mul " + t + " %x, %x\n"
            "  %e.n = lshr " + t + " %e, 1\n  br label %loop\ndone:\n  ret " + t + " %r\n}");
    line(n + " = call " + t + " " + fn + "(" + t + " " + a + ", " + t + " " + b + ")");
    return n;
  }

  std::string unary(Ops op, DType d, const std::string& x) {
    switch (op) {
      case Ops::NEG: {
        std::string n = fresh();
        if (d.is_float()) line(n + " = fneg " + reg(d) + " " + x);
        else line(n + " = sub " + reg(d) + " 0, " + x);
        return n;
      }
      case Ops::EXP2: return call1("exp2", d, x);
      case Ops::LOG2: return call1("log2", d, x);
      case Ops::SIN: return call1("sin", d, x);
      case Ops::SQRT: return call1("sqrt", d, x);
      case Ops::TRUNC: return call1("trunc", d, x);
      case Ops::RECIPROCAL: {
        std::string n = fresh();
        line(n + " = fdiv " + reg(d) + " " + float_lit(d, 1.0) + ", " + x);
        return n;
      }
      default: fail(ErrorKind::Compile, std::string("CPU renderer: no ") + op_name(op) + " for " + d.name());
    }
  }

  std::string cast(DType from, DType to, const std::string& x) {
    std::string n = fresh();
    if (to.is_bool()) {
      if (from.is_float()) line(n + " = fcmp une " + reg(from) + " " + x + ", " + float_lit(from, 0.0));
      else line(n + " = icmp ne " + reg(from) + " " + x + ", 0");
      return n;
    }
    if (from.is_bool()) {
      if (to.is_float()) { line(n + " = uitofp i1 " + x + " to " + reg(to)); return n; }
      line(n + " = zext i1 " + x + " to " + reg(to));
      return n;
    }
    if (from.is_int() && to.is_int()) {
      int fb = bits(from), tb = bits(to);
      if (fb == tb) return x;
      line(n + " = " + std::string(tb < fb ? "trunc" : is_signed_int(from) ? "sext" : "zext") + " " + reg(from) + " " + x + " to " + reg(to));
      return n;
    }
    if (from.is_int()) {  // -> float: float64 directly, the others through float32
      const char* ins = is_signed_int(from) ? "sitofp" : "uitofp";
      if (to.scalar == Scalar::Float64) { line(n + " = " + ins + " " + reg(from) + " " + x + " to double"); return n; }
      line(n + " = " + ins + " " + reg(from) + " " + x + " to float");
      return narrow(to, n);
    }
    if (to.is_int()) {  // saturating, NaN -> 0
      std::string name = std::string("llvm.") + (is_signed_int(to) ? "fptosi" : "fptoui") + ".sat." + reg(to) + "." + intrinsic_suffix(from);
      declare("declare " + reg(to) + " @" + name + "(" + reg(from) + ")");
      line(n + " = call " + reg(to) + " @" + name + "(" + reg(from) + " " + x + ")");
      return n;
    }
    // float -> float
    std::string f = x;
    if (from.scalar == Scalar::Float16) { line(n + " = fpext half " + x + " to float"); f = n; }
    else if (from.scalar == Scalar::Float64 && to.scalar != Scalar::Float64) { line(n + " = fptrunc double " + x + " to float"); f = n; }
    // f is float now unless from is float64 (and so is to) or from is float32/bfloat16
    if (to.scalar == Scalar::Float64) {
      if (from.scalar == Scalar::Float64) return x;
      std::string m = fresh();
      line(m + " = fpext float " + f + " to double");
      return m;
    }
    if (to.scalar == Scalar::Float32) return f;
    return narrow(to, f);
  }

  std::string bitcast(DType from, DType to, const std::string& x) {
    // bring to the integer of the width, then to the target's register
    std::string ity = "i" + std::to_string(bits(from)), i = x;
    if (from.is_bool()) { i = fresh(); line(i + " = zext i1 " + x + " to i8"); }
    else if (is_bf16(from)) {
      std::string w = fresh(), s = fresh();
      line(w + " = bitcast float " + x + " to i32");
      line(s + " = lshr i32 " + w + ", 16");
      i = fresh();
      line(i + " = trunc i32 " + s + " to i16");
    } else if (from.is_float()) { i = fresh(); line(i + " = bitcast " + reg(from) + " " + x + " to " + ity); }
    std::string n = fresh();
    if (to.is_bool()) { line(n + " = icmp ne " + ity + " " + i + ", 0"); return n; }
    if (is_bf16(to)) {
      std::string w = fresh(), s = fresh();
      line(w + " = zext i16 " + i + " to i32");
      line(s + " = shl i32 " + w + ", 16");
      line(n + " = bitcast i32 " + s + " to float");
      return n;
    }
    if (to.is_float()) { line(n + " = bitcast " + ity + " " + i + " to " + reg(to)); return n; }
    return i;
  }

  // Loads and stores convert between memory and register types.
  std::string load(const UOp* u) {
    const UOp* idx = u->src[0].get();
    DType d = u->dtype;
    std::string p = val(idx);
    auto raw = [&](const std::string& into) {
      std::string r = d.is_bool() || is_bf16(d) ? fresh() : into;
      line(r + " = load " + mem(d) + ", ptr " + p);
      if (d.is_bool()) line(into + " = icmp ne i8 " + r + ", 0");
      else if (is_bf16(d)) {
        std::string w = fresh(), s = fresh();
        line(w + " = zext i16 " + r + " to i32");
        line(s + " = shl i32 " + w + ", 16");
        line(into + " = bitcast i32 " + s + " to float");
      }
    };
    const UOp* gate = idx->src.size() > 2 ? idx->src[2].get() : nullptr;
    std::string n = fresh();
    if (!gate || (gate->op == Ops::CONST && gate->const_int())) { raw(n); return n; }
    std::string id = std::to_string(n_++), from = block_;
    line("br i1 " + val(gate) + ", label %ld" + id + ", label %ldj" + id);
    label("ld" + id);
    std::string v = fresh();
    raw(v);
    line("br label %ldj" + id);
    label("ldj" + id);
    std::string zero = d.is_bool() ? "false" : d.is_float() ? float_lit(d, 0.0) : "0";
    line(n + " = phi " + reg(d) + " [" + v + ", %ld" + id + "], [" + zero + ", %" + from + "]");
    return n;
  }

  void store(const UOp* u) {
    const UOp* idx = u->src[0].get();
    const UOp* v = u->src[1].get();
    DType d = v->dtype;
    std::string x = val(v);
    if (d.is_bool()) { std::string z = fresh(); line(z + " = zext i1 " + x + " to i8"); x = z; }
    else if (is_bf16(d)) x = bitcast(d, dtypes::int16, x);
    line("store " + mem(d) + " " + x + ", ptr " + val(idx));
  }

  void op(const UOp* u) {
    std::string n;
    switch (u->op) {
      case Ops::INDEX: {
        n = fresh();
        DType el = u->dtype.base();
        line(n + " = getelementptr " + mem(el) + ", ptr " + val(u->src[0].get()) + ", i64 " + val(u->src[1].get()));
        break;
      }
      case Ops::LOAD: n = load(u); break;
      case Ops::STORE: store(u); return;
      case Ops::REDUCE: {
        DType c = compute(u->dtype);
        std::string a = fresh();
        line(a + " = load " + reg(c) + ", ptr " + accs_.at(u));
        n = narrow(u->dtype, a);
        break;
      }
      case Ops::CAST: n = cast(u->src[0]->dtype, u->dtype, val(u->src[0].get())); break;
      case Ops::BITCAST: n = bitcast(u->src[0]->dtype, u->dtype, val(u->src[0].get())); break;
      case Ops::WHERE: {
        n = fresh();
        line(n + " = select i1 " + val(u->src[0].get()) + ", " + typed(u->src[1].get()) + ", " + typed(u->src[2].get()));
        break;
      }
      default: {
        if (!is_alu(u->op)) fail(ErrorKind::Compile, "CPU renderer: cannot render " + node_str(u));
        DType d = u->src[0]->dtype;
        if (op_group(u->op) == OpGroup::Unary) n = unary(u->op, d, val(u->src[0].get()));
        else if (op_group(u->op) == OpGroup::Binary) n = binary(u->op, d, val(u->src[0].get()), val(u->src[1].get()));
        else fail(ErrorKind::Compile, "CPU renderer: cannot render " + node_str(u));
        if (is_bf16(u->dtype)) n = bf16_round(n);
      }
    }
    names_[u] = n;
  }

  const codegen::Kernel& k_;
  std::string allocas_, body_, block_ = "entry";
  std::set<std::string> decls_;
  std::unordered_map<const UOp*, std::string> names_, loops_, accs_;
  int n_ = 0;
};
}  // namespace

std::string render_llvm(const codegen::Kernel& k) { return Renderer(k).run(); }

}  // namespace mg::cpu
