import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Spread } from '../src/report/charts-common.js';
import { barChart, density, heatmap } from '../src/report/charts-dist.js';
import { indexLines, lineBand, lossCurves } from '../src/report/charts-lines.js';
import { findFontFiles, renderPlot, specToSvg, svgToPng, type VlSpec } from '../src/report/render.js';

const dir = mkdtempSync(join(tmpdir(), 'kdqat-charts-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic pseudo-random numbers (Park-Miller). */
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}
const r = rng(7);
const sweep = ['logit KD', 'attention KD'].flatMap((arm) =>
  [0, 0.5, 1, 2].flatMap((coef) =>
    [1, 2, 3].map((seed) => ({ arm, 'kd.coef': coef, seed, acc: 0.8 + 0.05 * coef + 0.01 * r() })),
  ),
);
const heads = ['teacher', 'student'].flatMap((model) =>
  [0, 1, 2].flatMap((layer) => [...Array(6).keys()].map((head) => ({ model, layer, head, ent: 1 + 2 * r() }))),
);
const eig = ['teacher', 'student'].flatMap((model) =>
  [...Array(120).keys()].map(() => ({ model, lambda: r() < 0.7 ? 10 * r() : -r() })),
);
const loss = [...Array(60).keys()].map((i) => ({
  step: i * 10,
  'loss.kd': 2 * Math.exp(-i / 20) + 0.01,
  'loss.gt': Math.exp(-i / 40),
}));

const pngSize = (png: Buffer) => ({ w: png.readUInt32BE(16), h: png.readUInt32BE(20) });
/** Texts drawn by vega in the SVG (entity-decoded enough for our labels). */
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1].replace(/&amp;/g, '&'));

const cases: [string, VlSpec, string[]][] = [
  [
    'line-band',
    lineBand({
      data: sweep,
      x: 'kd.coef',
      y: 'acc',
      series: 'arm',
      title: 'Accuracy vs KD coefficient',
      xTitle: 'KD coefficient',
      yTitle: 'dev accuracy',
      reference: { value: 0.95, label: 'FP teacher' },
    }),
    ['Accuracy vs KD coefficient', 'KD coefficient', 'dev accuracy', 'FP teacher', 'logit KD', 'attention KD'],
  ],
  [
    'line-bars-std',
    lineBand({
      data: sweep,
      x: 'kd.coef',
      y: 'acc',
      series: 'arm',
      spread: 'std',
      style: 'bars',
      title: 'Std bars',
      xTitle: 'coef',
      yTitle: 'acc (mean ± std)',
    }),
    ['Std bars', 'coef', 'acc (mean ± std)'],
  ],
  [
    'bar',
    barChart({
      data: sweep,
      category: 'arm',
      value: 'acc',
      spread: 'minmax',
      labelFormat: '.3f',
      title: 'Accuracy by arm',
      xTitle: 'arm',
      yTitle: 'accuracy',
      reference: { value: 0.9, label: 'teacher 0.900' },
    }),
    ['Accuracy by arm', 'arm', 'accuracy', 'teacher 0.900', 'logit KD'],
  ],
  [
    'index-lines',
    indexLines({
      data: heads,
      x: 'head',
      y: 'ent',
      series: 'model',
      facet: 'layer',
      columns: 3,
      title: 'Entropy per head',
      xTitle: 'head index',
      yTitle: 'entropy',
    }),
    ['Entropy per head', 'head index', 'entropy', 'layer 0', 'layer 2', 'teacher', 'student'],
  ],
  [
    'heatmap',
    heatmap({
      data: heads,
      x: 'head',
      y: 'layer',
      value: 'ent',
      facet: 'model',
      facetTitle: '',
      labelFormat: '.1f',
      title: 'Entropy heatmap',
      xTitle: 'head',
      yTitle: 'layer',
      valueTitle: 'entropy (nats)',
    }),
    ['Entropy heatmap', 'head', 'layer', 'entropy (nats)', 'teacher', 'student'],
  ],
  [
    'density',
    density({
      data: eig,
      value: 'lambda',
      series: 'model',
      title: 'Eigenvalue density',
      xTitle: 'eigenvalue',
      signLabels: ['positive eigenvalues', 'negative eigenvalues'],
    }),
    ['Eigenvalue density', 'eigenvalue', 'density', 'teacher'],
  ],
  [
    'loss',
    lossCurves({
      data: loss,
      terms: ['loss.kd', 'loss.gt'],
      logY: true,
      smooth: 3,
      title: 'Training loss',
      xTitle: 'optimizer step',
      yTitle: 'loss',
    }),
    ['Training loss', 'optimizer step', 'loss', 'loss.kd', 'loss.gt'],
  ],
];

