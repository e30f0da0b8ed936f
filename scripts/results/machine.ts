/**
 * The machine a results folder was made on: CPU (from /proc/cpuinfo), cores, node (the checkout: provenance.ts
 * gitState).
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import { PROJECT_ROOT } from '../../src/util/provenance.js';

export interface Machine {
  cpuModel: string;
  cpuFamily: string;
  cpuModelNumber: string;
  simd: string[];
  cores: number;
  memGiB: number;
  node: string;
  platform: string;
  loadavg: number[];
}

/** CPU model, family/model numbers and SIMD extensions (they decide the summation order of the kernels). */
export function machine(): Machine {
  const info = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1].trim() ?? 'unknown';
  const flags = field('flags').split(/\s+/);
  const simd = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) =>
    flags.includes(f),
  );
  return {
    cpuModel: field('model name'),
    cpuFamily: field('cpu family'),
    cpuModelNumber: field('model'),
    simd,
    cores: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** Versions of the packages that decide numerics, read from node_modules. */
export function packageVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of [
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-wasm',
    'vega',
    'vega-lite',
    '@resvg/resvg-js',
  ]) {
    const f = `${PROJECT_ROOT}node_modules/${p}/package.json`;
    out[p] = existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')).version : 'missing';
  }
  return out;
}
