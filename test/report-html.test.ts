import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHtml, markdownToHtml, writeHtml } from '../src/report/html.js';
import { barChart } from '../src/report/charts-dist.js';
import { renderPlot } from '../src/report/render.js';
import { fromRows } from '../src/report/table.js';

const dir = mkdtempSync(join(tmpdir(), 'kdqat-html-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const data = [
  { arm: 'kd', acc: 0.8512 },
  { arm: 'no kd', acc: 0.8 },
];

test('page holds every section, embeds plots as data URIs, no external URLs', async (t) => {
  const spec = barChart({ data, category: 'arm', value: 'acc', title: 'Accuracy <by> arm' });
  const png = await renderPlot(spec, join(dir, 'bar'));
  const path = await writeHtml(join(dir, 'r.html'), {
    title: 'Sweep & report',
    subtitle: 'task `sst-2`',
    sections: [
      { kind: 'heading', text: 'Results' },
      {
        kind: 'text',
        text:
          'Mean over **3 seeds**, see [the CSV](results.csv) and [upstream](https://example.com/x).\n\n- one\n- ' +
          'two *em*',
      },
      { kind: 'table', title: 'Summary table', table: fromRows(data), digits: 3 },
      { kind: 'table', title: 'Rows table', table: [{ k: '<b>', v: 2 }] },
      { kind: 'plot', title: 'Bar from spec', spec, caption: 'dashed: teacher' },
      { kind: 'plot', title: 'Bar from png file', file: png.png },
      { kind: 'plot', title: 'Bar as png', spec, embed: 'png' },
    ],
    provenance: { git: { commit: 'abc123', dirty: false }, backend: 'wasm', versions: { tfjs: '4.22.0' } },
  });
  const html = readFileSync(path, 'utf8');
  t.true(html.startsWith('<!DOCTYPE html>'));
  t.regex(html, /<title>Sweep &amp; report<\/title>/);
  t.regex(html, /<h2>Results<\/h2>/);
  t.regex(html, /<strong>3 seeds<\/strong>/);
  t.regex(html, /<a href="results.csv">the CSV<\/a>/);
  t.regex(html, /<ul><li>one<\/li><li>two <em>em<\/em><\/li><\/ul>/);
  t.regex(html, /<h3>Summary table<\/h3>/);
  t.regex(html, /<td class="num">0\.851<\/td>/);
  t.regex(html, /<td>&lt;b&gt;<\/td>/);
  t.regex(html, /<h3>Bar from spec<\/h3><img alt="Bar from spec" src="data:image\/svg\+xml;base64,/);
  t.is((html.match(/src="data:image\/png;base64,/g) ?? []).length, 2);
  t.regex(html, /<figcaption>dashed: teacher<\/figcaption>/);
  t.regex(html, /<details class="prov"><summary>Provenance<\/summary><pre>[^<]*&quot;commit&quot;: &quot;abc123&quot;/);
  // Self-contained: every src/href is a data: URI or a relative path; no http anywhere in attributes or CSS urls.
  const refs = [...html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/g)].map((m) => m[1]);
  t.true(refs.length >= 4);
  for (const r of refs) t.false(/^(https?:|\/\/)/i.test(r), `external reference ${r}`);
  t.false(/url\(\s*['"]?https?:/i.test(html));
  t.false(/<script|<link /i.test(html));
  // The embedded SVG decodes and carries the chart title.
  const b64 = /src="data:image\/svg\+xml;base64,([^"]+)"/.exec(html)![1];
  t.regex(Buffer.from(b64, 'base64').toString('utf8'), /Accuracy &lt;by&gt; arm/);
});

test('plot section needs exactly one source', async (t) => {
  await t.throwsAsync(buildHtml({ title: 'x', sections: [{ kind: 'plot', title: 'p' }] }), {
    message: /plot section "p" needs exactly one of spec, svg, png, file \(got 0\)/,
  });
  await t.throwsAsync(buildHtml({ title: 'x', sections: [{ kind: 'plot', png: new Uint8Array([1, 2, 3, 4]) }] }), {
    message: /not a PNG/,
  });
});

test('markdown-ish text is escaped and structured', (t) => {
  t.is(
    markdownToHtml('# Title\nline one\nline two\n\n1. a\n2. b\n\n```\nx < 1\n```'),
    '<h2>Title</h2>\n<p>line one line two</p>\n<ol><li>a</li><li>b</li></ol>\n<pre><code>x &lt; 1</code></pre>',
  );
  t.is(
    markdownToHtml('<script>alert(1)</script> `a*b*c`'),
    '<p>&lt;script&gt;alert(1)&lt;/script&gt; <code>a*b*c</code></p>',
  );
});
