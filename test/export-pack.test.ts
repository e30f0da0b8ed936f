import test from 'ava';
import { join } from 'node:path';
import { packTernary, unpackTernary, packedBytes } from '../src/export/pack.js';
import { readSafetensors, writeSafetensors } from '../src/util/safetensors.js';
import { mulberry32 } from '../src/util/random.js';
import { tmp } from './helpers/export.js';

const randomTernary = (n: number, seed: number): Int8Array => {
  const r = mulberry32(seed);
  return Int8Array.from({ length: n }, () => Math.floor(r() * 3) - 1);
};

test(
  '2-bit packing round trip of random ternary tensors of odd sizes (not multiples of 4), in memory and through a ' +
    'safetensors file',
  (t) => {
    const dir = tmp();
    for (const n of [1, 2, 3, 5, 6, 7, 13, 127, 1001, 4099]) {
      const v = randomTernary(n, n);
      const packed = packTernary(v);
      t.is(packed.length, Math.ceil(n / 4), `n=${n}`);
      t.is(packedBytes(n), packed.length);
      t.deepEqual(
        Array.from(unpackTernary(packed, n)),
        Array.from(v, (x) => x + 0),
        `n=${n}`,
      );
      // the unused high bits of the last byte stay 0
      if (n % 4) t.is(packed[packed.length - 1] >> (2 * (n % 4)), 0, `n=${n}`);
      const path = join(dir, `t${n}.safetensors`);
      writeSafetensors(path, { w: { dtype: 'U8', shape: [packed.length], data: packed } });
      const back = readSafetensors(path).tensors.get('w')!;
      t.is(back.dtype, 'U8');
      t.deepEqual(
        Array.from(unpackTernary(back.data, n)),
        Array.from(v, (x) => x + 0),
        `file n=${n}`,
      );
    }
  },
);

test('the code is 00 = 0, 01 = +1, 10 = -1, value i in bits 2(i mod 4) of byte i/4', (t) => {
  t.deepEqual(Array.from(packTernary([1, -1, 0, 1, -1])), [0b01_00_10_01, 0b10]);
});

test('packing refuses non-ternary values, unpacking refuses code 11 and a wrong length', (t) => {
  t.regex(t.throws(() => packTernary([0, 1, 2]))!.message, /value 2 at index 2 is not -1, 0 or \+1/);
  t.regex(t.throws(() => packTernary([0.5]))!.message, /not -1, 0 or \+1/);
  t.regex(t.throws(() => unpackTernary([0b11], 1))!.message, /invalid code 11/);
  t.regex(t.throws(() => unpackTernary([0], 5))!.message, /5 values need 2 bytes, got 1/);
});
