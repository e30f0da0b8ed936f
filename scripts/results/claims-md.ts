/**
 * The claims in Markdown: the claims table, each study's presets and mixing tables, the claims page (the body of
 * docs/results.md's claims block and of experiments/results/claims/index.html) and the README's presets overview.
 */
import { isPresetRun, presetStats, type Claim, type StudyData } from '../../src/report/claims.js';
import { RESULTS } from './collect.js';
import { f4 } from './md.js';

export const CLAIMS_DIR = `${RESULTS}/claims`;
export const RESULTS_DOC = 'docs/results.md';

const VERDICT = {
  consistent: '**consistent**',
  'not consistent': '**not consistent**',
  'not resolved at this scale': 'not resolved at this scale',
} as const;

/** The claims table in Markdown: one row per claim, one column per task (verdict, then what was measured). */
export function claimsTable(claims: Claim[], tasks: string[], long: boolean): string {
  const head = `| claim | ${tasks.map((t) => `${t}`).join(' | ')} |\n|---|${tasks.map(() => '---').join('|')}|`;
  return [
    head,
    ...claims.map(
      (c) =>
        `| ${c.id}. ${c.text} | ${tasks
          .map((t) => {
            const x = c.tasks[t];
            return x ? `${VERDICT[x.verdict]}${long ? `: ${x.measured}` : ''}` : '-';
          })
          .join(' | ')} |`,
    ),
  ].join('\n');
}

/** Teacher, PTQ floor and the four presets (mean +- sd over seeds, each seed) of one study. */
export function presetsTable(d: StudyData): string {
  const s = presetStats(d);
  const seeds = [...new Set(d.runs.map((r) => r.seed))].sort((a, b) => a - b);
  const m = d.metric.toUpperCase();
  return [
    `| ${d.task} (best dev ${m}) | mean | sd | ${seeds.map((x) => `seed ${x}`).join(' | ')} |`,
    `|---|---:|---:|${seeds.map(() => '---:').join('|')}|`,
    `| majority class (no model) | ${f4(d.majority)} | | ${seeds.map(() => '').join(' | ')} |`,
    `| FP teacher (the weights distilled from) | ${f4(d.teacher)} | | ${seeds.map(() => '').join(' | ')} |`,
    `| ternary PTQ (no training) | ${f4(d.floor)} | | ${seeds.map(() => '').join(' | ')} |`,
    ...Object.entries(s).map(([p, st]) => {
      const bySeed = seeds.map((x) => f4(d.runs.find((r) => r.preset === p && r.seed === x && isPresetRun(r))?.best));
      return `| ${p} | ${f4(st.mean)} | ${f4(st.sd)} | ${bySeed.join(' | ')} |`;
    }),
  ].join('\n');
}

/** The mixing arms (seed 42) of one study. */
function mixingTable(d: StudyData): string {
  const rows = d.runs
    .filter((r) => r.seed === 42 && r.preset === 'map+output')
    .sort((a, b) => a.map - b.map || a.output - b.output);
  return [
    `| ${d.task}: map coeff | output coeff | best dev ${d.metric.toUpperCase()} | last |`,
    '|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.map} | ${r.output} | ${f4(r.best)} | ${f4(r.last)} |`),
  ].join('\n');
}

const LIMITS = [
  'Teachers are tiny (2 layers, hidden 128) and trained from scratch: no pretrained BERT is reachable here, so the ' +
    'attention maps the students copy are those of a small, shallow model, not of BERT-base.',
  'Students train on a reduced recipe (see each study): differences that need the full 3 epochs to appear cannot show.',
  "Three seeds measure a preset's spread badly: a 95% interval of a difference has 4 degrees of freedom, so only " +
    'effects of about 2.3 pooled standard deviations or more are resolved.',
  'The analyses (claims 4-6) are of the seed-42 students only: their spread is over dev examples, not over seeds, so ' +
    'they say how these four students differ, not how the KD methods do in general.',
  'The mixing arms are at one seed: they show the shape of the curve, and their differences are not resolved.',
];

