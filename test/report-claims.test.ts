/**
 * The claims' statistics and verdicts on made-up studies whose answers are known: Student-t quantiles against
 * tabulated values, a resolved effect in the claimed direction, one against it, and one inside the seeds' spread.
 */
import test from 'ava';
import { compareGroups, comparePaired, tCritical } from '../src/report/stats.js';
import { testClaims, type ClaimRun, type StudyData } from '../src/report/claims.js';
import { dotWhisker } from '../src/report/charts-points.js';
import { specToSvg } from '../src/report/render.js';

test('Student t critical values match the tables, and intervals resolve only clear differences', (t) => {
  for (const [df, q] of [
    [1, 12.706],
    [2, 4.303],
    [4, 2.776],
    [15, 2.131],
    [1000, 1.962],
  ])
    t.is(Number(tCritical(df).toFixed(3)), q, `df ${df}`);
  t.is(Number(tCritical(4, 0.99).toFixed(3)), 4.604);
  const clear = compareGroups([0.81, 0.812, 0.811], [0.8, 0.801, 0.799]);
  t.true(clear.resolved && clear.diff > 0 && clear.ci[0] > 0);
  const noisy = compareGroups([0.81, 0.79, 0.8], [0.805, 0.795, 0.8]);
  t.false(noisy.resolved);
  t.true(comparePaired([1, 2, 3, 4], [0.5, 1.4, 2.6, 3.5]).resolved);
  t.throws(() => comparePaired([1], [1, 2]));
});

const runs = (means: Record<string, number>, jitter: number[]): ClaimRun[] =>
  Object.entries(means).flatMap(([preset, m]) =>
    [42, 52, 62].map((seed, i) => ({
      run: `${preset}_s${seed}`,
      preset,
      seed,
      map: 1,
      output: 1,
      best: m + jitter[i],
      last: m,
    })),
  );
const study = (task: string, means: Record<string, number>, jitter = [0.001, -0.001, 0]): StudyData => ({
  study: task,
  task,
  metric: 'acc',
  teacher: 0.82,
  floor: 0.5,
  majority: 0.5,
  reduced: null,
  runs: runs(means, jitter),
  analysis: null,
});

test('verdicts: consistent, not consistent, and not resolved inside the spread', (t) => {
  const a = study('sst-2', { ternarybert: 0.7, map: 0.75, output: 0.72, 'map+output': 0.76 });
  const b = study('cola', { ternarybert: 0.3, map: 0.31, output: 0.35, 'map+output': 0.36 });
  const [c1, c2, c3, c4] = testClaims([a, b]);
  t.is(c1.tasks['sst-2'].verdict, 'consistent');
  t.is(c2.tasks['sst-2'].verdict, 'consistent', 'map preferred on one task, output on the other');
  t.regex(c2.tasks['sst-2'].measured, /prefers map/);
  t.regex(c2.tasks.cola.measured, /prefers output/);
  t.is(c3.tasks['sst-2'].verdict, 'consistent');
  t.is(c4.tasks['sst-2'].verdict, 'not resolved at this scale', 'no analysis');
  const worse = testClaims([study('sst-2', { ternarybert: 0.8, map: 0.75, output: 0.81, 'map+output': 0.7 })]);
  t.is(worse[0].tasks['sst-2'].verdict, 'not consistent');
  t.is(worse[2].tasks['sst-2'].verdict, 'not consistent', 'map+output resolved below the better one');
  const noisy = testClaims([
    study('sst-2', { ternarybert: 0.8, map: 0.801, output: 0.802, 'map+output': 0.801 }, [0.01, -0.01, 0]),
  ]);
  for (const c of noisy) t.is(c.tasks['sst-2'].verdict, 'not resolved at this scale', `claim ${c.id}`);
});

test('the dot-and-whisker figure renders with its reference lines', async (t) => {
  const svg = await specToSvg(
    dotWhisker({
      title: 'x',
      data: [
        { p: 'a', v: 1 },
        { p: 'a', v: 2 },
        { p: 'b', v: 3 },
      ],
      category: 'p',
      value: 'v',
      labelFormat: '.2f',
      reference: { value: 2.5, label: 'teacher' },
    }),
  );
  t.regex(svg, /teacher/);
  t.regex(svg, /1\.50/);
});
