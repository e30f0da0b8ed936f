// Fused quantizer kernels, hand-written (no oneDNN primitive computes a data-dependent per-tensor scale): each is
// one or two passes where the op-by-op graph makes five, with bit-identical results (same float32 operations in the
// same order per element).
#include <cmath>
#include "kernels.h"

namespace kdq {

float sym_quant(const float* x, float* ints, int64_t n, float levels) {
  float m = 0.f;
  int nan = 0;
#pragma omp parallel for simd reduction(max : m) reduction(| : nan) schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) { const float a = std::fabs(x[i]); m = a > m ? a : m; nan |= a != a; }
  const float s = nan ? NAN : levels / m;  // tf.div(levels, max|x|) in float32
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) ints[i] = std::nearbyint(x[i] * s);
  return s;
}

void ste_mask(const float* dy, const float* x, float* out, int64_t n, float c) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {  // branch-free (blends), so that it vectorises: a NaN x passes through
    const float r = dy[i] * (std::fabs(x[i]) < c ? 1.f : 0.f);
    out[i] = x[i] != x[i] ? x[i] : r;
  }
}

/** Hessian-vector product of l2 * ||p|| added to acc (src/analysis/hessian.ts's hvL2, one dot and one pass where
 * the op-by-op graph makes seven): out = acc + (v / nrm - p * (p . v / nrm3)) * l2; the dot sums float32 products
 * in double, in one thread, so the result does not depend on the thread count */
void hv_l2(const float* acc, const float* v, const float* p, float* out, int64_t n, float l2, float nrm, float nrm3) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += double(p[i] * v[i]);
  const float k = float(s) / nrm3;
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) out[i] = acc[i] + (v[i] / nrm - p[i] * k) * l2;
}

}  // namespace kdq
