/**
 * safetensors reader/writer (https://github.com/huggingface/safetensors format: u64 LE header length, JSON header
 * {name: {dtype, shape, data_offsets}}, optional "__metadata__" of string->string, then the raw little-endian data).
 *
 * Written here rather than taken from npm: the npm packages that exist (e.g. `safetensors`, `@huggingface/hub`'s
 * parser) are either unmaintained, browser/fetch oriented, or parse headers only; the format is ~100 lines and we
 * need strict validation (truncation, overlapping or out-of-range offsets, shape/size mismatch) with errors that name
 * the file and the key, plus an atomic writer.
 */
import { readFileSync } from 'node:fs';
import { atomicWrite } from './fsx.js';

export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
const BYTES: Record<DType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface RawTensor {
  dtype: DType;
  shape: number[];
  /** values widened to a JS typed array: F64 -> Float64Array, F32/F16/BF16 -> Float32Array, ints -> Int32Array */
  data: Float32Array | Float64Array | Int32Array;
}

export interface SafeTensorsFile {
  path: string;
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(path: string, msg: string, key?: string) {
    super(`${path}${key ? ` [${key}]` : ''}: ${msg}`);
    this.name = 'SafetensorsError';
  }
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function decode(buf: Buffer, dtype: DType, n: number, path: string, key: string): RawTensor['data'] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  switch (dtype) {
    case 'F32': {
      const o = new Float32Array(n);
      for (let i = 0; i < n; i++) o[i] = dv.getFloat32(i * 4, true);
      return o;
    }
    case 'F64': {
      const o = new Float64Array(n);
      for (let i = 0; i < n; i++) o[i] = dv.getFloat64(i * 8, true);
      return o;
    }
    case 'F16': {
      const o = new Float32Array(n);
      for (let i = 0; i < n; i++) o[i] = f16ToF32(dv.getUint16(i * 2, true));
      return o;
    }
    case 'BF16': {
      const o = new Float32Array(n);
      const t = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        t.setUint32(0, dv.getUint16(i * 2, true) << 16, true);
        o[i] = t.getFloat32(0, true);
      }
      return o;
    }
    case 'I32': {
      const o = new Int32Array(n);
      for (let i = 0; i < n; i++) o[i] = dv.getInt32(i * 4, true);
      return o;
    }
    case 'I64': {
      const o = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n)
          throw new SafetensorsError(path, `I64 value ${v} does not fit int32`, key);
        o[i] = Number(v);
      }
      return o;
    }
    case 'I16': {
      const o = new Int32Array(n);
      for (let i = 0; i < n; i++) o[i] = dv.getInt16(i * 2, true);
      return o;
    }
    case 'I8': {
      const o = new Int32Array(n);
      for (let i = 0; i < n; i++) o[i] = dv.getInt8(i);
      return o;
    }
    case 'U8':
    case 'BOOL': {
      const o = new Int32Array(n);
      for (let i = 0; i < n; i++) o[i] = dv.getUint8(i);
      return o;
    }
  }
}

/** Parse a safetensors buffer; `path` is only used in error messages. */
export function parseSafetensors(buf: Buffer, path: string): SafeTensorsFile {
  if (buf.length < 8)
    throw new SafetensorsError(path, `file is ${buf.length} bytes, too short for a safetensors header (truncated?)`);
  const hlen = Number(buf.readBigUInt64LE(0));
  if (hlen > buf.length - 8)
    throw new SafetensorsError(
      path,
      `header length ${hlen} exceeds file size ${buf.length} (truncated or not a safetensors file)`,
    );
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, checked entry by entry below
  let header: Record<string, any>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
  } catch (e) {
    throw new SafetensorsError(path, `header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + hlen;
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = header.__metadata__ ?? {};
  const tensors = new Map<string, RawTensor>();
  for (const [key, info] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const { dtype, shape, data_offsets } = info as { dtype: DType; shape: number[]; data_offsets: [number, number] };
    if (!(dtype in BYTES)) throw new SafetensorsError(path, `unsupported dtype ${dtype}`, key);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0))
      throw new SafetensorsError(path, `bad shape ${JSON.stringify(shape)}`, key);
    const [b, e] = data_offsets ?? [];
    const n = shape.reduce((a, d) => a * d, 1);
    if (!Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < b)
      throw new SafetensorsError(path, `bad data_offsets ${JSON.stringify(data_offsets)}`, key);
    if (e > dataLen)
      throw new SafetensorsError(
        path,
        `data ends at byte ${e} but the file holds only ${dataLen} data bytes (truncated file)`,
        key,
      );
    if (e - b !== n * BYTES[dtype])
      throw new SafetensorsError(
        path,
        `shape ${JSON.stringify(shape)} of ${dtype} needs ${n * BYTES[dtype]} bytes, offsets give ${e - b}`,
        key,
      );
    tensors.set(key, { dtype, shape, data: decode(buf.subarray(dataStart + b, dataStart + e), dtype, n, path, key) });
  }
  return { path, tensors, metadata };
}

export function readSafetensors(path: string): SafeTensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(path, `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSafetensors(buf, path);
}

/**
 * U8 / I8: packed or integer-quantized weights (values must fit the type; the typed array conversion wraps otherwise)
 */
export interface WriteTensor {
  dtype: 'F32' | 'F64' | 'I32' | 'U8' | 'I8';
  shape: number[];
  data: ArrayLike<number>;
}

const WRITE_ARRAYS = { F32: Float32Array, F64: Float64Array, I32: Int32Array, U8: Uint8Array, I8: Int8Array } as const;

/** Serialise tensors (sorted by name, 8-byte aligned header) to a Buffer. */
export function serializeSafetensors(tensors: Record<string, WriteTensor>, metadata?: Record<string, string>): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const k of names) {
    const t = tensors[k];
    const n = t.shape.reduce((a, d) => a * d, 1);
    if (n !== t.data.length)
      throw new Error(
        `serializeSafetensors [${k}]: shape ${JSON.stringify(t.shape)} needs ${n} values, got ${t.data.length}`,
      );
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n * BYTES[t.dtype]] };
    off += n * BYTES[t.dtype];
  }
  let h = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (h.length % 8)) % 8;
  if (pad) h = Buffer.concat([h, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + h.length + off);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  let p = 8 + h.length;
  for (const k of names) {
    const t = tensors[k];
    const arr = WRITE_ARRAYS[t.dtype].from(t.data);
    const bytes = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
    bytes.copy(out, p);
    p += bytes.length;
  }
  return out;
}

export function writeSafetensors(
  path: string,
  tensors: Record<string, WriteTensor>,
  metadata?: Record<string, string>,
): void {
  atomicWrite(path, serializeSafetensors(tensors, metadata));
}
