// Data movement, hand-written (no library primitive moves tfjs buffers in place): one N-D strided copy serves
// Transpose, Slice, Concat, Tile, Pad and SplitV (the caller collapses dimensions first); the innermost run is a
// memcpy when both sides are contiguous there. Gather copies whole rows.
#include <cstring>
#include "kernels.h"

namespace kdq {

void strided_copy(const uint8_t* src, uint8_t* dst, int es, int nd, const int64_t* d, const int64_t* ss, const int64_t* ds) {
  const int64_t inner = d[nd - 1], si = ss[nd - 1] * es, di = ds[nd - 1] * es;
  int64_t rows = 1;
  for (int k = 0; k < nd - 1; k++) rows *= d[k];
  const bool contiguous = si == es && di == es;
#pragma omp parallel for schedule(static) if (rows * inner > PAR_MIN && rows > 1)
  for (int64_t r = 0; r < rows; r++) {
    int64_t is = 0, id = 0, rem = r;
    for (int k = nd - 2; k >= 0; k--) { const int64_t q = rem % d[k]; rem /= d[k]; is += q * ss[k]; id += q * ds[k]; }
    const uint8_t* s = src + is * es;
    uint8_t* t = dst + id * es;
    if (contiguous) std::memcpy(t, s, inner * es);
    else if (es == 4) {
      const int64_t a = ss[nd - 1], b = ds[nd - 1];
      const uint32_t* s4 = reinterpret_cast<const uint32_t*>(s);
      uint32_t* t4 = reinterpret_cast<uint32_t*>(t);
      for (int64_t j = 0; j < inner; j++) t4[j * b] = s4[j * a];
    } else {
      for (int64_t j = 0; j < inner; j++) std::memcpy(t + j * di, s + j * si, es);
    }
  }
}

int64_t gather(const uint8_t* src, const int32_t* idx, uint8_t* dst, int es, int64_t outer, int64_t n, int64_t m, int64_t inner) {
  for (int64_t i = 0; i < m; i++) if (idx[i] < 0 || idx[i] >= n) return i;
  const int64_t rb = inner * es;
#pragma omp parallel for collapse(2) schedule(static) if (outer * m * inner > PAR_MIN)
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < m; i++) std::memcpy(dst + (o * m + i) * rb, src + (o * n + idx[i]) * rb, rb);
  return -1;
}

int64_t segment_sum(const float* x, const int32_t* ids, float* out, int64_t rows, int64_t inner, int64_t segments) {
  for (int64_t r = 0; r < rows; r++) if (ids[r] >= segments) return r;
  for (int64_t r = 0; r < rows; r++) {  // sequential over rows: the same order as the JS kernel, any thread count
    if (ids[r] < 0) continue;
    float* o = out + ids[r] * inner;
    const float* xr = x + r * inner;
#pragma omp simd
    for (int64_t j = 0; j < inner; j++) o[j] += xr[j];
  }
  return -1;
}

}  // namespace kdq
