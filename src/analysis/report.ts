/**
 * The analysis report: every figure of the registered analyses rendered to plots/<name>.{svg,png} (src/report's
 * renderer) and one self-contained report.html (src/report's page builder: plots inlined, summary tables).
 */
import { join } from 'node:path';
import { renderAll } from '../report/render.js';
import { writeHtml, type Section } from '../report/html.js';
import { allSpecs } from './plots.js';
import { labelOf } from './plot-style.js';
import { ANALYSES, type AnalysisResults } from './registry.js';

/** each analysis's results of r, in the registry's order */
const present = (r: AnalysisResults) =>
  ANALYSES.flatMap((a) => {
    const res = (r as unknown as Record<string, unknown>)[a.name];
    return res === undefined ? [] : [{ a, res }];
  });

/** the tables of the analyses, in the registry's order */
const tables = (r: AnalysisResults): Section[] =>
  present(r).flatMap(({ a, res }) => a.tables(res, (id) => labelOf(r.meta, id)));

/** Render plots and write report.html; returns the HTML path. */
export async function writeAnalysisReport(r: AnalysisResults, outDir: string): Promise<string> {
  const svgs = await renderAll(allSpecs(r), join(outDir, 'plots'));
  const captions = Object.assign({}, ...ANALYSES.map((a) => a.captions)) as Record<string, [string, string]>;
  const plots: Section[] = Object.entries(svgs).map(([name, svg]) => ({
    kind: 'plot',
    title: captions[name]?.[0] ?? name,
    caption: captions[name]?.[1],
    svg,
  }));
  const models = r.meta.models.map((m) => `- ${m.label} (${m.role}${m.dir ? `, \`${m.dir}\`` : ''})`).join('\n');
  const intro =
    `Task ${r.meta.task}: ${r.meta.examples.length} dev examples, batch 1, each sliced to its length; ` +
    `token_type_ids ${r.meta.tokenTypes}. ` +
    `Plots are also in \`plots/\` as SVG and PNG; all numbers in \`results.json\`.\n\nModels:\n${models}`;
  return writeHtml(join(outDir, 'report.html'), {
    title: `KD-QAT analysis: ${r.meta.task}`,
    subtitle: `experiments: ${present(r)
      .map(({ a }) => a.name)
      .join(', ')}`,
    sections: [{ kind: 'text', text: intro }, ...tables(r), ...plots],
    provenance: { seconds: r.meta.seconds, examples: r.meta.examples },
  });
}
