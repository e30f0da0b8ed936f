/**
 * Time tokenisation + feature building of all of SST-2 train (67k sentences).
 * npx tsx scripts/bench-tokenize.ts [--glue-dir DIR] [--vocab FILE_OR_DIR]
 * Defaults: GLUE dir = env GLUE_DIR, else ../shared/glue; vocab = ../shared/fixtures/glue/vocab.txt.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadGlueSplit } from '../src/data/glue.js';
import { PROJECT_ROOT, readExamples } from '../src/data/tasks.js';
import { loadTokenizer } from '../src/data/tokenizer.js';

const { values } = parseArgs({ options: { 'glue-dir': { type: 'string' }, vocab: { type: 'string' } } });
const glueDir = values['glue-dir'] ?? process.env.GLUE_DIR ?? join(PROJECT_ROOT, '..', 'shared', 'glue');
const vocab = values.vocab ?? join(PROJECT_ROOT, '..', 'shared', 'fixtures', 'glue', 'vocab.txt');

let t = performance.now();
const tok = loadTokenizer(vocab);
console.log(`load tokenizer (${vocab}): ${((performance.now() - t) / 1000).toFixed(2)} s`);

t = performance.now();
const ex = readExamples({ task: 'sst-2', split: 'train', glueDir });
const tRead = performance.now() - t;
t = performance.now();
let pieces = 0;
for (const e of ex.examples) pieces += tok.encode(e.textA).a.length;
const tTok = (performance.now() - t) / 1000;
console.log(`read ${ex.examples.length} SST-2 train rows: ${(tRead / 1000).toFixed(2)} s`);
console.log(
  `tokenise: ${tTok.toFixed(2)} s (${Math.round(ex.examples.length / tTok)} sentences/s, ${pieces} word pieces)`,
);

t = performance.now();
const g = loadGlueSplit({ task: 'sst-2', split: 'train', glueDir, tokenizer: tok, cache: false });
console.log(
  `loadGlueSplit (read + tokenise + features, T=${g.features.T}, no cache): ` +
    `${((performance.now() - t) / 1000).toFixed(2)} s for ${g.features.n} examples`,
);
