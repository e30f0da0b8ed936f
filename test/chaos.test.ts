/**
 * The fault suite's reduced form (src/chaos/, `npm run chaos` runs the full one): a kill -9 at a seeded point of a
 * one-run sweep, a full disk while a checkpoint is written, a truncated checkpoint, a live and a stale lock, and four
 * bad inputs, each followed by the checks of the full suite (same results as the uninterrupted sweep, nothing left
 * behind; bad inputs: exit 2, a named error, nothing written). About 1.5 min here (3 min on a loaded machine).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reducedPlan, runSuite, summaryLine, killPoints } from '../src/chaos/suite.js';
import { parseFault } from '../src/util/fault.js';
import { GLUE_DIR } from './helpers/env.js';

test('KDQAT_FAULT: the documented forms parse, anything else is a clear error', (t) => {
  t.is(parseFault(undefined), null);
  t.is(parseFault(''), null);
  t.deepEqual(parseFault('kill@write:latest.json#2'), { action: 'kill', site: 'write', name: 'latest.json', nth: 2 });
  t.deepEqual(parseFault('enospc@write:state.safetensors'), {
    action: 'enospc',
    site: 'write',
    name: 'state.safetensors',
    nth: 1,
  });
  t.deepEqual(parseFault('kill@step:7'), { action: 'kill', site: 'step', name: null, nth: 7 });
  t.deepEqual(parseFault('stop@eval:2'), { action: 'stop', site: 'eval', name: null, nth: 2 });
  for (const bad of ['kill', 'kill@write', 'enospc@step:3', 'kill@step:x', 'boom@step:1', 'stop@write:a.json'])
    t.throws(() => parseFault(bad), { message: /is not a fault/ }, bad);
});

test('the seeded kill points are the same for a seed and cover every kind of point', (t) => {
  t.deepEqual(killPoints(14, 10), killPoints(14, 10));
  t.notDeepEqual(killPoints(14, 10), killPoints(15, 10));
  const kinds = new Set(
    killPoints(14, 10).map((k) => k.replace(/[:#]\d+$/, '').replace(/(results\.(csv|md)|index\.html)/, 'report')),
  );
  t.deepEqual([...kinds].sort(), [
    'kill@eval',
    'kill@step',
    'kill@write:latest.json',
    'kill@write:metrics.json',
    'kill@write:model.safetensors',
    'kill@write:report',
    'kill@write:state.safetensors',
  ]);
});

test('reduced fault suite: killed, starved and corrupted runs lose nothing; bad inputs write nothing', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'kdqat-chaos-'));
  const lines: string[] = [];
  try {
    const outcomes = await runSuite(reducedPlan(14), join(work, 'w'), GLUE_DIR, (s) => lines.push(s));
    t.log(lines.join('\n'));
    const line = summaryLine(outcomes);
    t.regex(line, /^\d+ kill points, \d+ faults, \d+ bad inputs: \d+ recovered, \d+ lost$/);
    t.is(line, '1 kill points, 3 faults, 4 bad inputs: 8 recovered, 0 lost', lines.join('\n'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
