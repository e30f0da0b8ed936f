/**
 * The analysis report: every figure of src/analysis/plots.ts rendered to plots/<name>.{svg,png} (src/report's
 * renderer) and one self-contained report.html (src/report's page builder: plots inlined, summary tables).
 */
import { join } from 'node:path';
import { renderAll } from '../report/render.js';
import { writeHtml, type Section } from '../report/html.js';
import { allSpecs } from './plots.js';
import type { AnalysisResults } from './run.js';
import { hessianLossText } from './run-hessian.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const CAPTIONS: Record<string, [string, string]> = {
  'distance-ranking-loss': [
    'Attention-map distance: ranking loss (Figure 4)',
    "Per head, summed over query rows and key pairs: how often the student orders two keys differently from the teacher, weighted by the student's probability gap. Lower = closer to the teacher. A sum over n^3 terms: it grows with the sequence length, hence the wide band over examples of different lengths.",
  ],
  'distance-cover-length': [
    'Attention-map distance: cover length ratio (Figure 4)',
    "Per head: how far down the student's ranking the teacher's top-5 keys reach, averaged over rows and divided by n. Lower = the student covers the teacher's top keys earlier.",
  ],
  'distance-row-kl': [
    'Attention-map distance: row KL',
    'Per head: the map loss (teacher || student KL summed over rows, divided by n).',
  ],
  'hessian-density': [
    'Hessian eigenvalue spectra (Figure 3)',
    'Kernel density of the top eigenvalues (by magnitude) collected over examples, split into negative and positive; ticks at the bottom mark the eigenvalues themselves.',
  ],
  'hessian-layers': [
    'Hessian top eigenvalue per parameter group',
    'Power iteration restricted to one group of parameters at a time (the diagonal block of the Hessian).',
  ],
  'range-min-max': [
    'Attention-output dynamic range (Figure 5)',
    'Per layer and token: minimum and maximum over the hidden dimension of the post-LayerNorm attention output. Teacher dashed grey.',
  ],
  'norm-curves': [
    'Norm-based analysis per layer (Figure 6)',
    '|teacher - student| of the mean attention weight alpha, of ||f(x)|| and of ||sum_h alpha f(x)|| for keys of each token class.',
  ],
  'norm-heatmaps': [
    'Norm-based analysis per head',
    'Attention received by the token (PROB), ||f(x)|| of the token and ||alpha f(x)|| of its query row, per layer and head; then |teacher - student|.',
  ],
};

function tables(r: AnalysisResults): Section[] {
  const label = (id: string) => r.meta.models.find((m) => m.id === id)?.label ?? id;
  const out: Section[] = [];
  if (r.distance) {
    out.push({
      kind: 'table',
      title: 'Attention-map distance: mean over heads',
      digits: 4,
      table: Object.entries(r.distance.models).map(([id, d]) => ({
        model: label(id),
        'ranking loss': mean(d.rankingLoss.mean.flat()),
        'cover length ratio': mean(d.coverLengthRatio.mean.flat()),
        'row KL': mean(d.rowKl.mean.flat()),
      })),
    });
  }
  if (r.hessian) {
    const st = r.hessian.settings;
    const rows = Object.entries(r.hessian.models).map(([id, h]) => {
      const all = h.perExample.flatMap((e) => e.eigenvalues);
      const conv = h.perExample.flatMap((e) => e.converged);
      return {
        model: label(id),
        spectra: h.perExample.length,
        'mean first eigenvalue': mean(h.perExample.map((e) => e.eigenvalues[0])),
        max: Math.max(...all),
        min: Math.min(...all),
        converged: `${conv.filter(Boolean).length}/${conv.length}`,
        'Hv products': mean(h.perExample.map((e) => e.iterations.reduce((a, b) => a + b, 0))),
        's per spectrum': mean(h.perExample.map((e) => e.seconds)),
        ...(st.trace ? { 'mean trace': mean(h.perExample.map((e) => e.trace ?? NaN)) } : {}),
      };
    });
    const how =
      st.method === 'power' ? 'power iteration with deflation (PyHessian)' : 'Lanczos with full reorthogonalisation';
    const l2 = Object.values(r.hessian.models).flatMap((h) =>
      h.perExample.flatMap((e) => e.l2Terms.filter((x): x is string => x !== null)),
    );
    const notes = [
      `Top ${st.topN} eigenvalues by magnitude, ${how}, maxIter ${st.maxIter}, tol ${st.tol}, seed ${st.seed}, ${st.mode} mode; loss: ${hessianLossText(st)} (\`--hessian-loss ${st.loss ?? 'reference'}\`), eval mode, ${st.params ? `parameters matching \`${st.params}\`` : 'all parameters'}, STE through the quantizers.`,
      ...Object.entries(r.hessian.normExcluded ?? {})
        .filter(([, ex]) => Object.keys(ex).length)
        .map(
          ([id, ex]) =>
            `${label(id)}: left out of the norm term (||p|| <= ${st.normMin ?? 0}, its curvature l2 / ||p|| would swamp every eigenvalue): ${Object.entries(
              ex,
            )
              .map(([n, v]) => `${n} (${v.toExponential(2)})`)
              .join(', ')}.`,
        ),
      ...(l2.length
        ? [
            `${l2.length} of the eigenvalues equal l2 / ||p|| of one parameter tensor (its norm term alone, not data curvature): ${[...new Set(l2)].join(', ')}.`,
          ]
        : []),
      ...r.hessian.warnings.map((w) => `**Warning**: ${w}`),
    ];
    out.push({
      kind: 'table',
      title: 'Hessian eigenvalues',
      table: rows,
      digits: { 'Hv products': 1, 's per spectrum': 1, '*': 4 },
      caption: notes.join(' '),
    });
  }
  if (r.range) {
    out.push({
      kind: 'table',
      title: 'Attention-output range: mean over tokens and examples',
      digits: 3,
      table: Object.entries(r.range.meanRange).map(([id, m]) => ({
        model: label(id),
        ...Object.fromEntries(
          m.min.flatMap((v, l) => [
            [`layer ${l} min`, v],
            [`layer ${l} max`, m.max[l]],
          ]),
        ),
      })),
    });
  }
  return out;
}

/** Render plots and write report.html; returns the HTML path. */
export async function writeAnalysisReport(r: AnalysisResults, outDir: string): Promise<string> {
  const svgs = await renderAll(allSpecs(r), join(outDir, 'plots'));
  const plots: Section[] = Object.entries(svgs).map(([name, svg]) => ({
    kind: 'plot',
    title: CAPTIONS[name]?.[0] ?? name,
    caption: CAPTIONS[name]?.[1],
    svg,
  }));
  const models = r.meta.models.map((m) => `- ${m.label} (${m.role}${m.dir ? `, \`${m.dir}\`` : ''})`).join('\n');
  const intro =
    `Task ${r.meta.task}: ${r.meta.examples.length} dev examples, batch 1, each sliced to its length; token_type_ids ${r.meta.tokenTypes}. ` +
    `Plots are also in \`plots/\` as SVG and PNG; all numbers in \`results.json\`.\n\nModels:\n${models}`;
  return writeHtml(join(outDir, 'report.html'), {
    title: `KD-QAT analysis: ${r.meta.task}`,
    subtitle: `experiments: ${[r.distance && 'distance', r.hessian && 'hessian', r.range && 'range', r.norms && 'norms'].filter(Boolean).join(', ')}`,
    sections: [{ kind: 'text', text: intro }, ...tables(r), ...plots],
    provenance: { seconds: r.meta.seconds, examples: r.meta.examples },
  });
}
