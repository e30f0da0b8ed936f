// N-API glue: unpack typed arrays (zero-copy) and numbers, check every buffer is large enough for the work asked of
// it (a wrong size is a thrown Error, never a write out of bounds), and call the kernels of kernels.h.
#include <node_api.h>
#include <dnnl.h>
#include <string>
#include <vector>
#include "kernels.h"

using namespace kdq;

namespace {

struct Arr { void* data = nullptr; size_t len = 0; int esize = 0; napi_typedarray_type type; };

struct Ctx {
  napi_env env;
  napi_value argv[10];
  size_t argc = 10;
  bool failed = false;
  Ctx(napi_env e, napi_callback_info info) : env(e) { napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr); }
  napi_value fail(const std::string& msg) {
    if (!failed) napi_throw_error(env, "KDQAT_NATIVE", msg.c_str());
    failed = true;
    return nullptr;
  }
  Arr arr(size_t i, const char* what) {
    Arr a;
    bool is = false;
    if (i >= argc || napi_is_typedarray(env, argv[i], &is) != napi_ok || !is) { fail(std::string(what) + ": expected a typed array"); return a; }
    napi_value buf; size_t off;
    napi_get_typedarray_info(env, argv[i], &a.type, &a.len, &a.data, &buf, &off);
    switch (a.type) {
      case napi_float32_array: case napi_int32_array: case napi_uint32_array: a.esize = 4; break;
      case napi_uint8_array: case napi_int8_array: case napi_uint8_clamped_array: a.esize = 1; break;
      case napi_int16_array: case napi_uint16_array: a.esize = 2; break;
      default: a.esize = 8;
    }
    return a;
  }
  Arr f32(size_t i, const char* what) {
    Arr a = arr(i, what);
    if (!failed && a.type != napi_float32_array) fail(std::string(what) + ": expected a Float32Array");
    return a;
  }
  int64_t num(size_t i) { double d = 0; if (i < argc) napi_get_value_double(env, argv[i], &d); return int64_t(d); }
  double dbl(size_t i) { double d = 0; if (i < argc) napi_get_value_double(env, argv[i], &d); return d; }
  bool flag(size_t i) { bool b = false; if (i < argc) napi_get_value_bool(env, argv[i], &b); return b; }
  std::vector<int64_t> ints(size_t i) {
    std::vector<int64_t> v; uint32_t n = 0;
    if (i >= argc || napi_get_array_length(env, argv[i], &n) != napi_ok) { fail("expected an array of integers"); return v; }
    for (uint32_t k = 0; k < n; k++) { napi_value e; double d; napi_get_element(env, argv[i], k, &e); napi_get_value_double(env, e, &d); v.push_back(int64_t(d)); }
    return v;
  }
  bool need(const Arr& a, int64_t n, const char* what) {
    if (!failed && (n < 0 || int64_t(a.len) < n)) fail(std::string(what) + ": buffer of " + std::to_string(a.len) + " elements, " + std::to_string(n) + " needed");
    return !failed;
  }
  napi_value number(double d) { napi_value v; napi_create_double(env, d, &v); return v; }
};

/** highest element index reached by dims/strides from offset 0, +1 (0 when any dim is 0) */
int64_t extent(const std::vector<int64_t>& d, const std::vector<int64_t>& s) {
  int64_t e = 0;
  for (size_t k = 0; k < d.size(); k++) { if (d[k] == 0) return 0; e += (d[k] - 1) * s[k]; }
  return e + 1;
}

/** the operands of matmul / int8Matmul (a, b, out, batchA, batchB, M, N, K, ...), checked; ok false after a thrown error */
struct MatmulArgs {
  Arr a, b, o;
  int64_t ba = 0, bb = 0, M = 0, N = 0, K = 0;
  bool ok = false;
  MatmulArgs(Ctx& c, const char* what) {
    a = c.f32(0, "a"); b = c.f32(1, "b"); o = c.f32(2, "out");
    ba = c.num(3); bb = c.num(4); M = c.num(5); N = c.num(6); K = c.num(7);
    if (c.failed) return;
    if (ba < 1 || bb < 1 || (ba != bb && ba != 1 && bb != 1)) { c.fail(std::string(what) + ": batch sizes must match or be 1"); return; }
    const std::string w(what);
    ok = c.need(a, ba * M * K, (w + " a").c_str()) && c.need(b, bb * K * N, (w + " b").c_str()) && c.need(o, (ba > bb ? ba : bb) * M * N, (w + " out").c_str());
  }
};

