/**
 * The claims table across the studies whose block is "study" (one per task): read from their kept folders only
 * (experiments/results/<study>/: runs' metrics.json, the teacher's, floor.json, analysis/results.json), tested by
 * src/report/claims.ts, written as experiments/results/claims/ (claims.json, figures, index.html) and as the claims
 * blocks of docs/results.md and the README (readme.ts writes those).
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/util/provenance.js';
import { atomicWriteJson } from '../../src/util/fsx.js';
import { mean } from '../../src/report/stats.js';
import {
  isPresetRun,
  presetStats,
  testClaims,
  type Claim,
  type ClaimAnalysis,
  type StudyData,
} from '../../src/report/claims.js';
import { analysisSpecs, mixingSpec, presetsSpec } from '../../src/report/claims-figures.js';
import { renderPlot, type VlSpec } from '../../src/report/render.js';
import { writeHtml, type Section } from '../../src/report/html.js';
import type { AnalysisResults } from '../../src/analysis/run.js';
import { RESULTS } from './collect.js';
import { f4, wrapMd } from './md.js';
import { readJson, type Metrics } from './runs.js';

export const CLAIMS_DIR = `${RESULTS}/claims`;
export const RESULTS_DOC = 'docs/results.md';

type RunFile = Metrics & { coeffs: Record<string, number> };
const gridMean = (g: number[][]) => mean(g.flat());

/** Per-example measures of an analysis, by model id (see ClaimAnalysis). */
function claimAnalysis(r: AnalysisResults): ClaimAnalysis {
  const students = r.meta.models.filter((m) => m.role === 'student');
  const per = <T>(f: (id: string) => T) => Object.fromEntries(students.map((m) => [m.id, f(m.id)]));
  const t = r.range?.perExample?.teacher ?? [];
  const rangeError = (id: string) =>
    (r.range?.perExample?.[id] ?? []).map((e, k) =>
      mean(e.min.map((v, l) => (Math.abs(v - t[k].min[l]) + Math.abs(e.max[l] - t[k].max[l])) / 2)),
    );
  const hess = r.hessian?.models ?? {};
  return {
    presets: per((id) => students.find((m) => m.id === id)!.label),
    examples: r.meta.examples.length,
    rankingLoss: per((id) => (r.distance?.perExample[id] ?? []).map((d) => gridMean(d.rankingLoss))),
    coverLength: per((id) => (r.distance?.perExample[id] ?? []).map((d) => gridMean(d.coverLengthRatio))),
    rangeError: per(rangeError),
    topEigen: Object.fromEntries(
      Object.entries(hess).map(([id, h]) => [id, h.perExample.map((e) => Math.max(...e.eigenvalues.map(Math.abs)))]),
    ),
    hessianExamples: Math.max(0, ...Object.values(hess).map((h) => h.perExample.length)),
    unscored: students.filter((m) => !(m as { score?: unknown }).score).map((m) => m.label),
  };
}

