/**
 * The suite's kill points and faults. Each case returns what went wrong (empty: recovered): a kill point is a
 * KDQAT_FAULT kill of the whole sweep, then the same command again; a fault is a full disk, a damaged run folder or a
 * lock, each followed by the same command. Every case ends with the reference sweep's results and nothing left over.
 */
import { existsSync, readFileSync, statSync, truncateSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../util/provenance.js';
import {
  diffResults,
  freshOut,
  isStopped,
  killGroup,
  leftovers,
  results,
  runSweep,
  sleep,
  type Bench,
  type Result,
} from './harness.js';

export interface Ctx {
  bench: Bench;
  ref: Record<string, unknown>;
}
export interface Case {
  kind: 'kill' | 'fault';
  name: string;
  run: (c: Ctx) => Promise<string[]>;
}

const tail = (r: Result) => r.stderr.trim().split('\n').slice(-4).join(' | ');

/** Resume with the same command (no fault): it must succeed, give the reference results and leave nothing behind. */
async function resumeAndCheck(
  c: Ctx,
  opts: { report?: boolean; allow?: RegExp[] } = {},
): Promise<{ problems: string[]; r: Result }> {
  const r = await runSweep(c.bench, {}, { report: opts.report });
  const problems: string[] = [];
  if (r.status !== 0) problems.push(`the resumed sweep failed (exit ${r.status ?? r.signal}): ${tail(r)}`);
  problems.push(...diffResults(c.ref, results(c.bench)).map((d) => `differs from the uninterrupted sweep: ${d}`));
  problems.push(...leftovers(c.bench.out, opts.allow).map((f) => `left behind: ${f}`));
  // the runs read git's state for their provenance: a kill at that moment must not leave the checkout locked
  if (existsSync(join(PROJECT_ROOT, '.git', 'index.lock')))
    problems.push(`left behind: ${join(PROJECT_ROOT, '.git', 'index.lock')}`);
  if (opts.report)
    for (const f of ['results.csv', 'results.md', 'index.html'])
      if (!existsSync(join(c.bench.out, 'rte', 'report', f))) problems.push(`no report/${f} after the resume`);
  return { problems, r };
}

/** Run the sweep with `fault` on a fresh folder; it must die of it (SIGKILL). */
async function killed(c: Ctx, fault: string, report = false): Promise<string[]> {
  freshOut(c.bench);
  const r = await runSweep(c.bench, { KDQAT_FAULT: fault }, { report });
  return r.signal === 'SIGKILL' ? [] : [`${fault}: the fault did not fire (exit ${r.status ?? r.signal}): ${tail(r)}`];
}

export function killPoint(fault: string): Case {
  const report = /^kill@write:(results\.(csv|md)|index\.html)/.test(fault);
  return {
    kind: 'kill',
    name: `kill -9 at ${fault}`,
    run: async (c) => {
      const k = await killed(c, fault, report);
      return k.length ? k : (await resumeAndCheck(c, { report })).problems;
    },
  };
}

/** The run folders holding checkpoints, with latest.json's record. */
function checkpointed(
  c: Ctx,
): { run: string; dir: string; latest: { step: number; dir: string; previous: { step: number } | null } }[] {
  return c.bench.runs
    .map((run) => ({ run, dir: join(c.bench.out, 'rte', run) }))
    .filter((r) => existsSync(join(r.dir, 'state', 'latest.json')))
    .map((r) => ({ ...r, latest: JSON.parse(readFileSync(join(r.dir, 'state', 'latest.json'), 'utf8')) }));
}

/**
 * A full disk while the 2nd checkpoint is written: exit 2 naming the file, the previous checkpoint intact, then a
 * resume.
 */
export const diskFull: Case = {
  kind: 'fault',
  name: 'disk full (ENOSPC) while a checkpoint is written',
  run: async (c) => {
    freshOut(c.bench);
    const r = await runSweep(c.bench, { KDQAT_FAULT: 'enospc@write:state.safetensors#2' });
    const p: string[] = [];
    if (r.status !== 2) p.push(`exit ${r.status ?? r.signal}, not 2`);
    if (!/cannot write \S+state\.safetensors: no space left on device/.test(r.stderr))
      p.push(`no message naming the checkpoint file and the full disk: ${tail(r)}`);
    if (/\n\s+at /.test(r.stderr)) p.push('a stack trace was printed');
    const cks = checkpointed(c);
    if (!cks.length) p.push('no checkpoint was left');
    for (const k of cks)
      if (k.latest.step !== 2 || !existsSync(join(k.dir, 'state', k.latest.dir, 'state.safetensors')))
        p.push(`${k.run}: the previous checkpoint (step 2) is not intact: latest.json says step ${k.latest.step}`);
    p.push(...leftovers(c.bench.out, [/\/state$/]).map((f) => `left behind after the failure: ${f}`));
    return [...p, ...(await resumeAndCheck(c)).problems];
  },
};

type Damage = (k: ReturnType<typeof checkpointed>[number]) => { file: string; expect: RegExp };

/**
 * Kill the sweep after its checkpoints, damage every run's state with `damage`, resume: each damage named, same
 * results.
 */
function damagedState(name: string, damage: Damage): Case {
  return {
    kind: 'fault',
    name,
    run: async (c) => {
      const k = await killed(c, 'kill@step:7');
      if (k.length) return k;
      const cks = checkpointed(c);
      if (!cks.length) return ['no run had a checkpoint to damage'];
      const expected = cks.map(damage);
      const { problems, r } = await resumeAndCheck(c);
      for (const e of expected)
        if (!e.expect.test(r.stderr)) problems.push(`the damage to ${e.file} was not reported (expected ${e.expect})`);
      return problems;
    },
  };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const newest = (k: ReturnType<typeof checkpointed>[number]) => join(k.dir, 'state', k.latest.dir, 'state.safetensors');
const fallback = (k: ReturnType<typeof checkpointed>[number]) =>
  k.latest.previous ? `using the previous one \\(step ${k.latest.previous.step}\\)` : 'the run restarts from step 0';

export const truncatedCheckpoint = damagedState('a truncated checkpoint', (k) => {
  const file = newest(k);
  truncateSync(file, Math.floor(statSync(file).size / 2));
  return {
    file,
    expect: new RegExp(
      `${esc(file)} has \\d+ bytes, latest\\.json recorded \\d+ \\(truncated or overwritten\\); ${fallback(k)}`,
    ),
  };
});

export const missingCheckpoint = damagedState('latest.json pointing at a missing checkpoint', (k) => {
  const file = newest(k);
  rmSync(join(k.dir, 'state', k.latest.dir), { recursive: true });
  return { file, expect: new RegExp(`${esc(file)} is missing; ${fallback(k)}`) };
});

export const truncatedLatest = damagedState('a truncated latest.json', (k) => {
  const file = join(k.dir, 'state', 'latest.json');
  truncateSync(file, Math.floor(statSync(file).size / 2));
  return {
    file,
    expect: new RegExp(
      `${esc(file)} is damaged \\(.*\\): its checkpoints cannot be trusted; the run restarts from step 0`,
    ),
  };
});

/** A finished sweep whose first run's metrics.json is garbled: said, naming the file, and that run is made again. */
export const garbledMetrics: Case = {
  kind: 'fault',
  name: 'a garbled metrics.json of a finished run',
  run: async (c) => {
    freshOut(c.bench);
    const first = await runSweep(c.bench);
    if (first.status !== 0) return [`the sweep failed (exit ${first.status}): ${tail(first)}`];
    const file = join(c.bench.out, 'rte', c.bench.runs[0], 'metrics.json');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.length >> 1).replace(/"/g, "'") + '\u0000\u00ff garbage');
    const { problems, r } = await resumeAndCheck(c, { allow: [/metrics\.json\.damaged$/] });
    if (
      !new RegExp(
        `${esc(file)} is damaged \\(.*\\): moved to metrics\\.json\\.damaged; the run is not finished and runs again`,
      ).test(r.stderr)
    )
      problems.push(`the garbled ${file} was not reported: ${tail(r)}`);
    if (!/0 finished already, 1 to run|1 finished already, 1 to run/.test(r.stderr))
      problems.push(`the damaged run was not run again: ${tail(r)}`);
    return problems;
  },
};

/** A live sweep (frozen by SIGSTOP) holds the folder: a second is refused with its pid; killed, its lock is broken. */
export const liveAndStaleLock: Case = {
  kind: 'fault',
  name: "a live sweep refuses a second, a killed one's lock is broken",
  run: async (c) => {
    freshOut(c.bench);
    let pid = 0;
    const held = runSweep(
      c.bench,
      { KDQAT_FAULT: 'stop@step:3' },
      {
        onStart: (p) => {
          pid = p;
        },
      },
    );
    const p: string[] = [];
    for (let i = 0; i < 3000 && !isStopped(pid); i++) await sleep(100);
    if (!isStopped(pid)) {
      killGroup(pid, 'SIGKILL');
      await held;
      return ['the first sweep never reached its stop point'];
    }
    const second = await runSweep(c.bench);
    if (
      second.status !== 2 ||
      !new RegExp(`another sweep \\(pid ${pid}, started .*\\) is writing to`).test(second.stderr)
    )
      p.push(`the second sweep was not refused with the first's pid (exit ${second.status}): ${tail(second)}`);
    killGroup(pid, 'SIGKILL');
    await held;
    const { problems, r } = await resumeAndCheck(c);
    if (!new RegExp(`removed the stale lock \\S+\\.sweep\\.lock of pid ${pid} `).test(r.stderr))
      p.push(`the killed sweep's lock was not broken with a message: ${tail(r)}`);
    return [...p, ...problems];
  },
};

/** Two sweeps started at the same instant on one folder: exactly one runs, the other is refused (exit 2). */
export const simultaneous: Case = {
  kind: 'fault',
  name: 'two sweeps started at the same instant',
  run: async (c) => {
    freshOut(c.bench);
    const [a, b] = await Promise.all([runSweep(c.bench), runSweep(c.bench)]);
    const codes = [a.status, b.status].sort();
    const p: string[] = [];
    if (codes[0] !== 0 || codes[1] !== 2)
      p.push(`exits ${a.status} and ${b.status}, not one 0 and one 2: ${tail(a)} || ${tail(b)}`);
    const loser = a.status === 2 ? a : b;
    if (!/another sweep \(pid \d+, started .*\) is writing to/.test(loser.stderr))
      p.push(`the refused sweep did not name the other's pid: ${tail(loser)}`);
    p.push(...diffResults(c.ref, results(c.bench)).map((d) => `differs from the reference: ${d}`));
    p.push(...leftovers(c.bench.out).map((f) => `left behind: ${f}`));
    return p;
  },
};
