/**
 * Tensor backend selection, in one place. Preference: tfjs-node-gpu > tfjs-node > native (our oneDNN/C++ kernels,
 * src/backend/native.ts) > wasm (SIMD) > cpu.
 * `--backend NAME` / KDQAT_BACKEND override it. The choice, thread count and versions are printed once and recorded
 * in every result (see `backendInfo()`).
 *
 * tfjs-node(-gpu) are optionalDependencies: their install downloads libtensorflow, which fails offline, so they are
 * loaded by dynamic import that tolerates their absence.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { registerExtraGradients } from '../util/gradients.js';
import { closest, UserError } from '../util/errors.js';
import { registerPlainBackend } from './plain.js';

const require = createRequire(import.meta.url);

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'native' | 'wasm' | 'cpu' | 'plain';
export const BACKENDS: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'];
const ALIASES: Record<string, BackendName> = {
  'node-gpu': 'tensorflow-gpu',
  gpu: 'tensorflow-gpu',
  node: 'tensorflow',
  tensorflow: 'tensorflow',
  'tensorflow-gpu': 'tensorflow-gpu',
  native: 'native',
  wasm: 'wasm',
  cpu: 'cpu',
  plain: 'plain',
};
/**
 * Backends chosen only by name (never in the preference order): plain = tfjs's cpu kernels without kdqat's (plain.ts).
 */

export interface BackendInfo {
  backend: BackendName;
  threads: number;
  versions: Record<string, string>;
  machine: { cpus: string; cores: number; memGiB: number; node: string; platform: string };
  /** why faster backends were not used */
  skipped: string[];
}

let current: BackendInfo | undefined;

export function parseBackend(name: string): BackendName {
  const b = ALIASES[name.toLowerCase()];
  if (!b) {
    const near = closest(name.toLowerCase(), Object.keys(ALIASES));
    throw new UserError(
      `unknown backend "${name}"${near ? ` (did you mean "${near}"?)` : ''}: choose one of node-gpu, node, native, ` +
        `wasm, cpu, plain`,
    );
  }
  return b;
}

function pkgVersion(name: string): string | undefined {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

async function tryNode(gpu: boolean): Promise<string | undefined> {
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  try {
    await import(pkg);
  } catch (e) {
    return `${pkg} not available (${(e as Error).message.split('\n')[0]})`;
  }
  return undefined;
}

/**
 * Native kernel threads: `threads` (from --threads), else KDQAT_THREADS, else every core. A local sweep chooses its
 * runs' threads itself (src/sweep/parallelism.ts, by default one run per core with 1 thread each), a Slurm job its
 * --cpus-per-task (default 1).
 */
export function nativeThreadsWanted(threads?: number): number {
  const v = threads ?? process.env.KDQAT_THREADS;
  if (v === undefined || v === '') return cpus().length;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024)
    throw new Error(
      `${threads !== undefined ? '--threads' : 'KDQAT_THREADS'} must be an integer in 1..1024, got "${v}"`,
    );
  return n;
}

/**
 * wasm thread count wanted: KDQAT_WASM_THREADS=N (1..8); default 1. Threads need the threaded-SIMD binary, which
 * tfjs does not load under Node; wasm-threads.ts makes it work (tested: right thread count, same results, clean exit).
 * Default 1: on the 2-vCPU machine measured, two busy processes got only ~1.3-1.5x the throughput of one, and with
 * other load present 2 threads made batched (attention) products 2-4x slower and a training step 1.5x slower, since
 * every small XNNPACK call waits for the second thread to be scheduled (scripts/bench-kernels.ts).
 */
export function wasmThreadsWanted(): number {
  const v = process.env.KDQAT_WASM_THREADS;
  if (v === undefined || v === '') return 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 8)
    throw new Error(`KDQAT_WASM_THREADS must be an integer in 1..8, got "${v}"`);
  return n;
}

async function tryWasm(skipped: string[]): Promise<string | undefined> {
  const threads = wasmThreadsWanted(); // a bad KDQAT_WASM_THREADS is an error, not a reason to fall back to cpu
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (threads > 1 && !(tf.engine() as unknown as { registry: Record<string, unknown> }).registry.wasm) {
      const { useThreadedWasm } = await import('./wasm-threads.js');
      try {
        await useThreadedWasm(threads);
      } catch (e) {
        skipped.push(`wasm threads: ${(e as Error).message}`);
      }
    }
    const { registerWasmExtras } = await import('./wasm-kernels.js');
    registerWasmExtras();
    return undefined;
  } catch (e) {
    return `wasm backend failed to load (${(e as Error).message})`;
  }
}

/**
 * Initialise the backend once per process. `requested` comes from --backend; else KDQAT_BACKEND; else the
 * preference order. An explicitly requested backend that cannot start is an error, not a silent fallback.
 */
