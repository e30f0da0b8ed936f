// Lines at most 120 characters in the code (Biome's formatter keeps code there but cannot break a string or a comment).
// src/model/bert.ts is kept exactly as it is: it is the model the rest of the house is read against.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LIMIT = 120;
const KEPT = new Set(['src/model/bert.ts']);
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => /^(src|test|scripts|examples|notebooks)\/.*\.(ts|mjs|cjs)$/.test(f) && !KEPT.has(f));
const long = [];
for (const f of files) {
  let text;
  try {
    text = readFileSync(f, 'utf8');
  } catch {
    continue; // listed by git but deleted in the work tree
  }
  text.split('\n').forEach((line, i) => {
    if ([...line].length > LIMIT) long.push(`${f}:${i + 1}: ${[...line].length} characters`);
  });
}
if (long.length) {
  console.error(`${long.length} line(s) over ${LIMIT} characters:\n${long.join('\n')}`);
  process.exit(1);
}
console.log(`line length: ${files.length} files, every line at most ${LIMIT} characters`);