napi_value Matmul(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  MatmulArgs m(c, "matmul");
  if (!m.ok) return nullptr;
  std::string err = batch_matmul((float*)m.a.data, (float*)m.b.data, (float*)m.o.data, m.ba, m.bb, m.M, m.N, m.K, c.flag(8), c.flag(9));
  return err.empty() ? nullptr : c.fail(err);
}

napi_value Int8Matmul(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  MatmulArgs m(c, "int8Matmul");
  if (!m.ok) return nullptr;
  const int r = int8_matmul((float*)m.a.data, (float*)m.b.data, (float*)m.o.data, m.ba, m.bb, m.M, m.N, m.K, c.flag(8));
  if (r == 2) return c.fail("dnnl_gemm_s8s8s32 failed");
  return c.number(r);
}

napi_value UnaryOp(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  const int op = int(c.num(0));
  Arr x = c.f32(1, "x"), y = c.f32(2, "out");
  if (c.failed) return nullptr;
  if (op < 0 || op >= U_COUNT) return c.fail("unary: unknown op " + std::to_string(op));
  if (!c.need(x, y.len, "unary x")) return nullptr;
  unary(op, (float*)x.data, (float*)y.data, int64_t(y.len), float(c.dbl(3)), float(c.dbl(4)));
  return nullptr;
}

napi_value BinaryOp(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  const int op = int(c.num(0));
  Arr a = c.f32(1, "a"), b = c.f32(2, "b"), o = c.arr(3, "out");
  std::vector<int64_t> d = c.ints(4), sa = c.ints(5), sb = c.ints(6);
  if (c.failed) return nullptr;
  if (op < 0 || op >= B_COUNT) return c.fail("binary: unknown op " + std::to_string(op));
  if (d.empty() || d.size() > MAX_DIMS || sa.size() != d.size() || sb.size() != d.size()) return c.fail("binary: bad dims/strides");
  const bool cmp = op >= B_GREATER;
  if (cmp ? o.esize != 1 : o.type != napi_float32_array) return c.fail("binary: output array of the wrong type");
  int64_t n = 1;
  for (int64_t v : d) n *= v;
  if (n == 0) return nullptr;
  if (!c.need(o, n, "binary out") || !c.need(a, extent(d, sa), "binary a") || !c.need(b, extent(d, sb), "binary b")) return nullptr;
  binary(op, (float*)a.data, (float*)b.data, o.data, int(d.size()), d.data(), sa.data(), sb.data());
  return nullptr;
}

napi_value Logical(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  const int op = int(c.num(0));
  Arr a = c.arr(1, "a"), b = c.arr(2, "b"), o = c.arr(3, "out");
  if (c.failed) return nullptr;
  if (op < 0 || op > 2 || a.esize != 1 || b.esize != 1 || o.esize != 1) return c.fail("logical: expected op 0..2 and Uint8Arrays");
  if (!c.need(a, o.len, "logical a") || !c.need(b, op == 2 ? 0 : o.len, "logical b")) return nullptr;
  logical(op, (uint8_t*)a.data, (uint8_t*)b.data, (uint8_t*)o.data, int64_t(o.len));
  return nullptr;
}

napi_value Select(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  Arr cond = c.arr(0, "condition"), a = c.f32(1, "t"), b = c.f32(2, "e"), o = c.f32(3, "out");
  if (c.failed) return nullptr;
  if (cond.esize != 1) return c.fail("select: condition must be a Uint8Array");
  if (!c.need(cond, o.len, "select condition") || !c.need(a, o.len, "select t") || !c.need(b, o.len, "select e")) return nullptr;
  select((uint8_t*)cond.data, (float*)a.data, (float*)b.data, (float*)o.data, int64_t(o.len));
  return nullptr;
}

