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

/** BertAdam's update of one parameter (src/train/bertadam.ts), one pass where the op-by-op graph makes fifteen; the
 * same float32 operations in the same order, so bit-identical to it: the squared norm through reduce() exactly as
 * the Sum kernel computes it (mo is its scratch), then per element
 *   g1 = g * coef ; m' = m b1 + g1 c1 ; v' = v b2 + (g1 g1) c2 ; u = m' / (sqrt(v') + eps) (+ p wd) ; p' = p - u lr
 * with coef = min(maxNorm / (sqrt(sum g^2) + 1e-6), 1) (maxNorm > 0; else g1 = g), c1 = 1 - b1, c2 = 1 - b2 as float32 */
void bert_adam(const float* p, const float* m, const float* v, const float* g, float* po, float* mo, float* vo, int64_t n,
               float b1, float c1, float b2, float c2, float eps, float wd, float lr, float max_norm) {
  float coef = 1.f;
  const bool clip = max_norm > 0.f;
  if (clip) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) mo[i] = g[i] * g[i];
    float s;
    if (n < 256) {  // below MIN_ELEMENTS (native-kernels.ts) tfjs's own Sum runs: a sequential double sum
      double d = 0;
      for (int64_t i = 0; i < n; i++) d += mo[i];
      s = float(d);
    } else {
      reduce(R_SUM, mo, &s, 1, n, 1);
    }
    const float q = max_norm / (std::sqrt(s) + 1e-6f);
    coef = (q != q) ? q : (q < 1.f ? q : 1.f);  // tf.minimum: NaN propagates
  }
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float g1 = clip ? g[i] * coef : g[i];
    const float m1 = m[i] * b1 + g1 * c1;
    const float v1 = v[i] * b2 + (g1 * g1) * c2;
    float u = m1 / (std::sqrt(v1) + eps);
    if (wd != 0.f) u = u + p[i] * wd;
    mo[i] = m1;
    vo[i] = v1;
    po[i] = p[i] - u * lr;
  }
}

}  // namespace kdq