for (const [name, spec, expected] of cases) {
  test(`${name}: SVG has title and axis labels, PNG is valid`, async (t) => {
    const out = await renderPlot(spec, join(dir, name));
    const svg = readFileSync(out.svg, 'utf8');
    t.true(svg.startsWith('<svg'));
    const tx = texts(svg);
    for (const e of expected)
      t.true(
        tx.some((x) => x === e),
        `"${e}" not among SVG texts: ${tx.slice(0, 40).join(' | ')}`,
      );
    const png = readFileSync(out.png);
    t.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const { w, h } = pngSize(png);
    t.true(w >= 800 && w <= 5000 && h >= 400 && h <= 4000, `png ${w}x${h}`);
    t.true(statSync(out.png).size > 10_000, `png only ${statSync(out.png).size} bytes`);
  });
}

test('density panels each get their own x range (positive panel never shows negative values)', async (t) => {
  const svg = await specToSvg(density({ data: eig, value: 'lambda', series: 'model', title: 'd' }));
  t.true(texts(svg).some((x) => x.startsWith('positive (n = ')));
  t.true(texts(svg).some((x) => x.startsWith('negative (n = ')));
  const spec = density({ data: eig, value: 'lambda', title: 'd' }) as {
    hconcat: { transform: { extent?: number[] }[] }[];
  };
  const [pos, neg] = spec.hconcat.map((p) => p.transform[1].extent!);
  t.true(pos[0] >= 0 && neg[1] < 0, `extents ${pos} ${neg}`);
});

test('PNG really contains the text (rendering without <text> gives a different image)', async (t) => {
  const svg = await specToSvg(cases[0][1]);
  const withText = Buffer.from(svgToPng(svg));
  const noText = Buffer.from(svgToPng(svg.replace(/<text[\s\S]*?<\/text>/g, '')));
  t.false(withText.equals(noText));
  t.true(findFontFiles()[0].endsWith('.ttf'));
});

test('missing font file is an error, not a text-less PNG', (t) => {
  const old = process.env.KDQAT_FONT;
  process.env.KDQAT_FONT = join(dir, 'no-such-font.ttf');
  try {
    t.throws(() => svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'), {
      message: /KDQAT_FONT=.*does not exist/,
    });
  } finally {
    if (old === undefined) delete process.env.KDQAT_FONT;
    else process.env.KDQAT_FONT = old;
  }
});

test('builders name a missing field and reject empty data', (t) => {
  t.throws(() => lineBand({ data: sweep, x: 'coef', y: 'acc', title: 't' }), {
    message: /lineBand: field "coef" not in data \(columns: arm, kd\.coef, seed, acc\)/,
  });
  t.throws(() => barChart({ data: [], category: 'a', value: 'b', title: 't' }), {
    message: /barChart: no data rows/,
  });
  t.throws(() => lossCurves({ data: loss, title: 't' }), { message: /terms \(wide data\) or term \+ value/ });
  t.throws(() => indexLines({ data: heads, x: 'head', y: ['ent', 'layer'], lo: 'ent', hi: 'ent', title: 't' }), {
    message: /single y/,
  });
});

test('seed spread: min..max and ±std bands match the data', async (t) => {
  // One x, one series, values 1, 2, 4: min 1, max 4, mean 7/3, sample std sqrt(7/3).
  const rows = [1, 2, 4].map((v, i) => ({ x: 1, s: 'a', seed: i, v }));
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const band = async (spread: Spread) => {
    const spec = lineBand({ data: rows, x: 'x', y: 'v', series: 's', spread, title: 't' });
    const compiled = vl.compile(spec as never).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
    await view.runAsync();
    const all = (compiled.data ?? []).flatMap(
      (d) => view.data(d.name) as { _mean: number; _lo: number; _hi: number; _min: number; _max: number }[],
    );
    const agg = all.find((d) => '_mean' in d)!;
    t.truthy(agg, `no aggregated rows in ${(compiled.data ?? []).map((d) => d.name)}`);
    view.finalize();
    return agg;
  };
  const mm = await band('minmax');
  t.is(mm._min, 1);
  t.is(mm._max, 4);
  t.true(Math.abs(mm._mean - 7 / 3) < 1e-12);
  const sd = await band('std');
  t.true(Math.abs(sd._lo - (7 / 3 - Math.sqrt(7 / 3))) < 1e-12, `lo ${sd._lo}`);
  t.true(Math.abs(sd._hi - (7 / 3 + Math.sqrt(7 / 3))) < 1e-12, `hi ${sd._hi}`);
});
