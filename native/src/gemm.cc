// Matrix products: oneDNN's dnnl_sgemm (row-major, JIT-dispatched to the CPU's widest ISA). A batch of small
// products (attention: one per batch x head) runs one single-threaded sgemm per item, items spread over the OpenMP
// threads; one large product lets oneDNN thread it.
#include <dnnl.h>
#include <omp.h>
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
  if (batch == 1 || 2.0 * M * N * K > 4e7) {
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
