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

/** Register `config`, replacing (not duplicating, which tfjs warns about) any existing registration. */
export function replaceKernel(config: KernelConfig): void {
  const k = key(config.backendName, config.kernelName);
  const old = tf.getKernel(config.kernelName, config.backendName);
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
  return [...ours.values()].filter(c => c.backendName === backendName)
    .map(c => ({ kernelName: c.kernelName, replaced: stock.has(key(backendName, c.kernelName)) }));
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
  const be = tf.findBackend(backendName);
  if (be && cfg.setupFunc) cfg.setupFunc(be);
}
