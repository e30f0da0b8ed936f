/**
 * How many runs a local sweep runs at a time, and with how many native threads each, when --jobs/--threads are not
 * given. Measured on a 2-core machine (docs/benchmarks.md, "Sweep parallelism"): one single-threaded run per core
 * finishes a sweep faster than one run with every core's threads, and much faster when another process shares the
 * machine, since a run with one thread never waits for a descheduled OpenMP peer. Memory caps the runs at a time:
 * two BERT-base runs do not fit in 24 GiB.
 */
import { existsSync, readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { BERT_PRESETS } from '../model/config.js';

export interface Parallelism {
  /** runs at a time */
  jobs: number;
  /** native threads per run */
  threads: number;
  /** the runs at a time were capped by memory (the count without the cap) */
  memoryCapped?: number;
}

/** What a run's memory estimate rests on: the machine's available bytes and one run's estimated peak. */
export interface MemoryBudget {
  availableBytes: number;
  perRunBytes: number;
}

/**
 * The default for `cores` cores and `pending` runs to do: one run per core (no more than there are runs, nor than
 * fit in memory), the cores shared out as threads among them (a single run gets them all).
 */
export function defaultParallelism(cores: number, pending: number, memory?: MemoryBudget): Parallelism {
  const c = Math.max(1, Math.floor(cores));
  const wanted = Math.max(1, Math.min(c, Math.floor(pending)));
  const fit = memory ? Math.max(1, Math.floor(memory.availableBytes / memory.perRunBytes)) : wanted;
  const jobs = Math.min(wanted, fit);
  return { jobs, threads: Math.max(1, Math.floor(c / jobs)), ...(jobs < wanted ? { memoryCapped: wanted } : {}) };
}

/**
 * The sweep's parallelism: explicit --jobs/--threads win (--jobs N > 1 alone: one thread each, as before; --threads T
 * alone: as many runs as leave T threads to each), the default otherwise.
 */
export function sweepParallelism(
  flags: { jobs?: number; threads?: number },
  cores: number,
  pending: number,
  memory?: MemoryBudget,
): Parallelism {
  const { jobs, threads } = flags;
  if (jobs !== undefined) return { jobs, threads: threads ?? (jobs > 1 ? 1 : Math.max(1, cores)) };
  if (threads !== undefined)
    return { ...defaultParallelism(Math.max(1, Math.floor(cores / threads)), pending, memory), threads };
  return defaultParallelism(cores, pending, memory);
}

const GiB = 2 ** 30;

/** The one line a sweep prints about its choice (`explicit`: --jobs or --threads was given). */
export function describeParallelism(p: Parallelism, cores: number, explicit: boolean, memory?: MemoryBudget): string {
  const runs = `${p.jobs} run${p.jobs > 1 ? 's' : ''} at a time x ${p.threads} thread${p.threads > 1 ? 's' : ''}`;
  const why = [`${cores} core${cores > 1 ? 's' : ''}`];
  const gib = (bytes: number) => (bytes / GiB).toFixed(1);
  if (p.memoryCapped !== undefined && memory)
    why.push(`memory: ~${gib(memory.perRunBytes)} GiB a run, ${gib(memory.availableBytes)} GiB available`);
  const change = explicit ? 'from --jobs/--threads' : '--jobs/--threads to change';
  return `sweep: parallel: ${runs} (${why.join('; ')}); ${change}`;
}

/** Weights of a BERT encoder of these dimensions with a classifier (biases and layer norms included, roughly). */
export function bertParameters(d: { vocab: number; layers: number; hidden: number; ff: number; positions: number }) {
  const { vocab, layers, hidden: h, ff } = d;
  return (vocab + d.positions + 2) * h + layers * (4 * h * h + 2 * h * ff + 9 * h + ff) + h * h;
}

/**
 * A run's peak memory, roughly, from its model's size: a fixed part (Node, tfjs, the data) and bytes per weight
 * (teacher, student, latent weights, gradients, Adam moments, activations at the default batch), fitted to a tiny
 * run's and a BERT-base run's measured peak (docs/benchmarks.md).
 */
export const runMemoryEstimate = (parameters: number) => 0.6 * GiB + 110 * parameters;

/**
 * The memory budget of a sweep distilling from `bert` (a preset, or a model under models/ whose config.json is read,
 * as is the teacher's when it exists): undefined when its size is unknown.
 */
export function sweepMemoryBudget(bert: string, configDirs: string[]): MemoryBudget | undefined {
  let dims: { vocab: number; layers: number; hidden: number; ff: number; positions: number } | undefined;
  for (const dir of configDirs) {
    const f = join(dir, 'config.json');
    if (dims || !existsSync(f)) continue;
    try {
      const c = JSON.parse(readFileSync(f, 'utf8')) as Record<string, number>;
      dims = {
        vocab: c.vocab_size,
        layers: c.num_hidden_layers,
        hidden: c.hidden_size,
        ff: c.intermediate_size,
        positions: c.max_position_embeddings ?? 512,
      };
    } catch {
      // an unreadable config is reported by the run that loads it; here it only leaves the size unknown
    }
  }
  const p = BERT_PRESETS[bert];
  if (!dims && p)
    dims = {
      vocab: 30522,
      layers: p.num_hidden_layers,
      hidden: p.hidden_size,
      ff: p.intermediate_size,
      positions: 512,
    };
  if (!dims || !Object.values(dims).every((x) => Number.isFinite(x) && x > 0)) return undefined;
  return { availableBytes: freemem(), perRunBytes: runMemoryEstimate(bertParameters(dims)) };
}

/**
 * OpenMP's wait policy for a local sweep and its runs (set before the native addon loads, so libgomp reads it):
 * PASSIVE unless the user chose one (OMP_WAIT_POLICY or GOMP_SPINCOUNT). By default libgomp spins ~300,000 times at
 * every barrier before sleeping, which on a shared machine burns the CPU its peer thread needs: a two-thread run
 * used 5x the CPU time of two one-thread runs (docs/benchmarks.md). Numbers do not depend on it. Returns whether it
 * set it.
 */
export function passiveOpenMpWait(env: NodeJS.ProcessEnv): boolean {
  if (env.OMP_WAIT_POLICY !== undefined || env.GOMP_SPINCOUNT !== undefined) return false;
  env.OMP_WAIT_POLICY = 'PASSIVE';
  return true;
}