/** A study's data from its kept folder, or null when it has not run yet. */
export function studyData(name: string): StudyData | null {
  const dir = join(PROJECT_ROOT, RESULTS, name);
  if (!existsSync(join(dir, 'PROVENANCE.json'))) return null;
  const prov = readJson<{ reduced: string | null }>(join(dir, 'PROVENANCE.json'));
  const teacher = readJson<Metrics>(join(dir, 'teacher.metrics.json'));
  const metric = Object.keys(teacher.best?.metrics ?? teacher.last?.metrics ?? {})[0];
  const runs = readdirSync(join(dir, 'runs'))
    .filter((f) => f.endsWith('.metrics.json'))
    .sort()
    .map((f) => readJson<RunFile>(join(dir, 'runs', f)));
  const floorRows = existsSync(join(dir, 'floor.json'))
    ? readJson<{ rows: { model: string; value: number }[] }>(join(dir, 'floor.json')).rows
    : [];
  const analysis = existsSync(join(dir, 'analysis/results.json'))
    ? claimAnalysis(readJson<AnalysisResults>(join(dir, 'analysis/results.json')))
    : null;
  return {
    // the teacher as the students saw it: the weights they distilled from (a teacher folder keeps its final weights)
    study: name,
    task: teacher.task,
    metric,
    teacher: runs.find((m) => m.teacher)?.teacher?.metrics[metric] ?? teacher.last?.metrics[metric] ?? Number.NaN,
    floor: floorRows.find((r) => r.model === 'ternary PTQ')?.value ?? null,
    reduced: prov.reduced,
    majority: existsSync(join(dir, 'majority.json'))
      ? readJson<{ value: number }>(join(dir, 'majority.json')).value
      : null,
    runs: runs.map((m) => ({
      run: m.run ?? '',
      preset: m.preset ?? '',
      seed: m.seed,
      map: m.coeffs.map,
      output: m.coeffs.output,
      best: m.best?.metrics[metric] ?? Number.NaN,
      last: m.last?.metrics[metric] ?? Number.NaN,
    })),
    analysis,
  };
}

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
    ...Object.entries(s).map(
      ([p, st]) =>
        `| ${p} | ${f4(st.mean)} | ${f4(st.sd)} | ${seeds.map((x) => f4(d.runs.find((r) => r.preset === p && r.seed === x && isPresetRun(r))?.best)).join(' | ')} |`,
    ),
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
  'Teachers are tiny (2 layers, hidden 128) and trained from scratch: no pretrained BERT is reachable here, so the attention maps the students copy are those of a small, shallow model, not of BERT-base.',
  'Students train on a reduced recipe (see each study): differences that need the full 3 epochs to appear cannot show.',
  "Three seeds measure a preset's spread badly: a 95% interval of a difference has 4 degrees of freedom, so only effects of about 2.3 pooled standard deviations or more are resolved.",
  'The analyses (claims 4-6) are of the seed-42 students only: their spread is over dev examples, not over seeds, so they say how these four students differ, not how the KD methods do in general.',
  'The mixing arms are at one seed: they show the shape of the curve, and their differences are not resolved.',
];

interface Figure {
  name: string;
  title: string;
  spec: VlSpec;
}

/**
 * The claims page from the kept study folders (null when none has run): `md` as the page of claims/index.html,
 * `body` as docs/results.md's claims block (no title, subsections one level down, prose wrapped), its figures.
 */
