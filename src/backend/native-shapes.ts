/**
 * Shape arithmetic for the native kernels: row-major strides, broadcasting strides, and collapsing dimensions that
 * every operand walks contiguously, so the C++ loops see as few, as long, dimensions as possible.
 */

export const sizeOf = (shape: readonly number[]): number => shape.reduce((p, s) => p * s, 1);

/** row-major element strides of `shape` */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    s[k] = acc;
    acc *= shape[k];
  }
  return s;
}

/** strides of an operand of `shape` read at every index of `out` (numpy broadcasting: 0 where it is broadcast) */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const own = stridesOf(shape),
    off = out.length - shape.length;
  return out.map((_d, k) => (k < off || shape[k - off] === 1 ? 0 : own[k - off]));
}

/**
 * Drop size-1 dimensions and merge neighbours k, k+1 where every operand's stride s[k] equals s[k+1] * dims[k+1]
 * (a contiguous walk, or both 0). Returns at least one dimension.
 */
export function collapse(dims: readonly number[], strides: number[][]): { dims: number[]; strides: number[][] } {
  const d: number[] = [],
    s: number[][] = strides.map(() => []);
  for (let k = 0; k < dims.length; k++) {
    if (dims[k] === 1) continue;
    const last = d.length - 1;
    if (last >= 0 && strides.every((st, i) => s[i][last] === st[k] * dims[k])) {
      d[last] *= dims[k];
      strides.forEach((st, i) => {
        s[i][last] = st[k];
      });
    } else {
      d.push(dims[k]);
      strides.forEach((st, i) => s[i].push(st[k]));
    }
  }
  if (d.length === 0) return { dims: [1], strides: strides.map(() => [1]) };
  return { dims: d, strides: s };
}