napi_value SymQuant(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  Arr x = c.f32(0, "x"), o = c.f32(1, "ints");
  if (c.failed || !c.need(x, o.len, "symQuant x")) return nullptr;
  return c.number(sym_quant((float*)x.data, (float*)o.data, int64_t(o.len), float(c.dbl(2))));
}

napi_value SteMask(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  Arr dy = c.f32(0, "dy"), x = c.f32(1, "x"), o = c.f32(2, "out");
  if (c.failed || !c.need(dy, o.len, "steMask dy") || !c.need(x, o.len, "steMask x")) return nullptr;
  ste_mask((float*)dy.data, (float*)x.data, (float*)o.data, int64_t(o.len), float(c.dbl(3)));
  return nullptr;
}

napi_value BertAdam(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  Arr p = c.f32(0, "p"), m = c.f32(1, "m"), v = c.f32(2, "v"), g = c.f32(3, "g"), po = c.f32(4, "p out"), mo = c.f32(5, "m out"), vo = c.f32(6, "v out");
  if (c.failed || !c.need(m, p.len, "bertAdam m") || !c.need(v, p.len, "bertAdam v") || !c.need(g, p.len, "bertAdam g") || !c.need(po, p.len, "bertAdam p out")
      || !c.need(mo, p.len, "bertAdam m out") || !c.need(vo, p.len, "bertAdam v out")) return nullptr;
  if (c.argc < 8) return c.fail("bertAdam: expected the hyper-parameters array");
  float h[8];
  for (uint32_t i = 0; i < 8; i++) {
    napi_value e; double d = 0;
    if (napi_get_element(env, c.argv[7], i, &e) != napi_ok || napi_get_value_double(env, e, &d) != napi_ok) return c.fail("bertAdam: hyper-parameters must be 8 numbers");
    h[i] = float(d);
  }
  bert_adam((float*)p.data, (float*)m.data, (float*)v.data, (float*)g.data, (float*)po.data, (float*)mo.data, (float*)vo.data, int64_t(p.len),
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
  return nullptr;
}

napi_value HvL2(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  Arr acc = c.f32(0, "acc"), v = c.f32(1, "v"), p = c.f32(2, "p"), o = c.f32(3, "out");
  if (c.failed || !c.need(acc, o.len, "hvL2 acc") || !c.need(v, o.len, "hvL2 v") || !c.need(p, o.len, "hvL2 p")) return nullptr;
  hv_l2((float*)acc.data, (float*)v.data, (float*)p.data, (float*)o.data, int64_t(o.len), float(c.dbl(4)), float(c.dbl(5)), float(c.dbl(6)));
  return nullptr;
}

napi_value AddN(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  uint32_t n = 0;
  if (c.argc < 2 || napi_get_array_length(env, c.argv[0], &n) != napi_ok || n == 0) return c.fail("addN: expected a non-empty array");
  Arr o = c.f32(1, "out");
  if (c.failed) return nullptr;
  std::vector<const float*> xs;
  for (uint32_t k = 0; k < n; k++) {
    napi_value e; napi_get_element(env, c.argv[0], k, &e);
    c.argv[9] = e; c.argc = 10;  // reuse the typed-array reader on slot 9
    Arr x = c.f32(9, "addN input");
    if (!c.need(x, o.len, "addN input")) return nullptr;
    xs.push_back((float*)x.data);
  }
  add_n(xs.data(), int(n), (float*)o.data, int64_t(o.len));
  return nullptr;
}

napi_value ReduceOp(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  const int op = int(c.num(0));
  Arr x = c.f32(1, "x"), o = c.f32(2, "out");
  const int64_t outer = c.num(3), red = c.num(4), inner = c.num(5);
  if (c.failed) return nullptr;
  if (op < 0 || op >= R_COUNT) return c.fail("reduce: unknown op " + std::to_string(op));
  if (!c.need(x, outer * red * inner, "reduce x") || !c.need(o, outer * inner, "reduce out")) return nullptr;
  reduce(op, (float*)x.data, (float*)o.data, outer, red, inner);
  return nullptr;
}

napi_value Softmax(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  Arr x = c.f32(0, "x"), y = c.f32(1, "out");
  const int64_t rows = c.num(2), cols = c.num(3);
  if (c.failed || !c.need(x, rows * cols, "softmax x") || !c.need(y, rows * cols, "softmax out")) return nullptr;
  if (cols > 0) softmax((float*)x.data, (float*)y.data, rows, cols);
  return nullptr;
}

napi_value Copy(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  Arr s = c.arr(0, "src"), t = c.arr(2, "dst");
  const int64_t so = c.num(1), to = c.num(3);
  std::vector<int64_t> d = c.ints(4), ss = c.ints(5), ds = c.ints(6);
  if (c.failed) return nullptr;
  if (s.esize != t.esize) return c.fail("copy: source and destination element sizes differ");
  if (d.empty() || d.size() > MAX_DIMS || ss.size() != d.size() || ds.size() != d.size()) return c.fail("copy: bad dims/strides");
  for (size_t k = 0; k < d.size(); k++) if (d[k] < 0 || ss[k] < 0 || ds[k] < 0) return c.fail("copy: negative dims/strides");
  const int64_t es = extent(d, ss), ed = extent(d, ds);
  if (es == 0) return nullptr;
  if (!c.need(s, so + es, "copy src") || !c.need(t, to + ed, "copy dst")) return nullptr;
  strided_copy((uint8_t*)s.data + so * s.esize, (uint8_t*)t.data + to * t.esize, s.esize, int(d.size()), d.data(), ss.data(), ds.data());
  return nullptr;
}

napi_value Gather(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  Arr s = c.arr(0, "src"), idx = c.arr(1, "indices"), t = c.arr(2, "dst");
  const int64_t outer = c.num(3), n = c.num(4), inner = c.num(5);
  if (c.failed) return nullptr;
  if (idx.type != napi_int32_array) return c.fail("gather: indices must be an Int32Array");
  if (s.esize != t.esize) return c.fail("gather: source and destination element sizes differ");
  const int64_t m = int64_t(idx.len);
  if (!c.need(s, outer * n * inner, "gather src") || !c.need(t, outer * m * inner, "gather dst")) return nullptr;
  return c.number(double(gather((uint8_t*)s.data, (int32_t*)idx.data, (uint8_t*)t.data, s.esize, outer, n, m, inner)));
}

napi_value SegmentSum(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  Arr x = c.f32(0, "x"), ids = c.arr(1, "segmentIds"), o = c.f32(2, "out");
  const int64_t segments = c.num(3);
  if (c.failed) return nullptr;
  if (ids.type != napi_int32_array) return c.fail("segmentSum: ids must be an Int32Array");
  const int64_t rows = int64_t(ids.len), inner = rows ? int64_t(x.len) / rows : 0;
  if (!c.need(o, segments * inner, "segmentSum out")) return nullptr;
  return c.number(double(segment_sum((float*)x.data, (int32_t*)ids.data, (float*)o.data, rows, inner, segments)));
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  const int64_t n = c.num(0);
  if (n < 1 || n > 1024) return c.fail("setThreads: expected 1..1024");
  set_threads(int(n));
  return nullptr;
}

napi_value GetThreads(napi_env env, napi_callback_info info) { Ctx c(env, info); return c.number(get_threads()); }

napi_value Version(napi_env env, napi_callback_info info) {
  const dnnl_version_t* v = dnnl_version();
  std::string s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_value out; napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  const struct { const char* name; napi_callback fn; } fns[] = {
    {"matmul", Matmul}, {"int8Matmul", Int8Matmul}, {"unary", UnaryOp}, {"binary", BinaryOp}, {"addN", AddN}, {"symQuant", SymQuant}, {"steMask", SteMask}, {"hvL2", HvL2}, {"bertAdam", BertAdam}, {"logical", Logical}, {"select", Select}, {"reduce", ReduceOp},
    {"softmax", Softmax}, {"copy", Copy}, {"gather", Gather}, {"segmentSum", SegmentSum},
    {"setThreads", SetThreads}, {"getThreads", GetThreads}, {"version", Version},
  };
  for (auto& f : fns) {
    napi_value v; napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