export async function initBackend(
  requested?: string,
  opts: { quiet?: boolean; threads?: number } = {},
): Promise<BackendInfo> {
  if (current) return current;
  const nativeThreads = nativeThreadsWanted(opts.threads); // a bad value is an error before anything starts
  const want = requested ?? process.env.KDQAT_BACKEND;
  const order: BackendName[] = want ? [parseBackend(want)] : [...BACKENDS];
  const skipped: string[] = [];
  let chosen: BackendName | undefined;
  for (const b of order) {
    let why: string | undefined;
    if (b === 'tensorflow-gpu' || b === 'tensorflow') why = await tryNode(b === 'tensorflow-gpu');
    else if (b === 'wasm') why = await tryWasm(skipped);
    else if (b === 'native') why = await (await import('./native.js')).registerNativeBackend();
    else if (b === 'plain') why = registerPlainBackend();
    if (!why) {
      try {
        if (await tf.setBackend(b)) {
          await tf.ready();
          chosen = b;
          break;
        }
        why = `tf.setBackend('${b}') failed`;
      } catch (e) {
        why = `${b}: ${(e as Error).message}`;
      }
    }
    skipped.push(why);
    if (want) throw new Error(`requested backend "${want}" is not usable here: ${why}`);
  }
  if (!chosen) throw new Error(`no tensor backend could start:\n  ${skipped.join('\n  ')}`);
  registerExtraGradients(); // gradients are not kernels: every backend (tfjs-node's too) has them, plain included
  // tfjs's cpu backend prints a "use tfjs-node" banner on first use: we chose the backend deliberately and said so
  const cpuBackend = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpuBackend) cpuBackend.firstUse = false;
  // cpu scatter-add UnsortedSegmentSum + zero gradients of comparison ops: useful whatever the main backend
  // (registered for the 'cpu' backend only: plain, a backend of its own, never gets it)
  const { registerCpuExtras } = await import('./cpu-kernels.js');
  registerCpuExtras();
  // cpu backend: tensors in JS memory (no 4 GiB heap limit), slow kernels computed by the wasm module
  // (wasm-bridge.ts); KDQAT_CPU_BRIDGE=0 keeps tfjs' pure-JS cpu kernels
  let bridged = false;
  if (chosen === 'cpu' && process.env.KDQAT_CPU_BRIDGE !== '0') {
    const why = await tryWasm(skipped);
    if (!why) bridged = await (await import('./wasm-bridge.js')).enableWasmBridge();
    if (!bridged) skipped.push(`cpu kernels not routed through wasm: ${why ?? 'the wasm backend did not start'}`);
  }
  if (chosen === 'wasm' || bridged) {
    const { threadFailure } = await import('./wasm-threads.js');
    if (threadFailure) skipped.push(threadFailure);
  }
  if (chosen === 'native') (await import('./native.js')).setNativeThreads(nativeThreads);
  const threads =
    chosen === 'wasm' || bridged
      ? wasmThreads()
      : chosen === 'cpu' || chosen === 'plain'
        ? 1
        : chosen === 'native'
          ? nativeThreads
          : cpus().length;
  const versions: Record<string, string> = {};
  for (const p of [
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
  ]) {
    const v = pkgVersion(p);
    if (v) versions[p] = v;
  }
  if (chosen === 'native') versions.native = (await import('./native.js')).nativeAddon()?.version() ?? 'unknown';
  versions.kdqat = pkgVersion('../../package.json') ?? '0';
  const c = cpus();
  current = {
    backend: chosen,
    threads,
    versions,
    skipped,
    machine: {
      cpus: c[0]?.model ?? 'unknown',
      cores: c.length,
      memGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    },
  };
  const nativeWhy = skipped.find((w) => w.startsWith('native kernels not loaded'));
  if (!opts.quiet && nativeWhy && chosen !== 'tensorflow-gpu' && chosen !== 'tensorflow')
    console.error(`[kdqat] ${nativeWhy}; using ${chosen}`);
  if (!opts.quiet)
    console.error(
      `[kdqat] backend ` +
        `${chosen}${chosen === 'native' ? ` (${versions.native} products, C++ kernels)` : ''}` +
        `${bridged ? ' (heavy kernels computed by wasm)' : ''} ` +
        `(${threads} thread${threads > 1 ? 's' : ''}), tfjs ${versions['@tensorflow/tfjs']}, ` +
        `${current.machine.cores}x ` +
        `${current.machine.cpus}`,
    );
  return current;
}

/** Whether initBackend() has run in this process. */
export const backendReady = (): boolean => current !== null && current !== undefined;

export function backendInfo(): BackendInfo {
  if (!current) throw new Error('backend not initialised: call initBackend() first');
  return current;
}

function wasmThreads(): number {
  try {
    const w = require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount?: () => number };
    return w.getThreadsCount?.() ?? 1;
  } catch {
    return 1;
  }
}

/** The wasm heap is 32-bit: 4 GiB is the hard ceiling for every live tensor together. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * Fail early and clearly when an estimated working set will not fit the wasm heap (instead of the bare
 * "memory access out of bounds" the wasm runtime gives mid-training).
 */
export function assertFitsBackend(estimatedBytes: number, what: string): void {
  if (current?.backend !== 'wasm') return;
  if (estimatedBytes > WASM_HEAP_BYTES * 0.9) {
    throw new Error(
      `${what} needs about ${(estimatedBytes / 2 ** 30).toFixed(1)} GiB, but the wasm backend has a 32-bit heap of 4 ` +
        `GiB. ` +
        `Use a smaller batch size or sequence length, or run with --backend cpu (slow, no heap limit) or --backend ` +
        `node / node-gpu ` +
        `(needs @tensorflow/tfjs-node[-gpu], which downloads libtensorflow at install time).`,
    );
  }
}

/** Turn the wasm runtime's bare out-of-memory failures into a message that says what happened and what to do. */
export function explainBackendError(e: unknown): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  if (
    current?.backend === 'wasm' &&
    /memory access out of bounds|Aborted\(|Cannot enlarge memory|Array buffer allocation failed|out of memory/i.test(
      err.message,
    )
  ) {
    return new Error(
      `the wasm backend ran out of its 4 GiB heap (${err.message.split('\n')[0]}). The wasm heap is 32-bit: ` +
        `use a smaller --batch-size or --max-seq-len, or --backend cpu (slow, no heap limit), or --backend node / ` +
        `node-gpu ` +
        `(needs @tensorflow/tfjs-node[-gpu], which downloads libtensorflow at install time).`,
    );
  }
  return err;
}
