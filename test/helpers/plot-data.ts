/**
 * Synthetic results that hit the plots' hard cases: runs with identical dev curves, metrics like 0.4375, a ranking
 * loss whose std exceeds its mean, Hessian eigenvalues from 1 to 5e8, a constant heatmap panel, long model labels.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveRunConfig } from '../../src/train/config.js';
import type { AnalysisResults } from '../../src/analysis/run.js';
import { TOKEN_CLASSES } from '../../src/analysis/norm-analysis.js';

/** Four finished CoLA runs in dir: two with identical dev curves, one of another recipe. */
export function fakeSweep(dir: string): void {
  const runs: [string, string, number, number | null][] = [
    ['ternarybert_s42', 'ternarybert', 0, null],
    ['map_s42', 'map', 0.01, null],
    ['output_s42', 'output', 0.01, null],
    ['map+output_s42', 'map+output', 0.02, 256],
  ];
  for (const [run, preset, shift, trainLimit] of runs) {
    const cfg = resolveRunConfig({ task: 'cola', data: { trainLimit } });
    const log: string[] = [];
    let best = { step: 0, metrics: { mcc: 0 } };
    for (let step = 1; step <= 30; step++) {
      log.push(JSON.stringify({ step, loss: 3 * Math.exp(-step / 10) + 0.05 + shift }));
      if (step % 6 === 0) {
        const mcc = 0.4375 + (preset === 'output' || preset === 'map' ? 0 : shift) + 0.005 * Math.sin(step);
        log.push(JSON.stringify({ step, eval: { mcc } }));
        if (mcc > best.metrics.mcc) best = { step, metrics: { mcc } };
      }
    }
    mkdirSync(join(dir, run), { recursive: true });
    writeFileSync(join(dir, run, 'log.jsonl'), log.join('\n') + '\n');
    writeFileSync(
      join(dir, run, 'metrics.json'),
      JSON.stringify({
        run,
        task: 'cola',
        seed: 42,
        preset,
        coeffs: { map: 1, output: 1 },
        config: cfg,
        best,
        last: best,
        teacher: { metrics: { mcc: 0.133 } },
        wallTimeSec: 100,
        trainTokensPerSec: 1000,
        steps: 30,
        provenance: { backend: 'cpu', git: { commit: 'x' } },
      }),
    );
  }
}

/** Analysis results of a teacher and two students, 2 layers x 2 heads, every experiment. */
export function fakeAnalysis(): AnalysisResults {
  const L = 2,
    H = 2;
  const grid = (f: (l: number, h: number) => number) =>
    Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) => f(l, h)));
  const models = [
    { id: 'teacher', label: 'Teacher (FP)', role: 'teacher' },
    { id: 's0', label: 'ternarybert_s42_long_label_name', role: 'student' },
    { id: 's1', label: 'map+output_s42_long_label_name', role: 'student' },
  ];
  const stat = (m: number, sd: number) => ({
    mean: grid((l, h) => m * (1 + l + h)),
    std: grid((l, h) => sd * (1 + l + h)),
  });
  const dist = (k: number) => ({
    rankingLoss: stat(0.4 * k, 1.2),
    coverLengthRatio: stat(0.1 * k, 0.02),
    rowKl: stat(0.05 * k, 0.01),
  });
  const row = (index: number, ev: number[]) => ({
    index,
    eigenvalues: ev,
    iterations: ev.map(() => 10),
    converged: ev.map(() => true),
    l2Terms: ev.map(() => null),
    seconds: 1,
    layers: { embeddings: ev[0] / 2, 'layer.0': ev[0] / 3, head: ev[0] / 4 },
  });
  const diffs = {
    prob: grid((l, h) => 0.0188 + 0.0001 * (l + h)),
    fx: grid((l, h) => 0.1 * (l + h + 1)),
    afx: grid((l, h) => 0.01 * (l * h + 1)),
  };
  const heads = {
    prob: grid((l, h) => 0.1 * (l + h)),
    fx: grid((l, h) => 1 + l - h),
    afx: grid((l, h) => 0.5 + 0.1 * l * h),
  };
  const cls = (k: number) =>
    Object.fromEntries(
      [...TOKEN_CLASSES].map((c, i) => [
        c,
        { alpha: [0.01 * k * (i + 1), 0.02 * k], fx: [0.5 * k, 0.25], sumAfx: [0.1 * k, null] },
      ]),
    );
  return {
    meta: { task: 'rte', models, examples: [0, 1, 2, 3], tokenTypes: 'zeros', seconds: {} },
    distance: {
      examples: 4,
      models: { s0: dist(1), s1: dist(2) },
      perExample: {},
    } as unknown as AnalysisResults['distance'],
    range: {
      exampleIndex: 0,
      tokens: [101, 2, 3, 102],
      models: Object.fromEntries(
        models.map((m, k) => [
          m.id,
          { min: grid(() => -1 - k).map((r) => [...r, -2, -1]), max: grid(() => 1 + k).map((r) => [...r, 2, 1]) },
        ]),
      ),
      meanRange: {},
      perExample: {},
    },
    norms: {
      token: 'sep',
      wo: 'latent',
      examplesUsed: 4,
      heads: { teacher: heads, s0: heads, s1: heads },
      headDiffs: { s0: diffs, s1: diffs },
      classDiffs: { s0: cls(1), s1: cls(2) },
    } as unknown as AnalysisResults['norms'],
    hessian: {
      settings: {
        examples: 4,
        topN: 3,
        maxIter: 10,
        tol: 1e-3,
        seed: 42,
        l2: 0.01,
        loss: 'reference',
        normMin: 1e-3,
        mode: 'example',
        method: 'power',
        layers: true,
        trace: false,
        roles: ['teacher', 'student'],
        params: null,
      },
      models: {
        teacher: { perExample: [row(0, [5.35e8, 120, -3]), row(1, [5.35e8, 80, 2.5])] },
        s0: { perExample: [row(0, [40, 12, -0.5]), row(1, [35, 1.5, 0.8])] },
      },
      warnings: [],
      normExcluded: { teacher: { 'bert.encoder.layer.0.attention.self.key.bias': 1.9e-11 } },
    },
  };
}
