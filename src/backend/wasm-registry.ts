/**
 * Kernel-registry helpers for the kernel replacements of wasm-kernels.ts and cpu-kernels.ts: swap a registered
 * kernel for ours while remembering the original, so benchmarks and tests can switch back and forth.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig } from '@tensorflow/tfjs';

const key = (backendName: string, kernelName: string): string => `${backendName}/${kernelName}`;
/** the registration found before our first replacement (absent when tfjs had none) */
const stock = new Map<string, KernelConfig>();
/** our replacement */
const ours = new Map<string, KernelConfig>();

/**
 * Register `config`, replacing (not duplicating, which tfjs warns about) any existing registration. The displaced
 * kernel's setupFunc is kept when `config` has none: stock wasm kernels call module-level functions that another
 * kernel's setupFunc binds (Min, Mean, Sum... call Transpose's `wasmTranspose`), so it must still run at init.
 */
export function replaceKernel(config: KernelConfig): void {
  const k = key(config.backendName, config.kernelName);
  const old = tf.getKernel(config.kernelName, config.backendName);
  if (old?.setupFunc && !config.setupFunc) config = { ...config, setupFunc: old.setupFunc };
  if (old && !ours.has(k)) stock.set(k, old);
  ours.set(k, config);
  if (old) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

/** The original tfjs kernel that `replaceKernel` displaced, if any. */
export function stockKernel(backendName: string, kernelName: string): KernelConfig | undefined {
  return stock.get(key(backendName, kernelName));
}

/** Kernel names we registered for a backend; `replaced` tells whether tfjs had its own before. */
export function ourKernels(backendName: string): { kernelName: string; replaced: boolean }[] {
  return [...ours.values()]
    .filter((c) => c.backendName === backendName)
    .map((c) => ({ kernelName: c.kernelName, replaced: stock.has(key(backendName, c.kernelName)) }));
}

/**
 * Switch one kernel between tfjs' original ('stock') and our replacement ('ours'). For benchmarks and tests.
 * Throws when there is no such variant (e.g. 'stock' for a kernel tfjs never had).
 */
export function useKernel(backendName: string, kernelName: string, variant: 'stock' | 'ours'): void {
  const k = key(backendName, kernelName);
  const cfg = variant === 'stock' ? stock.get(k) : ours.get(k);
  if (!cfg) throw new Error(`no ${variant} kernel ${kernelName} for backend ${backendName}`);
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel(cfg);
  // kernels registered after backend init miss the engine's setupFunc call (stock wasm kernels cwrap there)
  const be = initializedBackend(backendName);
  if (be && cfg.setupFunc) cfg.setupFunc(be);
}

/** The backend instance if it has been initialised, else undefined (tf.findBackend would start initialising it). */
export function initializedBackend(backendName: string): tf.KernelBackend | undefined {
  return (tf.engine() as unknown as { registry: Record<string, tf.KernelBackend> }).registry[backendName];
}

/** backend instances on which a stock kernel's setupFunc has run, per kernel key */
const setUp = new Map<string, WeakSet<object>>();

/**
 * Run the stock (displaced) kernel for `args`, e.g. for a case our replacement does not cover. Its setupFunc (the
 * cwrap of the wasm kernels) is run first when needed: the engine skips it for kernels unregistered before init.
 */
export function callStock<T>(backendName: string, kernelName: string, args: { backend: unknown }): T {
  const k = key(backendName, kernelName);
  const cfg = stock.get(k);
  if (!cfg) throw new Error(`no stock ${kernelName} kernel for backend ${backendName}`);
  if (cfg.setupFunc) {
    let s = setUp.get(k);
    if (!s) {
      s = new WeakSet();
      setUp.set(k, s);
    }
    if (!s.has(args.backend as object)) {
      cfg.setupFunc(args.backend as tf.KernelBackend);
      s.add(args.backend as object);
    }
  }
  return cfg.kernelFunc(args as never) as T;
}
