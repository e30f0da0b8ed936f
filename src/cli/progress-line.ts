/** Progress of a training run: a redrawn bar on a TTY / a line every few seconds in logs, or JSON lines for sweep. */
import type { ProgressInfo } from '../train/trainer.js';
import { Progress } from '../util/progress.js';

export function progressReporter(
  json: boolean,
  label: string,
): { update: (p: ProgressInfo) => void; done: () => void } {
  if (json) return { update: (p) => process.stdout.write(`@@progress ${JSON.stringify(p)}\n`), done: () => {} };
  let bar: Progress | undefined;
  return {
    update: (p) => {
      bar ??= new Progress({ total: p.total, label });
      bar.update(p.step, {
        loss: p.loss.toPrecision(4),
        lr: p.lr.toExponential(1),
        ...(p.evalMetric !== undefined ? { dev: p.evalMetric.toFixed(4) } : {}),
      });
    },
    done: () => bar?.done(),
  };
}
