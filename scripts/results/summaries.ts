/**
 * The README's short block of each kept experiment: one or two lines and its key table, linking to the full block
 * in docs/results.md (sections.ts), whose heading is the experiment's name.
 */
import { UserError } from '../../src/util/errors.js';
import type { Block } from './experiments.js';
import { RESULTS } from './collect.js';
import { studyData } from './claims.js';
import { RESULTS_DOC } from './claims-md.js';
import { f4 } from './md.js';
import { type Folder, presetRunsTable, reportRunsTable, seedStats } from './sections.js';

/** The link to an experiment's full block, from the README. */
const detailsLink = (name: string) => `[${RESULTS_DOC}#${name}](${RESULTS_DOC}#${name}).`;

const seedList = (f: Folder) => [...new Set(f.runs.map((r) => r.seed))].sort((a, b) => a - b).join(', ');
const stepRange = (f: Folder) => {
  const s = f.runs.map((r) => r.steps);
  return Math.min(...s) === Math.max(...s) ? `${s[0]}` : `${Math.min(...s)}-${Math.max(...s)}`;
};
const recipe = (f: Folder) => (f.prov.reduced ? '**reduced recipe**' : "the reference's recipe");
const teacher = (f: Folder) =>
  f.prov.wall.teacherSec === null
    ? `\`${f.prov.teacherOf}\`'s teacher`
    : `a teacher from scratch (${f.teacher.steps} steps)`;

function presets(f: Folder): string {
  return [
    `Seed ${seedList(f)}, ${recipe(f)} (${stepRange(f)} steps per run), ${teacher(f)}. Details: ${detailsLink(f.name)}`,
    '',
    presetRunsTable(f),
  ].join('\n');
}

function seeds(f: Folder): string {
  const s = seedStats(f);
  return [
    `Seeds ${seedList(f)}, ${recipe(f)} (${stepRange(f)} steps per run), ${teacher(f)}: the std per preset is ` +
      `${f4(s.sd[0])}-${f4(s.sd[1])}, the four presets' means differ by at most ${f4(s.meansSpan)}. Details: ` +
      detailsLink(f.name),
    '',
    s.table,
  ].join('\n');
}

function reports(f: Folder): string {
  const d = f.runs[0].config.data;
  return [
    `Seed ${seedList(f)}, ${recipe(f)} (${d.trainLimit ?? 'all'} training and ${d.evalLimit ?? 'all'} dev examples), ` +
      `${teacher(f)}: a check of the two reports, not a result. Details: ${detailsLink(f.name)}`,
    '',
    reportRunsTable(f),
  ].join('\n');
}

function study(f: Folder): string {
  const d = studyData(f.name);
  if (!d) throw new UserError(`${RESULTS}/${f.name}: not a study folder`);
  return (
    `Seeds ${seedList(f)}, ${recipe(f)} (${stepRange(f)} steps per run), ${teacher(f)} of dev ` +
    `${d.metric.toUpperCase()} ${f4(d.teacher)}; each seed, the mixing arms, the analyses: ${detailsLink(f.name)}`
  );
}

export const SUMMARY: Record<Block, (f: Folder) => string> = { presets, seeds, reports, study };
