/**
 * What a results folder is made of: the finished runs of a sweep folder (their metrics.json), the teacher's
 * metrics.json, and the wall times computed from them (every number read from a file the runs wrote).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/util/errors.js';
import { sd } from '../../src/report/stats.js';

export interface Prov {
  git?: { commit: string; dirty: boolean };
  backend?: string;
  threads?: number;
  versions?: Record<string, string>;
  machine?: Record<string, unknown>;
  date?: string;
}
export interface Metrics {
  run?: string;
  task: string;
  seed: number;
  preset?: string;
  best: { step: number; metrics: Record<string, number> } | null;
  last: { step: number; metrics: Record<string, number> } | null;
  steps: number;
  wallTimeSec: number;
  resumedFromStep: number | null;
  config: { train: { epochs: number }; data: { trainLimit: number | null; evalLimit: number | null } };
  teacher?: { metrics: Record<string, number> };
  provenance: Prov;
}

export const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;

/** Finished runs (folders with metrics.json) of a sweep folder, by name. */
export function finishedRuns(dir: string): Map<string, Metrics> {
  const out = new Map<string, Metrics>();
  if (!existsSync(dir)) return out;
  for (const d of readdirSync(dir).sort()) {
    const p = join(dir, d, 'metrics.json');
    if (existsSync(p)) out.set(d, readJson<Metrics>(p));
  }
  return out;
}

export function teacherMetrics(dir: string): Metrics {
  const p = join(dir, 'metrics.json');
  if (!existsSync(p))
    throw new UserError(`no teacher metrics at ${p}: the experiment has not run (or its teacher was made elsewhere)`);
  return readJson<Metrics>(p);
}

/** End time of a run (its provenance date, written with metrics.json) and start (end - wall time), in ms. */
const span = (m: Metrics): [number, number] => {
  const end = Date.parse(m.provenance.date ?? '');
  return [end - m.wallTimeSec * 1000, end];
};

/** Wall times: the teacher's, each run's, the runs' span (first start to last end) and the whole (teacher start to last
 * end; null when the runs started more than 5 minutes after the teacher ended: made in another sitting, not one
 * command). */
export function wallTimes(
  teacher: Metrics | null,
  runs: Metrics[],
): {
  teacherSec: number | null;
  runSec: number[];
  runsSpanSec: number;
  wholeSec: number | null;
  runsFrom: string;
  runsTo: string;
} {
  const spans = runs.map(span);
  const start = Math.min(...spans.map((s) => s[0])),
    end = Math.max(...spans.map((s) => s[1]));
  const t = teacher ? span(teacher) : null;
  return {
    teacherSec: teacher ? teacher.wallTimeSec : null,
    runSec: runs.map((r) => r.wallTimeSec),
    runsSpanSec: (end - start) / 1000,
    wholeSec: t && start - t[1] <= 300_000 ? (end - t[0]) / 1000 : null,
    runsFrom: new Date(start).toISOString(),
    runsTo: new Date(end).toISOString(),
  };
}

/** Distinct values of a provenance field over teacher and runs (e.g. the git commits they were made at). */
export function distinctProv(ms: Metrics[], f: (p: Prov) => unknown): string[] {
  return [...new Set(ms.map((m) => JSON.stringify(f(m.provenance) ?? null)))];
}

export const fmtDuration = (sec: number): string => {
  const m = Math.floor(sec / 60),
    s = Math.round(sec - 60 * m);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : m > 0 ? `${m} min ${s} s` : `${s} s`;
};

/** Sample standard deviation (n - 1); null below two values. */
export const std = (xs: number[]): number | null => (xs.length < 2 ? null : sd(xs));

/** Seconds during which two time spans (ISO dates) overlap. */
export function overlapSec(a: [string, string], b: [string, string]): number {
  const lo = Math.max(Date.parse(a[0]), Date.parse(b[0])),
    hi = Math.min(Date.parse(a[1]), Date.parse(b[1]));
  return Math.max(0, (hi - lo) / 1000);
}
