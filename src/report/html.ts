/**
 * One self-contained HTML report page (no network: plots are embedded as data: URIs, CSS inline, no scripts).
 *
 *   await writeHtml('runs/sst2/report.html', {
 *     title: 'SST-2 sweep', sections: [
 *       { kind: 'text', text: 'Mean over **3 seeds**.' },
 *       { kind: 'plot', title: 'Accuracy', spec: lineBand({...}) },        // or svg / png / file
 *       { kind: 'table', title: 'Summary', table: summarize(...), digits: 4 },
 *     ], provenance: provenance() });
 */
import { readFileSync } from 'node:fs';
import { atomicWrite } from '../util/fsx.js';
import { asTable, columnFormats, type Digits, type TableLike } from './table.js';
import { specToSvg, svgToPng, type VlSpec } from './render.js';

export type Section =
  | { kind: 'heading'; text: string; level?: 2 | 3 }
  /** Markdown-ish text: paragraphs, #/##/### headings, - lists, 1. lists, ``` code blocks, `code`, **bold**, *em*. */
  | { kind: 'text'; text: string }
  | { kind: 'table'; title?: string; caption?: string; table: TableLike; digits?: Digits; maxRows?: number }
  /** Exactly one of spec (rendered now), svg (text), png (bytes), file (path to .svg or .png). */
  | {
      kind: 'plot';
      title?: string;
      caption?: string;
      spec?: VlSpec;
      svg?: string;
      png?: Uint8Array;
      file?: string;
      embed?: 'svg' | 'png';
    }
  | { kind: 'provenance'; data: unknown; summary?: string };

export interface Page {
  title: string;
  subtitle?: string;
  sections: Section[];
  /** Shown at the end as a collapsible JSON block (config, git commit, backend, versions, ...). */
  provenance?: unknown;
  /** Generation time printed under the title (default now). */
  date?: Date;
}

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const isExternal = (url: string) => /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//');