export function claimsDoc(
  names: string[],
): { studies: StudyData[]; claims: Claim[]; md: string; body: string; figures: Figure[] } | null {
  const studies = names.map(studyData).filter((d): d is StudyData => d !== null);
  if (!studies.length) return null;
  const claims = testClaims(studies);
  const figures = studies.flatMap((d) =>
    Object.entries({ presets: presetsSpec(d), mixing: mixingSpec(d), ...analysisSpecs(d) })
      .filter((e): e is [string, VlSpec] => e[1] !== null)
      .map(([k, spec]) => ({ name: `${d.study}-${k}`, title: `${d.task}: ${k.replace(/-/g, ' ')}`, spec })),
  );
  const body = resultsDoc(
    studies,
    claims,
    studies.map((d) => d.task),
    figures,
  );
  return {
    studies,
    claims,
    md: [
      "# Results: the paper's claims at this scale",
      '',
      `<!-- generated by npm run results from ${studies.map((d) => `${RESULTS}/${d.study}/`).join(' and ')}: do not edit by hand -->`,
      '',
      body,
    ].join('\n'),
    body: wrapMd(body.replace(/^## /gm, '### ').trimEnd()),
    figures,
  };
}

/** Write experiments/results/claims/ (claims.json, figures, index.html); returns the claims page (null: no study). */
export async function writeClaims(names: string[]): Promise<ReturnType<typeof claimsDoc>> {
  const doc = claimsDoc(names);
  if (!doc) return null;
  const dir = join(PROJECT_ROOT, CLAIMS_DIR),
    figs = join(dir, 'figures');
  rmSync(figs, { recursive: true, force: true });
  mkdirSync(figs, { recursive: true });
  for (const f of doc.figures) await renderPlot(f.spec, join(figs, f.name));
  atomicWriteJson(join(dir, 'claims.json'), {
    studies: doc.studies.map((d) => d.study),
    claims: doc.claims,
    data: doc.studies,
  });
  const sections: Section[] = [{ kind: 'text', text: doc.md.split('\n## Figures')[0].replace(/^# .*\n/, '') }];
  for (const f of doc.figures) sections.push({ kind: 'plot', title: f.title, file: join(figs, `${f.name}.svg`) });
  // dated by the newest study folder, so that the page changes only when its inputs do
  const date = new Date(
    Math.max(
      ...doc.studies.map((d) =>
        Date.parse(
          readJson<{ generated: { date: string } }>(join(PROJECT_ROOT, RESULTS, d.study, 'PROVENANCE.json')).generated
            .date,
        ),
      ),
    ),
  );
  await writeHtml(join(dir, 'index.html'), { title: "kdqat: the paper's claims at this scale", sections, date });
  return doc;
}

function resultsDoc(
  studies: StudyData[],
  claims: Claim[],
  tasks: string[],
  figures: Pick<Figure, 'name' | 'title'>[],
): string {
  return [
    'Each claim of Kim et al. (EMNLP 2022) tested on the studies in `experiments/studies/` (one per task). A difference is',
    'the difference of two means with its 95% Student-t interval and its effect d (difference over the pooled standard',
    'deviation of the seeds, or over the standard deviation of the paired differences for the analyses); a difference',
    'whose interval contains 0 is **not resolved**, and a verdict is *consistent* only when every comparison it rests on is',
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
      `Recipe: ${d.reduced ? `**reduced**: ${d.reduced}` : "the reference's"}. Study \`experiments/studies/${d.study}.json\`, kept files \`${RESULTS}/${d.study}/\`.`,
      '',
      mixingTable(d),
      '',
    ]),
    '## What this study cannot show',
    '',
    ...LIMITS.map((l) => `- ${l}`),
    ...studies.map(
      (d) =>
        `- ${d.task}: the room KD-QAT has to show a difference is the teacher's ${f4(d.teacher)} minus the ternary PTQ floor's ${f4(d.floor)} = ${f4(d.teacher - (d.floor ?? Number.NaN))} (the majority class scores ${f4(d.majority)}): what the presets recover, and so how far apart they can be, is of that size.`,
    ),
    ...studies
      .filter((d) => d.analysis?.unscored.length)
      .map(
        (d) =>
          `- ${d.task}: the analysed students (${d.analysis!.unscored.join(', ')}) are their runs' final weights, which no evaluation scored: the runs were made before kdqat kept each run's best weights, so the analyses are not of the weights whose metric the tables show.`,
      ),
    '',
    '## Figures',
    '',
    ...figures.map((f) => `![${f.title}](../${CLAIMS_DIR}/figures/${f.name}.png)`),
    '',
    `The same page with the figures embedded: \`${CLAIMS_DIR}/index.html\`. Each study's sweep report and analysis report are in its kept folder.`,
    '',
  ].join('\n');
}

/** Teacher, floor and each preset's mean +- sd over seeds, one column per study (the README's overview). */
function presetsOverview(studies: StudyData[]): string {
  const stats = studies.map(presetStats);
  const presets = [...new Set(stats.flatMap((s) => Object.keys(s)))];
  const row = (name: string, cell: (d: StudyData, i: number) => string) =>
    `| ${name} | ${studies.map(cell).join(' | ')} |`;
  return [
    `| best dev metric (mean ± sd over seeds) | ${studies.map((d) => `${d.task} (${d.metric.toUpperCase()})`).join(' | ')} |`,
    `|---|${studies.map(() => '---:').join('|')}|`,
    row('majority class (no model)', (d) => f4(d.majority)),
    row('FP teacher (the weights distilled from)', (d) => f4(d.teacher)),
    row('ternary PTQ (no training)', (d) => f4(d.floor)),
    ...presets.map((p) => row(p, (_d, i) => (stats[i][p] ? `${f4(stats[i][p].mean)} ± ${f4(stats[i][p].sd)}` : '-'))),
  ].join('\n');
}

/** The README's claims block: the verdicts, the presets' overview and where the numbers are (prose wrapped). */
export function claimsBlock(names: string[]): string | null {
  const studies = names.map(studyData).filter((d): d is StudyData => d !== null);
  if (!studies.length) return null;
  return wrapMd(
    [
      claimsTable(
        testClaims(studies),
        studies.map((d) => d.task),
        false,
      ),
      '',
      presetsOverview(studies),
      '',
      `With tiny teachers from scratch, the students' reduced recipe and three seeds, only large effects are resolved; what each verdict rests on: [${RESULTS_DOC}](${RESULTS_DOC}#the-papers-claims-at-this-scale).`,
    ].join('\n'),
  );
}
