/**
 * The floors of src/ (docs/architecture.md): every import points to the same floor or a lower one, and no two files
 * import each other, directly or round a longer circle.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './helpers/env.js';

const FLOORS: Record<string, number> = {
  util: 0,
  backend: 1,
  model: 2,
  quant: 3,
  kd: 3,
  distill: 4,
  data: 5,
  train: 6,
  sweep: 7,
  analysis: 8,
  export: 8,
  report: 8,
  verify: 8,
  chaos: 8,
  api: 9,
  cli: 9,
};

/** upward imports that are known and named: "from -> to" (target: none) */
const UPWARD_ALLOWED = new Set<string>([]);
/** import circles that are known: each file pair "a <-> b" (target: none) */
const CIRCLES_ALLOWED = new Set<string>([]);

const SRC = join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** the src-relative files that `file` imports (static and dynamic, type-only included) */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g))
    out.push(relative(SRC, resolve(dirname(file), m[1].replace(/\.js$/, '.ts'))));
  return out;
}

const floorOf = (f: string): number => {
  const top = f.split('/')[0];
  if (!(top in FLOORS)) throw new Error(`src/${f}: its folder ${top} has no floor in test/layers.test.ts`);
  return FLOORS[top];
};

const graph = new Map(files(SRC).map((f) => [relative(SRC, f), imports(f)]));

test('every import of src/ points to its own floor or a lower one', (t) => {
  const upward: string[] = [];
  for (const [f, deps] of graph)
    for (const d of deps)
      if (graph.has(d) && floorOf(d) > floorOf(f) && !UPWARD_ALLOWED.has(`${f} -> ${d}`))
        upward.push(`${f} (floor ${floorOf(f)}) -> ${d} (floor ${floorOf(d)})`);
  t.deepEqual(upward, []);
});

test('no import circle between files of src/', (t) => {
  // Tarjan's strongly connected components: each component of more than one file is a circle
  let index = 0;
  const idx = new Map<string, number>(),
    low = new Map<string, number>(),
    stack: string[] = [],
    on = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) circles.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  const unexpected = circles.filter((c) => !(c.length === 2 && CIRCLES_ALLOWED.has(`${c[0]} <-> ${c[1]}`)));
  t.deepEqual(
    unexpected.map((c) => c.join(' <-> ')),
    [],
  );
});

test('the folders of one floor use one another in one direction only (no circle of folders)', (t) => {
  const folder = (f: string) => f.split('/')[0];
  const uses = new Map<string, Set<string>>();
  for (const [f, deps] of graph)
    for (const d of deps)
      if (graph.has(d) && folder(d) !== folder(f)) {
        if (!uses.has(folder(f))) uses.set(folder(f), new Set());
        uses.get(folder(f))!.add(folder(d));
      }
  const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
    [...(uses.get(from) ?? [])].some((x) => x === to || (!seen.has(x) && seen.add(x) && reaches(x, to, seen)));
  const circles = [...uses].flatMap(([a, bs]) => [...bs].filter((b) => reaches(b, a)).map((b) => `${a} -> ${b}`));
  t.deepEqual(circles, []);
});

test('every folder of src/ has a floor', (t) => {
  for (const f of graph.keys()) t.notThrows(() => floorOf(f), f);
});
