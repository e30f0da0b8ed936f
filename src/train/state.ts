/**
 * The checkpoints of an unfinished run, `<run>/state/`: `ckpt-<step>/state.safetensors` (weights, optimizer and
 * balancer state) and `latest.json`, the commit point, which records the newest checkpoint with its size and sha256
 * and the one before it. A new checkpoint is complete (written, then recorded) before the older one is removed, so
 * two are kept. On resume each is verified against latest.json; a damaged or missing one is reported, naming the file,
 * and the previous one is used, else the run restarts from step 0: nothing is loaded unchecked.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWrite, atomicWriteJson } from '../util/fsx.js';
import { parseSafetensors, serializeSafetensors, type WriteTensor } from '../util/safetensors.js';
import type { MetricDict } from '../data/metrics.js';

/** one dev evaluation of a run: its step, metrics and the task's selection value */
export interface EvalRecord {
  step: number;
  metrics: MetricDict;
  selection: number;
}

/** What a checkpoint records besides its tensors: where training stood. */
export interface SavedState {
  step: number;
  best: EvalRecord | null;
  last: EvalRecord | null;
  logLines: number;
  trainTokens: number;
  trainSeconds: number;
}

interface Entry extends SavedState {
  dir: string;
  bytes: number;
  sha256: string;
}
interface Latest extends Entry {
  previous: Entry | null;
}

export interface LoadedState extends SavedState {
  dir: string;
  tensors: Map<string, { shape: number[]; data: ArrayLike<number> }>;
}

const FILE = 'state.safetensors';
const latestPath = (runDir: string) => join(runDir, 'state', 'latest.json');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function readLatest(runDir: string): Latest {
  const l = JSON.parse(readFileSync(latestPath(runDir), 'utf8')) as Latest;
  if (!l || typeof l !== 'object' || !Number.isInteger(l.step) || typeof l.dir !== 'string')
    throw new Error('not a checkpoint record (step, dir)');
  return l;
}

/** Write a checkpoint of `tensors` at `s.step`, record it in latest.json, then drop all but it and the previous one. */
export function saveState(runDir: string, tensors: Record<string, WriteTensor>, s: SavedState): void {
  const stateDir = join(runDir, 'state');
  const dir = `ckpt-${String(s.step).padStart(7, '0')}`;
  const buf = serializeSafetensors(tensors);
  atomicWrite(join(stateDir, dir, FILE), buf);
  let previous: Entry | null = null;
  try {
    const { previous: _p, ...cur } = readLatest(runDir);
    if (cur.dir !== dir) previous = cur;
  } catch {
    /* first checkpoint, or an unreadable record: nothing to keep */
  }
  // the commit point
  atomicWriteJson(latestPath(runDir), { ...s, dir, bytes: buf.length, sha256: sha256(buf), previous } satisfies Latest);
  const keep = new Set([dir, previous?.dir]);
  for (const d of readdirSync(stateDir))
    if (d.startsWith('ckpt-') && !keep.has(d)) rmSync(join(stateDir, d), { recursive: true, force: true });
}

/** Why the checkpoint of `e` cannot be used (missing, another size, with `hash` another sha256), or its bytes. */
function checkEntry(runDir: string, e: Entry, hash: boolean): Buffer | true | string {
  const path = join(runDir, 'state', e.dir, FILE);
  if (typeof e.sha256 !== 'string' || !Number.isInteger(e.bytes))
    return `${latestPath(runDir)} records no size and sha256 for ${path} (an older kdqat's checkpoint?)`;
  if (!existsSync(path)) return `${path} is missing`;
  const size = statSync(path).size;
  if (size !== e.bytes) return `${path} has ${size} bytes, latest.json recorded ${e.bytes} (truncated or overwritten)`;
  if (!hash) return true;
  const buf = readFileSync(path);
  return sha256(buf) === e.sha256 ? buf : `${path} does not match the sha256 recorded in latest.json (damaged)`;
}

/**
 * The newest usable checkpoint of `runDir` (with `hash`, its bytes verified and read), or null: none, the run starts
 * at step 0. Each one that cannot be used is said by `log`, naming its file.
 */
function usable(runDir: string, log: (s: string) => void, hash: boolean): { entry: Entry; buf: Buffer | null } | null {
  if (!existsSync(latestPath(runDir))) return null;
  let latest: Latest;
  try {
    latest = readLatest(runDir);
  } catch (e) {
    log(
      `${latestPath(runDir)} is damaged (${(e as Error).message.split('\n')[0]}): its checkpoints cannot be trusted; ` +
        `the run restarts from step 0`,
    );
    return null;
  }
  for (const e of [latest, latest.previous]) {
    if (!e) break;
    const r = checkEntry(runDir, e, hash);
    if (typeof r !== 'string') return { entry: e, buf: r === true ? null : r };
    const prev = e === latest ? latest.previous : null;
    log(
      `checkpoint of step ${e.step} not used: ${r}; ` +
        `${prev ? `using the previous one (step ${prev.step})` : 'the run restarts from step 0'}`,
    );
  }
  return null;
}

/** The newest intact checkpoint of `runDir` (sha256 verified), or null: the run starts at step 0. */
export function loadState(runDir: string, log: (s: string) => void): LoadedState | null {
  const u = usable(runDir, log, true);
  if (!u) return null;
  const { bytes: _b, sha256: _s, previous: _p, ...s } = u.entry as Latest;
  return { ...s, tensors: parseSafetensors(u.buf!, join(runDir, 'state', s.dir, FILE)).tensors };
}

/** The step a run would resume from (its checkpoint's size checked; loadState also checks its sha256), or null. */
export function resumeStep(runDir: string, log: (s: string) => void = () => {}): number | null {
  return usable(runDir, log, false)?.entry.step ?? null;
}

const bestPath = (runDir: string) => join(runDir, 'state', 'best.safetensors');

/** Keep the weights of a run's best evaluation so far (state/best.safetensors, its step in the metadata). */
export function saveBestWeights(runDir: string, tensors: Record<string, WriteTensor>, step: number): void {
  atomicWrite(bestPath(runDir), serializeSafetensors(tensors, { 'kdqat.best_step': String(step) }));
}

/** The kept best weights when they are those of evaluation step `step` (else null: absent, damaged or another step). */
export function loadBestWeights(
  runDir: string,
  step: number,
): Map<string, { shape: number[]; data: ArrayLike<number> }> | null {
  const p = bestPath(runDir);
  if (!existsSync(p)) return null;
  try {
    const f = parseSafetensors(readFileSync(p), p);
    return f.metadata['kdqat.best_step'] === String(step) ? f.tensors : null;
  } catch {
    return null;
  }
}

/** Remove resumption state once a run is complete and its results are written. */
export function clearState(runDir: string): void {
  rmSync(join(runDir, 'state'), { recursive: true, force: true });
}
