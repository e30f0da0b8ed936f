/**
 * The fault suite (`npm run chaos`; its reduced form runs in `npm test`, test/chaos.test.ts): kill -9 at seeded points
 * of a tiny sweep, faults (a full disk, damaged checkpoints and results, locks) and a table of bad inputs. One
 * uninterrupted sweep is the reference (it fine-tunes the tiny teacher from scratch, which every case then reuses).
 * Ends with one line: `N kill points, N faults, N bad inputs: N recovered, N lost` (lost: cases that failed).
 */
import { join } from 'node:path';
import { renameSync, rmSync } from 'node:fs';
import {
  diskFull,
  garbledMetrics,
  killPoint,
  liveAndStaleLock,
  missingCheckpoint,
  simultaneous,
  truncatedCheckpoint,
  truncatedLatest,
  type Case,
  type Ctx,
} from './cases.js';
import { BAD_INPUTS, REDUCED_BAD_INPUTS, runBadInput, type BadInput } from './bad-inputs.js';
import { leftovers, makeBench, results, runSweep } from './harness.js';
import { mulberry32 } from '../util/random.js';

export interface Plan {
  runs: 1 | 2;
  kills: string[];
  faults: Case[];
  bad: BadInput[];
}

/**
 * `n` kill points drawn with `seed`, spread over where a sweep can die: inside a training step (a run has 8), during an
 * evaluation (a run makes 5, its teacher's first), while a checkpoint (3 per run), latest.json (3), the student's
 * weights, metrics.json or the report is written; all distinct. Each run process counts its own; the first to reach
 * the point kills the whole sweep.
 */
export function killPoints(seed: number, n: number): string[] {
  const r = mulberry32(seed), // seeded: a seed names the same kill points on every machine
    pick = (k: number) => 1 + Math.floor(r() * k);
  const kinds: (() => string)[] = [
    () => `kill@step:${pick(8)}`,
    () => `kill@write:latest.json#${pick(3)}`,
    () => `kill@write:metrics.json#1`,
    () => `kill@write:state.safetensors#${pick(3)}`,
    () => `kill@eval:${pick(5)}`,
    () => `kill@write:${['results.csv', 'results.md', 'index.html'][pick(3) - 1]}#1`,
    () => `kill@write:model.safetensors#1`,
    () => `kill@step:${pick(8)}`,
    () => `kill@write:latest.json#${pick(3)}`,
    () => `kill@write:state.safetensors#${pick(3)}`,
  ];
  const points: string[] = [];
  for (let i = 0; i < n; i++) {
    let p = kinds[i % kinds.length]();
    for (let tries = 0; points.includes(p) && tries < 20; tries++) p = kinds[i % kinds.length](); // distinct points
    points.push(p);
  }
  return points;
}

export function fullPlan(seed: number): Plan {
  return {
    runs: 2,
    kills: killPoints(seed, 10),
    faults: [
      diskFull,
      truncatedCheckpoint,
      missingCheckpoint,
      truncatedLatest,
      garbledMetrics,
      liveAndStaleLock,
      simultaneous,
    ],
    bad: BAD_INPUTS,
  };
}

/**
 * For `npm test`: one run, the first kill point, a full disk, a damaged checkpoint, the lock cases in one, 4 bad
 * inputs.
 */
export function reducedPlan(seed: number): Plan {
  return {
    runs: 1,
    kills: killPoints(seed, 1),
    faults: [diskFull, truncatedCheckpoint, liveAndStaleLock],
    bad: BAD_INPUTS.filter((b) => REDUCED_BAD_INPUTS.includes(b.name)),
  };
}

export interface Outcome {
  kind: 'kill' | 'fault' | 'bad';
  name: string;
  problems: string[];
  seconds: number;
}

export const summaryLine = (o: Outcome[]): string => {
  const n = (k: Outcome['kind']) => o.filter((x) => x.kind === k).length,
    lost = o.filter((x) => x.problems.length).length;
  return (
    `${n('kill')} kill points, ${n('fault')} faults, ${n('bad')} bad inputs: ${o.length - lost} recovered, ` +
    `${lost} lost`
  );
};

/** Run `plan` in `work` (made afresh; GLUE rows copied from `glueSource`); `say` gets one line per case. */
export async function runSuite(
  plan: Plan,
  work: string,
  glueSource: string,
  say: (s: string) => void = () => {},
): Promise<Outcome[]> {
  const bench = makeBench(work, glueSource, plan.runs);
  const t0 = performance.now();
  const ref = await runSweep(bench);
  if (ref.status !== 0)
    throw new Error(`the reference sweep failed (exit ${ref.status ?? ref.signal}):\n${ref.stderr}`);
  const refResults = results(bench);
  const stray = leftovers(bench.out, [/\/teachers\//]);
  if (stray.length) throw new Error(`the reference sweep left ${stray.join(', ')}`);
  renameSync(bench.out, bench.ref);
  say(
    `reference sweep (teacher from scratch, ${plan.runs} run${plan.runs > 1 ? 's' : ''}): ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  const ctx: Ctx = { bench, ref: refResults };
  const outcomes: Outcome[] = [];
  const record = (kind: Outcome['kind'], name: string, problems: string[], t: number) => {
    const o = { kind, name, problems, seconds: (performance.now() - t) / 1000 };
    outcomes.push(o);
    say(
      `${problems.length ? 'LOST' : 'ok  '} ${kind.padEnd(5)} ${name} (${o.seconds.toFixed(0)} ` +
        `s)${problems.map((p) => `\n       ${p}`).join('')}`,
    );
  };
  for (const c of [...plan.kills.map(killPoint), ...plan.faults]) {
    const t = performance.now();
    let problems: string[];
    try {
      problems = await c.run(ctx);
    } catch (e) {
      problems = [`the case itself failed: ${(e as Error).stack}`];
    }
    record(c.kind, c.name, problems, t);
  }
  // bad inputs: two at a time (each is one short process)
  let next = 0;
  const worker = async () => {
    while (next < plan.bad.length) {
      const i = next++,
        t = performance.now();
      let problems: string[];
      try {
        problems = await runBadInput(bench, plan.bad[i], join(work, 'bad', String(i)));
      } catch (e) {
        problems = [`the case itself failed: ${(e as Error).stack}`];
      }
      record('bad', plan.bad[i].name, problems, t);
    }
  };
  await Promise.all([worker(), worker()]);
  rmSync(join(work, 'bad'), { recursive: true, force: true });
  return outcomes;
}
