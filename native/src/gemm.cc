// Matrix products: oneDNN's dnnl_sgemm (row-major, JIT-dispatched to the CPU's widest ISA). A batch of small
// products (attention: one per batch x head) runs one single-threaded sgemm per item, items spread over the OpenMP
// threads; one large product lets oneDNN thread it.
#include <dnnl.h>
#include <omp.h>
#include <cmath>
#include <algorithm>
#include <vector>
#include "kernels.h"

namespace kdq {

std::string batch_matmul(const float* a, const float* b, float* c, int64_t batchA, int64_t batchB,
                         int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
  const int64_t batch = batchA > batchB ? batchA : batchB;
  const int64_t lda = ta ? M : K, ldb = tb ? K : N, sa = M * K, sb = K * N, sc = M * N;
  const char cta = ta ? 'T' : 'N', ctb = tb ? 'T' : 'N';
  if (K == 0) { for (int64_t i = 0; i < batch * sc; i++) c[i] = 0.f; return ""; }
  if (M == 0 || N == 0) return "";
  dnnl_status_t bad = dnnl_success;
  if (ta && !tb && M > N && 2.0 * M * N * K > 4e7) {
    // A^T B with A [K,M] wide: dnnl_sgemm runs it at about half speed (39 vs 85 GFLOP/s measured on the mini
    // step's weight gradients); (A^T B)^T = B^T A with the small side first is fast, and the transpose is cheap
    std::vector<float> t(size_t(N * M));
    for (int64_t i = 0; i < batch && bad == dnnl_success; i++) {
      bad = dnnl_sgemm('T', 'N', N, M, K, 1.f, b + (i % batchB) * sb, N, a + (i % batchA) * sa, M, 0.f, t.data(), M);
      float* ci = c + i * sc;
      const int64_t B = 32;
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t i0 = 0; i0 < M; i0 += B)
        for (int64_t j0 = 0; j0 < N; j0 += B)
          for (int64_t r = i0; r < std::min(i0 + B, M); r++)
            for (int64_t q = j0; q < std::min(j0 + B, N); q++) ci[r * N + q] = t[q * M + r];
    }
  } else if (batch == 1 || 2.0 * M * N * K > 4e7) {
    for (int64_t i = 0; i < batch && bad == dnnl_success; i++)
      bad = dnnl_sgemm(cta, ctb, M, N, K, 1.f, a + (i % batchA) * sa, lda, b + (i % batchB) * sb, ldb, 0.f, c + i * sc, N);
  } else {
#pragma omp parallel for schedule(static) if (batch > 1 && batch * M * N * K > PAR_MIN)
    for (int64_t i = 0; i < batch; i++) {
      dnnl_status_t s = dnnl_sgemm(cta, ctb, M, N, K, 1.f, a + (i % batchA) * sa, lda, b + (i % batchB) * sb, ldb, 0.f, c + i * sc, N);
      if (s != dnnl_success) {
#pragma omp critical
        bad = s;
      }
    }
  }
  return bad == dnnl_success ? "" : std::string("dnnl_sgemm failed with status ") + std::to_string(int(bad));
}

void set_threads(int n) { omp_set_num_threads(n); }
int get_threads() { return omp_get_max_threads(); }

}  // namespace kdq

namespace kdq {

/** x as int8 when every value is an integer in [-127, 127]; *maxabs = max |x| */
static bool to_s8(const float* x, int8_t* y, int64_t n, float* maxabs) {
  float m = 0.f;
  int bad = 0;
#pragma omp parallel for simd reduction(max : m) reduction(| : bad) schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i], a = std::fabs(v);
    bad |= !(a <= 127.f) | (std::nearbyint(v) != v);
    m = a > m ? a : m;
    y[i] = int8_t(v);
  }
  *maxabs = m;
  return !bad;
}

int int8_matmul(const float* a, const float* b, float* c, int64_t batchA, int64_t batchB, int64_t M, int64_t N, int64_t K, bool tb) {
  const int64_t batch = batchA > batchB ? batchA : batchB;
  std::vector<int8_t> ai(batchA * M * K), bi(batchB * K * N);
  std::vector<int32_t> ci(M * N);
  float ma = 0.f, mb = 0.f;
  if (!to_s8(a, ai.data(), int64_t(ai.size()), &ma) || !to_s8(b, bi.data(), int64_t(bi.size()), &mb)) return 1;
  if (ma > 1.f && mb > 1.f) return 1;  // without VNNI, 16-bit intermediate sums could saturate: exact only with a ternary operand
  const int32_t co = 0;
  for (int64_t i = 0; i < batch; i++) {
    dnnl_status_t s = dnnl_gemm_s8s8s32('N', tb ? 'T' : 'N', 'F', M, N, K, 1.f, ai.data() + (i % batchA) * M * K, K, 0,
                                        bi.data() + (i % batchB) * K * N, tb ? K : N, 0, 0.f, ci.data(), N, &co);
    if (s != dnnl_success) return 2;
    float* ct = c + i * M * N;
#pragma omp parallel for simd schedule(static) if (M * N > PAR_MIN)
    for (int64_t j = 0; j < M * N; j++) ct[j] = float(ci[j]);
  }
  return 0;
}

}  // namespace kdq
