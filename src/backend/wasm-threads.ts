/**
 * Multi-threaded (pthreads + SIMD) tfjs wasm backend under Node.
 *
 * tfjs-backend-wasm never uses its threaded binary under Node (WASM_HAS_MULTITHREAD_SUPPORT is hard-wired false
 * there), and forcing it fails: the pthread worker script and the main script are handed to the workers as `blob:`
 * URLs, which Node's Worker rejects (ERR_WORKER_PATH). Even then the C++ side caps its thread pool at
 * (logical cores / 2), i.e. 1 thread on a 2-core machine. This module re-registers the 'wasm' backend factory so that
 *   - the worker script and the Emscripten main script are real files (written once to the OS temp dir),
 *   - the Emscripten core count reads 2 x threads (so the cap lets `threads` through) and the pre-spawned worker
 *     pool is `threads` workers instead of 8,
 *   - the pthread workers start without the parent's node flags (an inherited --input-type or loader breaks them),
 *   - the pthread workers are unref'd, so they do not keep the process alive at exit.
 * Everything else (kernels, BackendWasm) is tfjs' own; XNNPACK operators then use the thread pool.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initializedBackend } from './wasm-registry.js';

const require = createRequire(import.meta.url);

const POOL = 'var pthreadPoolSize=8;';
const CORES = 'function _emscripten_num_logical_cores(){if(ENVIRONMENT_IS_NODE)return require("os").cpus().length;';
const WORKER = 'worker=new Worker(pthreadMainJs)';

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread?: { runningWorkers: { unref(): void }[]; unusedWorkers: { unref(): void }[] };
  tfjs?: unknown;
}
type Factory = (cfg: Record<string, unknown>) => Promise<EmscriptenModule>;

function writeOnce(path: string, text: string): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Write the patched main script and the worker script to the temp dir; returns their paths. */
function prepareScripts(threads: number): { main: string; worker: string; wasm: string } {
  const pkgDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const srcPath = join(pkgDir, 'wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const wasm = join(pkgDir, 'dist/tfjs-backend-wasm-threaded-simd.wasm');
  let src = readFileSync(srcPath, 'utf8');
  for (const pat of [POOL, CORES, WORKER]) {
    if (!src.includes(pat))
      throw new Error(
        `wasm-threads: ${srcPath} does not contain the expected "${pat.slice(0, 40)}..." (tfjs-backend-wasm version ` +
          `changed?)`,
      );
  }
  src = src
    .replace(POOL, `var pthreadPoolSize=${threads};`)
    .replace(CORES, `function _emscripten_num_logical_cores(){if(ENVIRONMENT_IS_NODE)return ${2 * threads};`)
    // workers inherit the parent's node flags by default (--import tsx, --input-type, ...): they need none
    .replace(WORKER, 'worker=new Worker(pthreadMainJs,{execArgv:[]})');
  // the worker source is a JS string whose "\n" escapes became real newlines inside string literals: re-escape
  const workerMod = require(join(pkgDir, 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  const worker = workerMod.wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(src).update(worker).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `kdqat-tfjs-wasm-${hash}`);
  mkdirSync(dir, { recursive: true });
  const main = join(dir, 'threaded-simd.cjs'),
    workerPath = join(dir, 'threaded-simd.worker.cjs');
  writeOnce(main, src);
  writeOnce(workerPath, worker);
  return { main, worker: workerPath, wasm };
}

/**
 * Replace the registered 'wasm' backend factory by one that runs the threaded-SIMD binary with `threads` threads.
 * Call after importing @tensorflow/tfjs-backend-wasm and before the wasm backend is first initialised.
 * The thread count actually obtained is `getThreadsCount()` of tfjs-backend-wasm after init.
 */
export async function useThreadedWasm(threads: number): Promise<void> {
  if (!Number.isInteger(threads) || threads < 1 || threads > 8)
    throw new Error(`wasm threads must be an integer in 1..8, got ${threads}`);
  const tfw = await import('@tensorflow/tfjs-backend-wasm');
  if (initializedBackend('wasm'))
    throw new Error('useThreadedWasm: the wasm backend is already initialised; call it before tf.setBackend("wasm")');
  const paths = prepareScripts(threads);
  const factory = require(paths.main) as Factory;
  const registry = (
    tf.engine() as unknown as { registryFactory: Record<string, { factory: () => Promise<tf.KernelBackend> }> }
  ).registryFactory;
  const stockFactory = registry.wasm?.factory;
  if (!stockFactory) throw new Error('useThreadedWasm: no wasm backend registered');
  threadFailure = undefined;
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      try {
        return await threadedBackend();
      } catch (e) {
        threadFailure = `threaded wasm failed (${(e as Error).message ?? String(e)}); using 1 thread`;
        tfw.setThreadsCount(1);
        return stockFactory();
      }
    },
    2,
  );

  async function threadedBackend(): Promise<tf.KernelBackend> {
    tfw.setThreadsCount(threads);
    const module = await factory({
      locateFile: (p: string) => (p.endsWith('.worker.js') ? paths.worker : p.endsWith('.wasm') ? paths.wasm : p),
      mainScriptUrlOrBlob: paths.main,
    });
    // the same JS<->wasm bridge tfjs-backend-wasm's init() builds
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    const backend = new tfw.BackendWasm(module as never);
    // pthreads are created by the constructor (XNNPACK thread pool): let the process exit with them alive
    for (const w of [...(module.PThread?.runningWorkers ?? []), ...(module.PThread?.unusedWorkers ?? [])]) w.unref();
    return backend;
  }
}

/** Why the threaded backend fell back to the stock single-thread one, if it did. */
export let threadFailure: string | undefined;