/** Inline markdown on already-escaped text: `code`, **bold**, *em*, [text](relative-url) (external URLs as text). */
function inline(escaped: string): string {
  const codes: string[] = [];
  let s = escaped.replace(/`([^`]+)`/g, (_, c: string) => `\u0000${codes.push(`<code>${c}</code>`) - 1}\u0000`);
  s = s.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>').replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, text: string, url: string) =>
    isExternal(url) ? `${text} (${url})` : `<a href="${url}">${text}</a>`,
  );
  return s.replace(/\u0000(\d+)\u0000/g, (_, i: string) => codes[Number(i)]);
}

/** Markdown-ish text -> HTML (see Section 'text'). All input is escaped first. */
export function markdownToHtml(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const out: string[] = [];
  let para: string[] = [];
  let list: { tag: 'ul' | 'ol'; items: string[] } | null = null;
  const flush = () => {
    if (para.length) out.push(`<p>${inline(escapeHtml(para.join(' ')))}</p>`);
    para = [];
    if (list)
      out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(escapeHtml(i))}</li>`).join('')}</${list.tag}>`);
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim().startsWith('```')) {
      flush();
      const code: string[] = [];
      while (++i < lines.length && !lines[i].trim().startsWith('```')) code.push(lines[i]);
      out.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`);
      continue;
    }
    const h = /^(#{1,3})\s+(.*)$/.exec(line);
    const ul = /^\s*[-*]\s+(.*)$/.exec(line);
    const ol = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (h) {
      flush();
      const lv = h[1].length + 1;
      out.push(`<h${lv}>${inline(escapeHtml(h[2]))}</h${lv}>`);
    } else if (ul || ol) {
      const tag = ul ? 'ul' : 'ol';
      if (para.length || (list && list.tag !== tag)) flush();
      list ??= { tag, items: [] };
      list.items.push((ul ?? ol)![1]);
    } else if (line.trim() === '') flush();
    else if (list && /^\s+\S/.test(line)) list.items[list.items.length - 1] += ' ' + line.trim();
    else {
      if (list) flush();
      para.push(line.trim());
    }
  }
  flush();
  return out.join('\n');
}

/** A table as an HTML <table>; numbers formatted like toMarkdown (digits decimals, integer columns as integers). */
export function tableToHtml(t: TableLike, opts: { digits?: Digits; maxRows?: number } = {}): string {
  const tab = asTable(t);
  const names = tab.columnNames();
  const fmts = columnFormats(tab, opts.digits);
  const maxRows = opts.maxRows ?? 500;
  const head = names.map((n) => `<th${fmts[n].numeric ? ' class="num"' : ''}>${escapeHtml(n)}</th>`).join('');
  const rows: string[] = [];
  const n = tab.numRows();
  const cols = names.map((c) => tab.array(c) as ArrayLike<unknown>);
  for (let r = 0; r < Math.min(n, maxRows); r++) {
    const cells = names.map(
      (c, j) => `<td${fmts[c].numeric ? ' class="num"' : ''}>` + `${escapeHtml(fmts[c].fmt(cols[j][r]))}</td>`,
    );
    rows.push(`<tr>${cells.join('')}</tr>`);
  }
  const more = n > maxRows ? `<p class="note">${n - maxRows} more rows not shown (of ${n}).</p>` : '';
  return (
    `<div ` +
    `class="tablewrap"><table><thead><tr>${head}</tr></thead><tbody>${rows.join('\n')}</tbody></table></div>${more}`
  );
}

async function plotImg(s: Extract<Section, { kind: 'plot' }>): Promise<string> {
  const given = [s.spec, s.svg, s.png, s.file].filter((x) => x !== undefined).length;
  if (given !== 1)
    throw new Error(`html: plot section "${s.title ?? ''}" needs exactly one of spec, svg, png, file (got ${given})`);
  let svg = s.svg,
    png = s.png;
  if (s.spec) svg = await specToSvg(s.spec);
  if (s.file) {
    if (s.file.endsWith('.svg')) svg = readFileSync(s.file, 'utf8');
    else if (s.file.endsWith('.png')) png = readFileSync(s.file);
    else throw new Error(`html: plot file ${s.file} is neither .svg nor .png`);
  }
  if (svg !== undefined && s.embed === 'png') {
    png = svgToPng(svg);
    svg = undefined;
  }
  const alt = escapeHtml(s.title ?? 'plot');
  if (svg !== undefined) {
    if (!svg.includes('<svg')) throw new Error(`html: plot "${s.title ?? ''}": svg text has no <svg> element`);
    return `<img alt="${alt}" src="data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}">`;
  }
  const bytes = Buffer.from(png!);
  if (bytes.subarray(1, 4).toString('latin1') !== 'PNG')
    throw new Error(`html: plot "${s.title ?? ''}": png bytes are not a PNG`);
  return `<img alt="${alt}" src="data:image/png;base64,${bytes.toString('base64')}">`;
}

function provenanceHtml(data: unknown, summary = 'Provenance'): string {
  return (
    `<details ` +
    `class="prov"><summary>${escapeHtml(summary)}</summary><pre>` +
    `${escapeHtml(JSON.stringify(data, null, 2) ?? 'undefined')}</pre></details>`
  );
}

async function sectionHtml(s: Section): Promise<string> {
  switch (s.kind) {
    case 'heading':
      return `<h${s.level ?? 2}>${escapeHtml(s.text)}</h${s.level ?? 2}>`;
    case 'text':
      return `<div class="text">${markdownToHtml(s.text)}</div>`;
    case 'table':
      return (
        `<section ` +
        `class="table">${s.title ? `<h3>${escapeHtml(s.title)}</h3>` : ''}${tableToHtml(s.table, s)}` +
        `${s.caption ? `<p class="caption">${inline(escapeHtml(s.caption))}</p>` : ''}</section>`
      );
    case 'plot':
      return (
        `<figure>${s.title ? `<h3>${escapeHtml(s.title)}</h3>` : ''}${await plotImg(s)}` +
        `${s.caption ? `<figcaption>${inline(escapeHtml(s.caption))}</figcaption>` : ''}</figure>`
      );
    case 'provenance':
      return provenanceHtml(s.data, s.summary);
    default:
      throw new Error(`html: unknown section kind ${JSON.stringify((s as { kind: unknown }).kind)}`);
  }
}

const CSS = `
:root { color-scheme: light; }
body { font: 15px/1.5 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f;
  background: #fafafa; margin: 0; }
main { max-width: 1150px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; min-height: 100vh;
  box-shadow: 0 0 12px rgba(0,0,0,.06); }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin-top: 36px; border-bottom: 1px solid #e3e3e3; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 22px 0 8px; } .meta { color: #666; font-size: 13px; margin-bottom: 20px; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; background: #f2f2f2;
  padding: 1px 4px; border-radius: 3px; }
pre { background: #f6f6f6; padding: 10px 12px; overflow-x: auto; border-radius: 4px; font-size: 12.5px; }
pre code { background: none; padding: 0; }
figure { margin: 20px 0; } figure img { max-width: 100%; height: auto; display: block; }
figcaption, .caption, .note { color: #555; font-size: 13px; margin-top: 6px; }
.tablewrap { overflow-x: auto; } table { border-collapse: collapse; font-size: 13.5px; margin: 6px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e6e6e6; text-align: left; white-space: nowrap; }
th { background: #f3f5f8; border-bottom: 2px solid #cfd6df; } tbody tr:nth-child(even) { background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
details.prov { margin-top: 40px; border: 1px solid #e3e3e3; border-radius: 4px; padding: 6px 12px; }
details.prov summary { cursor: pointer; font-weight: bold; }
`;

/** Build the page as one HTML string. Plot specs are rendered here (hence async). */
export async function buildHtml(page: Page): Promise<string> {
  const body: string[] = [];
  for (const s of page.sections) body.push(await sectionHtml(s));
  if (page.provenance !== undefined) body.push(provenanceHtml(page.provenance));
  const date = (page.date ?? new Date()).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>${CSS}</style></head>
<body><main>
<h1>${escapeHtml(page.title)}</h1>
<div class="meta">${page.subtitle ? `${inline(escapeHtml(page.subtitle))} · ` : ''}generated ${date}</div>
${body.join('\n')}
</main></body></html>
`;
}

/** Build and write the page atomically; returns the path. */
export async function writeHtml(path: string, page: Page): Promise<string> {
  atomicWrite(path, await buildHtml(page));
  return path;
}
