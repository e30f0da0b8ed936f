/** The progress display of a sweep, shared by the local and the Slurm launchers. */
import { Progress } from '../util/progress.js';
import type { ChildProgress } from './sweep.js';

/** One progress line for a whole sweep: runs done, plus the finished fraction of the runs under way. */
export class SweepProgress {
  private readonly bar: Progress;
  private readonly live = new Map<string, ChildProgress | string>();
  private done: number;

  constructor(total: number, doneBefore: number) {
    this.bar = new Progress({ total, label: 'runs' });
    this.done = doneBefore;
    this.draw();
  }

  /** A run under way: its latest progress, or a word (starting, pending) until it has one. */
  set(name: string, p: ChildProgress | string): void {
    this.live.set(name, p);
    this.draw();
  }

  /** A run that ended (finished or failed); `count` false for work that is not one of the runs (a teacher job). */
  finish(name: string, count = true): void {
    if (!this.live.delete(name) && !count) return;
    if (count) this.done++;
    this.draw();
  }

  /** Redraw (also called by set and finish). */
  draw(): void {
    const cur = [...this.live.entries()]
      .map(([n, p]) =>
        typeof p === 'string'
          ? `${n} ${p}`
          : p.total
            ? `${n} ${p.step}/${p.total} loss ${p.loss.toPrecision(4)}`
            : `${n} starting`,
      )
      .join(' | ');
    const partial = [...this.live.values()].reduce(
      (a, p) => a + (typeof p !== 'string' && p.total ? p.step / p.total : 0),
      0,
    );
    this.bar.update(Math.round((this.done + partial) * 100) / 100, { current: cur || '-' });
  }

  /** Final line. */
  end(): void {
    this.bar.done();
  }
}
