/**
 * Every chart of both reports (sweep results, analysis) renders headlessly from synthetic results that hit the hard
 * cases, and the specs carry the fixes: integer step axes, coinciding runs kept visible and named, bands clipped to
 * the quantity's domain, a log axis for spectra spanning orders of magnitude, colour bars with distinct ends.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { writeTaskReport } from '../src/report/sweep-report.js';
import { writeAnalysisReport } from '../src/analysis/report.js';
import { allSpecs } from '../src/analysis/plots.js';
import { legendFormat } from '../src/analysis/analyses/norms-plots.js';
import { indexLines, lossCurves, markCoincident } from '../src/report/charts-lines.js';
import { fakeAnalysis, fakeSweep } from './helpers/plot-data.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

const isPng = (p: string) =>
  readFileSync(p)
    .subarray(0, 8)
    .equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

test('both reports render every chart (SVG and PNG) without errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdqat-plots-'));
  fakeSweep(join(dir, 'sweep'));
  await writeTaskReport(join(dir, 'sweep'), { title: 'cola (tiny)', task: 'cola' });
  for (const n of ['presets', 'loss', 'dev']) t.true(isPng(join(dir, 'sweep', 'report', `${n}.png`)), n);
  const r = fakeAnalysis();
  await writeAnalysisReport(r, join(dir, 'analysis'));
  for (const n of Object.keys(allSpecs(r))) {
    t.true(existsSync(join(dir, 'analysis', 'plots', `${n}.svg`)), n);
    t.true(isPng(join(dir, 'analysis', 'plots', `${n}.png`)), n);
    // no wider than the report page's content (1086 px): the page never scales a plot's text down
    t.true(
      Number(/width="([\d.]+)"/.exec(readFileSync(join(dir, 'analysis', 'plots', `${n}.svg`), 'utf8'))![1]) <= 1086,
      n,
    );
  }
  const html = readFileSync(join(dir, 'analysis', 'report.html'), 'utf8');
  t.regex(html, /left out of the norm term/);
  t.regex(readFileSync(join(dir, 'sweep', 'report', 'dev.svg'), 'utf8'), /same values as map_s42/);
});

test('chart specs: integer steps, coinciding series named and dashed, degenerate ranges widened', (t) => {
  const loss = lossCurves({
    data: [
      { step: 1, run: 'a', loss: 1 },
      { step: 2, run: 'a', loss: 0.5 },
    ],
    term: 'run',
    value: 'loss',
    title: 't',
  }) as { layer: { encoding: { x: { axis: Record<string, unknown> } } }[] };
  t.is(loss.layer[0].encoding.x.axis.format, 'd');
  const rows = [
    { step: 1, run: 'a', v: 0.4375 },
    { step: 1, run: 'b', v: 0.4375 },
    { step: 2, run: 'a', v: 0.4375 },
    { step: 2, run: 'b', v: 0.4375 },
  ];
  t.deepEqual(
    markCoincident(rows, 'run', ['step', 'v']).map((r) => r.run),
    ['a', 'b (same values as a)', 'a', 'b (same values as a)'],
  );
  const spec = JSON.stringify(
    indexLines({ data: rows, x: 'step', y: 'v', series: 'run', title: 't', yFormat: '.4~f' }),
  );
  t.regex(spec, /"strokeDash":\{"field":"run"/);
  t.regex(spec, /"shape":\{"field":"run"/);
  t.regex(spec, /"domain":\[0\.4\d+,0\.4\d+\]/, 'a constant series gets a real y range');
});

test('analysis specs: bands clipped at 0, log axis for wide spectra, legend digits', (t) => {
  const s = allSpecs(fakeAnalysis());
  const ranking = (s['distance-ranking-loss'] as { data: { values: { lo: number }[] } }).data.values;
  t.true(ranking.every((x) => x.lo >= 0));
  t.regex(JSON.stringify(s['hessian-density']), /eigenvalue \(log scale\)/);
  t.is(
    legendFormat([
      { panel: 'a', quantity: 'q', value: 0.0188 },
      { panel: 'a', quantity: 'q', value: 0.0192 },
    ]),
    '.3~g',
  );
  t.is(
    legendFormat([
      { panel: 'a', quantity: 'q', value: 0.019 },
      { panel: 'a', quantity: 'q', value: 0.019 },
    ]),
    '.2~g',
  );
});

test('loss curves: a log axis only when the values span a factor of 10, and its title says so', (t) => {
  const rows = (lo: number, hi: number) => [
    { step: 0, run: 'a', loss: hi },
    { step: 1, run: 'a', loss: lo },
  ];
  const narrow = JSON.stringify(
    lossCurves({ data: rows(1.2, 1.6), term: 'run', value: 'loss', logY: 'auto', title: 't', yTitle: 'KD loss' }),
  );
  t.notRegex(narrow, /"type":"log"/);
  t.notRegex(narrow, /log scale/);
  const wide = JSON.stringify(
    lossCurves({ data: rows(0.05, 8), term: 'run', value: 'loss', logY: 'auto', title: 't', yTitle: 'KD loss' }),
  );
  t.regex(wide, /"type":"log"/);
  t.regex(wide, /KD loss \(log scale\)/);
});
