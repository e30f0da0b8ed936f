/**
 * README.md and docs/*.md: every relative link and image points to a file of the repository (and, with a #anchor,
 * to a heading of that page, as GitHub names it), and prose lines are at most 120 characters (tables and fenced code
 * may be wider).
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './helpers/env.js';

const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const WIDTH = 120;

/** A page's lines with fenced code blocks blanked (their text is not Markdown). */
function proseLines(text: string): string[] {
  let code = false;
  return text.split('\n').map((l) => {
    const fence = /^ {0,3}(```|~~~)/.test(l);
    if (fence) code = !code;
    return code || fence ? '' : l;
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const l of proseLines(readFileSync(file, 'utf8'))) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (!m) continue;
    const s = slug(m[1]);
    const n = seen.get(s) ?? 0;
    seen.set(s, n + 1);
    out.add(n ? `${s}-${n}` : s);
  }
  return out;
}

/** Link and image targets of a page, outside fenced code and inline code spans. */
function targets(text: string): string[] {
  const prose = proseLines(text)
    .join('\n')
    .replace(/`[^`]*`/g, '');
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

test('every relative link of README.md and docs/*.md points to an existing file and heading', (t) => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of PAGES) {
    const file = join(ROOT, page);
    for (const target of targets(readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
      checked++;
      const [path, anchor] = target.split('#');
      const dest = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
      if (relative(ROOT, dest).startsWith('..')) broken.push(`${page}: ${target} leaves the repository`);
      else if (!existsSync(dest)) broken.push(`${page}: ${target} does not exist`);
      else if (anchor !== undefined && !(statSync(dest).isFile() && dest.endsWith('.md') && anchors(dest).has(anchor)))
        broken.push(`${page}: ${target} names no heading of ${relative(ROOT, dest)}`);
    }
  }
  t.true(checked > 50, `only ${checked} links found`);
  t.deepEqual(broken, []);
});

test('prose lines of README.md and docs/*.md are at most 120 characters', (t) => {
  const wide: string[] = [];
  for (const page of PAGES)
    for (const [i, l] of proseLines(readFileSync(join(ROOT, page), 'utf8')).entries())
      if ([...l].length > WIDTH && !/^\s*\|/.test(l)) wide.push(`${page}:${i + 1} (${[...l].length})`);
  t.deepEqual(wide, []);
});

test('the anchors are those GitHub makes', (t) => {
  t.is(slug("The paper's claims at this scale"), 'the-papers-claims-at-this-scale');
  t.is(slug('SST-2, the claims study (`sst2`)'), 'sst-2-the-claims-study-sst2');
  t.is(slug('cola-default'), 'cola-default');
  t.is(slug('map+output [link](x.md)'), 'mapoutput-link');
});
