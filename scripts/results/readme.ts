/**
 * The generated blocks of README.md (short: summaries.ts) and docs/results.md (full: sections.ts, and the claims
 * page of claims.ts), built only from experiments/results/<name>/ and written between
 * `<!-- results:<name>:start -->` and `<!-- results:<name>:end -->` of each file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/util/provenance.js';
import { RESULTS } from './collect.js';
import type { Experiment } from './experiments.js';
import { claimsBlock, claimsDoc } from './claims.js';
import { CLAIMS_DIR, RESULTS_DOC } from './claims-md.js';
import { replaceBlock, wrapMd } from './md.js';
import { FULL, folder } from './sections.js';
import { SUMMARY } from './summaries.js';

/** Which file's blocks: the README's summaries or docs/results.md's full blocks. */
export type Target = 'readme' | 'doc';
const FILE: Record<Target, string> = { readme: 'README.md', doc: RESULTS_DOC };

/** The block of an experiment whose folder does not exist yet: no numbers, the command that makes them. */
const pending = (name: string) =>
  `**Not run at this commit yet**: \`npm run results -- --only ${name}\` runs it and writes this block ` +
  `(and \`${RESULTS}/${name}/\`).`;

/**
 * A file's text with each experiment's block regenerated (pending when its folder is missing), then the claims
 * block from the studies whose block is "study"; a missing marker pair is an error naming the file and the pair.
 */
export function regenerate(
  input: string,
  studies: Pick<Experiment, 'name' | 'block'>[],
  target: Target = 'readme',
): { text: string; updated: string[] } {
  const file = FILE[target],
    build = target === 'readme' ? SUMMARY : FULL;
  let text = input;
  const updated: string[] = [];
  for (const { name, block } of studies) {
    const f = folder(name);
    text = replaceBlock(text, file, name, `${RESULTS}/${name}/`, wrapMd(f ? build[block](f) : pending(name)));
    if (f) updated.push(name);
  }
  const claimStudies = studies.filter((s) => s.block === 'study').map((s) => s.name);
  if (claimStudies.length) {
    const body = target === 'readme' ? claimsBlock(claimStudies) : (claimsDoc(claimStudies)?.body ?? null);
    const run =
      `**Not run at this commit yet**: \`npm run results -- --only ${claimStudies.join(',')}\` runs the studies ` +
      `and writes this block and \`${CLAIMS_DIR}/\`.`;
    const from = claimStudies.map((n) => `${RESULTS}/${n}/`).join(' and ');
    text = replaceBlock(text, file, 'claims', from, body ?? wrapMd(run));
    if (body) updated.push('claims');
  }
  return { text, updated };
}

export const targetPath = (target: Target) => join(PROJECT_ROOT, FILE[target]);
export const readTarget = (target: Target) => readFileSync(targetPath(target), 'utf8');