export function resultsDoc(
  studies: StudyData[],
  claims: Claim[],
  tasks: string[],
  figures: { name: string; title: string }[],
): string {
  return [
    'Each claim of Kim et al. (EMNLP 2022) tested on the studies in `experiments/studies/` (one per task). A ' +
      'difference is',
    'the difference of two means with its 95% Student-t interval and its effect d (difference over the pooled standard',
    'deviation of the seeds, or over the standard deviation of the paired differences for the analyses); a difference',
    'whose interval contains 0 is **not resolved**, and a verdict is *consistent* only when every comparison it ' +
      'rests on is',
    'resolved in the claimed direction.',
    '',
    claimsTable(claims, tasks, false),
    '',
    '## What was measured',
    '',
    ...claims.flatMap((c) => [
      `**${c.id}. ${c.text}.**`,
      '',
      ...tasks.map((t) => `- ${t}: ${VERDICT[c.tasks[t].verdict]}. ${c.tasks[t].measured}.`),
      '',
    ]),
    '## Teacher, floor and presets',
    '',
    ...studies.flatMap((d) => [
      presetsTable(d),
      '',
      `Recipe: ${d.reduced ? `**reduced**: ${d.reduced}` : "the reference's"}. Study \`experiments/studies/${d.study}` +
        `.json\`, kept files \`${RESULTS}/${d.study}/\`.`,
      '',
      mixingTable(d),
      '',
    ]),
    '## What this study cannot show',
    '',
    ...LIMITS.map((l) => `- ${l}`),
    ...studies.map(
      (d) =>
        `- ${d.task}: the room KD-QAT has to show a difference is the teacher's ${f4(d.teacher)} minus the ternary ` +
        `PTQ floor's ${f4(d.floor)} = ${f4(d.teacher - (d.floor ?? Number.NaN))} (the majority class scores ` +
        `${f4(d.majority)}` +
        `): what the presets recover, and so how far apart they can be, is of that size.`,
    ),
    ...studies
      .filter((d) => d.analysis?.unscored.length)
      .map(
        (d) =>
          `- ${d.task}: the analysed students (${d.analysis!.unscored.join(', ')}) are their runs' final weights, ` +
          `which no evaluation scored: the runs were made before kdqat kept each run's best weights, so the analyses ` +
          `are not ` +
          `of the weights whose metric the tables show.`,
      ),
    '',
    '## Figures',
    '',
    ...figures.map((f) => `![${f.title}](../${CLAIMS_DIR}/figures/${f.name}.png)`),
    '',
    `The same page with the figures embedded: \`${CLAIMS_DIR}/index.html\`. Each study's sweep report and analysis ` +
      `report are in its kept folder.`,
    '',
  ].join('\n');
}

/** Teacher, floor and each preset's mean +- sd over seeds, one column per study (the README's overview). */
export function presetsOverview(studies: StudyData[]): string {
  const stats = studies.map(presetStats);
  const presets = [...new Set(stats.flatMap((s) => Object.keys(s)))];
  const row = (name: string, cell: (d: StudyData, i: number) => string) =>
    `| ${name} | ${studies.map(cell).join(' | ')} |`;
  return [
    `| best dev metric (mean ± sd over seeds) | ` +
      `${studies.map((d) => `${d.task} (${d.metric.toUpperCase()})`).join(' | ')} |`,
    `|---|${studies.map(() => '---:').join('|')}|`,
    row('majority class (no model)', (d) => f4(d.majority)),
    row('FP teacher (the weights distilled from)', (d) => f4(d.teacher)),
    row('ternary PTQ (no training)', (d) => f4(d.floor)),
    ...presets.map((p) => row(p, (_d, i) => (stats[i][p] ? `${f4(stats[i][p].mean)} ± ${f4(stats[i][p].sd)}` : '-'))),
  ].join('\n');
}

/** The README's claims block: the verdicts, the presets' overview and where the numbers are (prose wrapped). */
