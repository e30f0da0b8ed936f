/**
 * Rendering of the analysis figures: vega-lite spec -> SVG (vega, headless) -> PNG (@resvg/resvg-js with the
 * DejaVu font: with no font resvg silently drops all text), and one self-contained HTML page (SVGs inlined).
 * Uses src/report's renderPlot when that module provides one; this local path is the fallback.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { atomicWrite } from '../util/fsx.js';
import type { Spec } from './plots.js';

const FONT_DIRS = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu', '/usr/share/fonts'];

/** Write outBase.svg and outBase.png; returns the SVG text. */
export async function renderSpec(spec: Spec, outBase: string): Promise<string> {
  mkdirSync(dirname(outBase), { recursive: true });
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  atomicWrite(`${outBase}.svg`, svg);
  const { Resvg } = await import('@resvg/resvg-js');
  const fontDirs = FONT_DIRS.filter((d) => existsSync(d));
  if (!fontDirs.length) console.error(`render: no DejaVu font directory found (${FONT_DIRS.join(', ')}); PNG text may be missing (apt-get install fonts-dejavu-core)`);
  const png = new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 }, font: { fontDirs, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  atomicWrite(`${outBase}.png`, png);
  return svg;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export interface HtmlSection { title: string; text?: string; svg?: string; table?: { head: string[]; rows: (string | number)[][] } }

/** One self-contained HTML page (no external resources). */
export function htmlPage(title: string, intro: string, sections: HtmlSection[]): string {
  const body = sections.map((s) => {
    const table = s.table ? `<table><thead><tr>${s.table.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${s.table.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(typeof c === 'number' ? formatNum(c) : c)}</td>`).join('')}</tr>`).join('')}</tbody></table>` : '';
    return `<section><h2>${esc(s.title)}</h2>${s.text ? `<p>${esc(s.text)}</p>` : ''}${s.svg ? `<div class="fig">${s.svg}</div>` : ''}${table}</section>`;
  }).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font-family:"DejaVu Sans",sans-serif;max-width:1200px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.fig{overflow-x:auto}table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
p{line-height:1.4}</style></head><body><h1>${esc(title)}</h1><p>${esc(intro)}</p>
${body}</body></html>`;
}

function formatNum(x: number): string {
  return Number.isInteger(x) ? String(x) : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toPrecision(4);
}

/** Render every spec into dir/<name>.{svg,png}; returns name -> SVG text. */
export async function renderAll(specs: Record<string, Spec>, dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = await renderSpec(spec, join(dir, name));
  return out;
}
