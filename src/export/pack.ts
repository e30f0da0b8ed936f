/**
 * 2-bit packing of ternary values, 4 per byte, little end first: value i sits in byte i >> 2 at bits 2 (i & 3),
 * coded 0 -> 00, +1 -> 01, -1 -> 10 (11 is invalid). n values take ceil(n / 4) bytes; the unused high bits of the
 * last byte are 0.
 */

const CODE_POS = 0b01,
  CODE_NEG = 0b10;

/** {-1, 0, +1} values (any numeric array) -> ceil(n/4) bytes. Throws on a value that is not ternary. */
export function packTernary(values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(Math.ceil(n / 4));
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const code = v === 1 ? CODE_POS : v === -1 ? CODE_NEG : v === 0 ? 0 : -1;
    if (code < 0) throw new Error(`packTernary: value ${v} at index ${i} is not -1, 0 or +1`);
    out[i >> 2] |= code << (2 * (i & 3));
  }
  return out;
}

/**
 * ceil(n/4) bytes -> n values in {-1, 0, +1} as float32 (ready to become a tensor). Throws on code 11 or a short
 * buffer.
 */
export function unpackTernary(packed: ArrayLike<number>, n: number): Float32Array {
  if (packed.length !== Math.ceil(n / 4))
    throw new Error(`unpackTernary: ${n} values need ${Math.ceil(n / 4)} bytes, got ${packed.length}`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const code = (packed[i >> 2] >> (2 * (i & 3))) & 0b11;
    if (code === 0b11) throw new Error(`unpackTernary: invalid code 11 for value ${i}`);
    out[i] = code === CODE_POS ? 1 : code === CODE_NEG ? -1 : 0;
  }
  return out;
}

/** Bytes of n ternary values packed */
export const packedBytes = (n: number): number => Math.ceil(n / 4);
