// Compiled with -fno-trapping-math (binding.gyp): the loops with NaN-preserving selects (Step, Clip, Relu, the STE
// mask) vectorise only when GCC may evaluate both sides of a select; no value changes (no FP traps are enabled).
// Elementwise kernels, hand-written: tfjs calls one op at a time on float32 buffers, and a oneDNN eltwise primitive
// per call (creation, memory descriptors) costs more than these loops for most of the tensors seen here, and has no
// plain erf. The transcendental functions vectorise through glibc's libmvec (AVX2 variants of expf, erff, tanhf,
// logf, <= 4 ulp), declared SIMD-callable below; everything else is a plain loop the compiler vectorises.
#include <cmath>
#include <cstring>
#include "kernels.h"

extern "C" {
float expf(float) __attribute__((simd("notinbranch")));
float logf(float) __attribute__((simd("notinbranch")));
float erff(float) __attribute__((simd("notinbranch")));
float tanhf(float) __attribute__((simd("notinbranch")));
float log1pf(float) __attribute__((simd("notinbranch")));
}

namespace kdq {

#define PAR_LOOP(n) _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)") for (int64_t i = 0; i < n; i++)

void unary(int op, const float* x, float* y, int64_t n, float p0, float p1) {
  switch (op) {
    case U_EXP: PAR_LOOP(n) y[i] = expf(x[i]); break;
    case U_LOG: PAR_LOOP(n) y[i] = logf(x[i]); break;
    case U_ERF: PAR_LOOP(n) y[i] = erff(x[i]); break;
    case U_TANH: PAR_LOOP(n) y[i] = tanhf(x[i]); break;
    case U_SIGMOID: PAR_LOOP(n) y[i] = 1.f / (1.f + expf(-x[i])); break;
    case U_RELU: PAR_LOOP(n) y[i] = x[i] != x[i] ? x[i] : (x[i] < 0.f ? 0.f : x[i]); break;
    case U_SQRT: PAR_LOOP(n) y[i] = std::sqrt(x[i]); break;
    case U_RSQRT: PAR_LOOP(n) y[i] = 1.f / std::sqrt(x[i]); break;
    case U_SQUARE: PAR_LOOP(n) y[i] = x[i] * x[i]; break;
    case U_ABS: PAR_LOOP(n) y[i] = std::fabs(x[i]); break;
    case U_NEG: PAR_LOOP(n) y[i] = -x[i]; break;
    case U_SIGN: PAR_LOOP(n) y[i] = x[i] > 0.f ? 1.f : (x[i] < 0.f ? -1.f : (x[i] == 0.f ? 0.f : x[i])); break;
    case U_ROUND: PAR_LOOP(n) y[i] = std::nearbyint(x[i]); break;  // half to even, as tf.round and torch.round
    case U_FLOOR: PAR_LOOP(n) y[i] = std::floor(x[i]); break;
    case U_CEIL: PAR_LOOP(n) y[i] = std::ceil(x[i]); break;
    case U_RECIPROCAL: PAR_LOOP(n) y[i] = 1.f / x[i]; break;
    case U_STEP: PAR_LOOP(n) y[i] = x[i] != x[i] ? x[i] : (x[i] > 0.f ? 1.f : p0); break;
    case U_CLIP: PAR_LOOP(n) y[i] = x[i] != x[i] ? x[i] : (x[i] < p0 ? p0 : (x[i] > p1 ? p1 : x[i])); break;
    case U_LOG1P: PAR_LOOP(n) y[i] = log1pf(x[i]); break;
  }
}

static inline float nanmax(float a, float b) { return (a != a || b != b) ? NAN : (a > b ? a : b); }
static inline float nanmin(float a, float b) { return (a != a || b != b) ? NAN : (a < b ? a : b); }

/** one row: out[j] = f(a[j * sa], b[j * sb]) for j < n */
template <typename Out, typename F>
static inline void row(const float* a, const float* b, Out* o, int64_t n, int64_t sa, int64_t sb, F f) {
  if (sa == 1 && sb == 1) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) o[j] = f(a[j], b[j]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
#pragma omp simd
    for (int64_t j = 0; j < n; j++) o[j] = f(a[j], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
#pragma omp simd
    for (int64_t j = 0; j < n; j++) o[j] = f(av, b[j]);
  } else {
    for (int64_t j = 0; j < n; j++) o[j] = f(a[j * sa], b[j * sb]);
  }
}

/** all rows of dims[0..nd-2] (odometer over outer dims), innermost dim by `row` */
template <typename Out, typename F>
static void broadcast(const float* a, const float* b, Out* o, int nd, const int64_t* dims, const int64_t* sa, const int64_t* sb, F f) {
  const int64_t inner = dims[nd - 1];
  int64_t rows = 1;
  for (int k = 0; k < nd - 1; k++) rows *= dims[k];
#pragma omp parallel for schedule(static) if (rows * inner > PAR_MIN && rows > 1)
  for (int64_t r = 0; r < rows; r++) {
    int64_t ia = 0, ib = 0, rem = r;
    for (int k = nd - 2; k >= 0; k--) { const int64_t q = rem % dims[k]; rem /= dims[k]; ia += q * sa[k]; ib += q * sb[k]; }
    row(a + ia, b + ib, o + r * inner, inner, sa[nd - 1], sb[nd - 1], f);
  }
}

void binary(int op, const float* a, const float* b, void* out, int nd, const int64_t* d, const int64_t* sa, const int64_t* sb) {
  float* o = static_cast<float*>(out);
  uint8_t* q = static_cast<uint8_t*>(out);
  switch (op) {
    case B_ADD: broadcast(a, b, o, nd, d, sa, sb, [](float x, float y) { return x + y; }); break;
    case B_SUB: broadcast(a, b, o, nd, d, sa, sb, [](float x, float y) { return x - y; }); break;
    case B_MUL: broadcast(a, b, o, nd, d, sa, sb, [](float x, float y) { return x * y; }); break;
    case B_DIV: broadcast(a, b, o, nd, d, sa, sb, [](float x, float y) { return x / y; }); break;
    case B_MAX: broadcast(a, b, o, nd, d, sa, sb, [](float x, float y) { return nanmax(x, y); }); break;
    case B_MIN: broadcast(a, b, o, nd, d, sa, sb, [](float x, float y) { return nanmin(x, y); }); break;
    case B_POW: broadcast(a, b, o, nd, d, sa, sb, [](float x, float y) { return std::pow(x, y); }); break;
    case B_SQDIFF: broadcast(a, b, o, nd, d, sa, sb, [](float x, float y) { return (x - y) * (x - y); }); break;
    case B_GREATER: broadcast(a, b, q, nd, d, sa, sb, [](float x, float y) { return uint8_t(x > y); }); break;
    case B_GREATER_EQUAL: broadcast(a, b, q, nd, d, sa, sb, [](float x, float y) { return uint8_t(x >= y); }); break;
    case B_LESS: broadcast(a, b, q, nd, d, sa, sb, [](float x, float y) { return uint8_t(x < y); }); break;
    case B_LESS_EQUAL: broadcast(a, b, q, nd, d, sa, sb, [](float x, float y) { return uint8_t(x <= y); }); break;
    case B_EQUAL: broadcast(a, b, q, nd, d, sa, sb, [](float x, float y) { return uint8_t(x == y); }); break;
    case B_NOT_EQUAL: broadcast(a, b, q, nd, d, sa, sb, [](float x, float y) { return uint8_t(x != y); }); break;
  }
}

void logical(int op, const uint8_t* a, const uint8_t* b, uint8_t* out, int64_t n) {
  switch (op) {
    case 0: PAR_LOOP(n) out[i] = uint8_t((a[i] != 0) & (b[i] != 0)); break;
    case 1: PAR_LOOP(n) out[i] = uint8_t((a[i] != 0) | (b[i] != 0)); break;
    case 2: PAR_LOOP(n) out[i] = uint8_t(a[i] == 0); break;
  }
}

void select(const uint8_t* cond, const float* a, const float* b, float* out, int64_t n) {
  PAR_LOOP(n) out[i] = cond[i] ? a[i] : b[i];
}

void add_n(const float* const* xs, int n, float* out, int64_t len) {
#pragma omp parallel for schedule(static) if (len * n > PAR_MIN)
  for (int64_t c0 = 0; c0 < len; c0 += 4096) {
    const int64_t c1 = c0 + 4096 < len ? c0 + 4096 : len;
    std::memcpy(out + c0, xs[0] + c0, (c1 - c0) * sizeof(float));
    for (int k = 1; k < n; k++) {
      const float* x = xs[k];
#pragma omp simd
      for (int64_t i = c0; i < c1; i++) out[i] += x[i];
    }
  }
}

}  // namespace kdq
