// Reductions and softmax, hand-written: a tensor viewed as [outer, red, inner] reduced over its middle axis.
// Sums (and means, products) accumulate in double, like tfjs's cpu kernels (JS numbers), then round to float32 once,
// so the result does not depend on the thread count. oneDNN's reduction primitive would need a primitive per shape
// and accumulates in float; its softmax has no separate backward that tfjs could call (tfjs differentiates Softmax
// through its own ops).
#include <cmath>
#include <vector>
#include "kernels.h"

extern "C" float expf(float) __attribute__((simd("notinbranch")));

namespace kdq {

/** reduce a contiguous run x[0..n) */
static float reduce_run(int op, const float* x, int64_t n) {
  switch (op) {
    case R_SUM: case R_MEAN: {
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < n; i++) s += x[i];
      return float(op == R_MEAN ? s / double(n) : s);
    }
    case R_PROD: { double p = 1; for (int64_t i = 0; i < n; i++) p *= x[i]; return float(p); }
    case R_MAX: case R_MIN: {  // vectorised; a NaN anywhere makes the result NaN (as tfjs)
      float m = x[0];
      int nan = 0;
      if (op == R_MAX) {
#pragma omp simd reduction(max : m) reduction(| : nan)
        for (int64_t i = 0; i < n; i++) { m = x[i] > m ? x[i] : m; nan |= x[i] != x[i]; }
      } else {
#pragma omp simd reduction(min : m) reduction(| : nan)
        for (int64_t i = 0; i < n; i++) { m = x[i] < m ? x[i] : m; nan |= x[i] != x[i]; }
      }
      return nan ? NAN : m;
    }
  }
  return 0.f;
}

/** out[j] = reduce_r x[r * inner + j] for j in [j0, j1): rows streamed in order, one accumulator per column */
static void reduce_cols(int op, const float* x, float* out, int64_t red, int64_t inner, int64_t j0, int64_t j1) {
  const int64_t w = j1 - j0;
  if (op == R_SUM || op == R_MEAN || op == R_PROD) {
    std::vector<double> acc(w, op == R_PROD ? 1.0 : 0.0);
    double* A = acc.data();
    for (int64_t r = 0; r < red; r++) {
      const float* xr = x + r * inner + j0;
      if (op == R_PROD) for (int64_t j = 0; j < w; j++) A[j] *= xr[j];
      else {
#pragma omp simd
        for (int64_t j = 0; j < w; j++) A[j] += xr[j];
      }
    }
    for (int64_t j = 0; j < w; j++) out[j0 + j] = float(op == R_MEAN ? A[j] / double(red) : A[j]);
  } else {
    for (int64_t j = j0; j < j1; j++) out[j] = x[j];
    for (int64_t r = 1; r < red; r++) {
      const float* xr = x + r * inner;
      for (int64_t j = j0; j < j1; j++) {
        const float v = xr[j], m = out[j];
        if (m == m && (v != v || (op == R_MAX ? v > m : v < m))) out[j] = v;
      }
    }
  }
}

void reduce(int op, const float* x, float* out, int64_t outer, int64_t red, int64_t inner) {
  const bool par = outer * red * inner > PAR_MIN;
  if (red == 0) {  // tfjs: sum of nothing is 0, mean NaN, prod 1
    const float v = op == R_SUM ? 0.f : op == R_PROD ? 1.f : op == R_MEAN ? NAN : (op == R_MAX ? -INFINITY : INFINITY);
    for (int64_t i = 0; i < outer * inner; i++) out[i] = v;
    return;
  }
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (par && outer > 1)
    for (int64_t o = 0; o < outer; o++) out[o] = reduce_run(op, x + o * red, red);
    return;
  }
  const int64_t CH = 1024;  // column chunk: a few KiB of accumulators stay in L1
  const int64_t chunks = (inner + CH - 1) / CH;
#pragma omp parallel for collapse(2) schedule(static) if (par)
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < chunks; c++) {
      const int64_t j0 = c * CH, j1 = j0 + CH < inner ? j0 + CH : inner;
      reduce_cols(op, x + o * red * inner, out + o * inner, red, inner, j0, j1);
    }
}

void softmax(const float* x, float* y, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > PAR_MIN && rows > 1)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = xr[0];
    for (int64_t j = 1; j < cols; j++) m = xr[j] > m ? xr[j] : m;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < cols; j++) { const float e = expf(xr[j] - m); yr[j] = e; s += e; }
    const float fs = float(s);
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) yr[j] = yr[j] / fs;
  }
}

}  // namespace kdq
