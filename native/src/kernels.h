// kdqat native kernels: plain C++ over caller-owned buffers (row-major, float32 unless said). The N-API glue is
// addon.cc; the op codes below are mirrored, in the same order, by UNARY and BINARY in src/backend/native-addon.ts.
#pragma once
#include <cstdint>
#include <string>

namespace kdq {

enum Unary { U_EXP, U_LOG, U_ERF, U_TANH, U_SIGMOID, U_RELU, U_SQRT, U_RSQRT, U_SQUARE, U_ABS, U_NEG, U_SIGN,
             U_ROUND, U_FLOOR, U_RECIPROCAL, U_STEP, U_CLIP, U_CEIL, U_LOG1P, U_COUNT };
enum Binary { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_POW, B_SQDIFF,
              B_GREATER, B_GREATER_EQUAL, B_LESS, B_LESS_EQUAL, B_EQUAL, B_NOT_EQUAL, B_COUNT };
enum Reduce { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_COUNT };
constexpr int MAX_DIMS = 8;

/** per-call parallelism threshold: below this many elements one thread does the work */
constexpr int64_t PAR_MIN = 1 << 15;

// gemm.cc: C[b] = op(A[b % batchA]) @ op(B[b % batchB]) for b < max(batchA, batchB); A [M,K] (or [K,M] if ta)
std::string batch_matmul(const float* a, const float* b, float* c, int64_t batchA, int64_t batchB,
                         int64_t M, int64_t N, int64_t K, bool ta, bool tb);
/**
 * The same product on oneDNN's int8 GEMM (s8 x s8 -> s32), a and b integer-valued floats: 0 done (exact), 1 not
 * representable (a value outside [-127, 127] or not an integer, or neither operand ternary: without VNNI the 16-bit
 * intermediate sums could saturate), 2 oneDNN failed. ta is not supported.
 */
int int8_matmul(const float* a, const float* b, float* c, int64_t batchA, int64_t batchB, int64_t M, int64_t N, int64_t K, bool tb);
// eltwise.cc: y = f(x) elementwise (p0, p1: step's alpha, clip's bounds)
void unary(int op, const float* x, float* y, int64_t n, float p0, float p1);
/** out[i] = f(a[ia], b[ib]) over `dims` with per-operand strides (0 = broadcast); comparisons write uint8 */
void binary(int op, const float* a, const float* b, void* out, int nd, const int64_t* dims, const int64_t* sa, const int64_t* sb);
/** out[i] = a[i] && b[i] (op 0), a[i] || b[i] (1), !a[i] (2) on bool bytes */
void logical(int op, const uint8_t* a, const uint8_t* b, uint8_t* out, int64_t n);
/** out[i] = cond[i] ? a[i] : b[i] */
void select(const uint8_t* cond, const float* a, const float* b, float* out, int64_t n);
/** out = sum of n inputs of `len` elements */
void add_n(const float* const* xs, int n, float* out, int64_t len);
// reduce.cc: x viewed as [outer, red, inner] -> out [outer, inner]
void reduce(int op, const float* x, float* out, int64_t outer, int64_t red, int64_t inner);
/** softmax over the last axis of x [rows, cols] */
void softmax(const float* x, float* y, int64_t rows, int64_t cols);
// copy.cc: dst[dstOff + sum i_k dstStrides_k] = src[srcOff + sum i_k srcStrides_k] over `dims`, elements of `esize` bytes
void strided_copy(const uint8_t* src, uint8_t* dst, int esize, int nd, const int64_t* dims, const int64_t* ss, const int64_t* ds);
/** dst [outer, m, inner] = src [outer, n, inner] at rows idx [m]; returns the first bad index position or -1 */
int64_t gather(const uint8_t* src, const int32_t* idx, uint8_t* dst, int esize, int64_t outer, int64_t n, int64_t m, int64_t inner);
/** out [segments, inner] += x [rows, inner] at rows ids (negative ids dropped); returns the first bad position or -1 */
int64_t segment_sum(const float* x, const int32_t* ids, float* out, int64_t rows, int64_t inner, int64_t segments);
// fused.cc
/** s = levels / max|x| (NaN if x has a NaN), ints = round_half_even(x * s); returns s */
float sym_quant(const float* x, float* ints, int64_t n, float levels);
/** out = dy * 1[|x| < c] (the straight-through mask), NaN where x is NaN */
void ste_mask(const float* dy, const float* x, float* out, int64_t n, float c);
void bert_adam(const float* p, const float* m, const float* v, const float* g, float* po, float* mo, float* vo, int64_t n,
               float b1, float c1, float b2, float c2, float eps, float wd, float lr, float max_norm);
void hv_l2(const float* acc, const float* v, const float* p, float* out, int64_t n, float l2, float nrm, float nrm3);

void set_threads(int n);
int get_threads();
}  // namespace kdq
