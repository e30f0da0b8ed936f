/** Running mean and standard deviation of [L][H] grids over examples (float64). */
import type { Stat } from './types.js';

export class GridStat {
  n = 0;
  private s: number[][] = [];
  private q: number[][] = [];
  add(g: number[][]): void {
    if (!this.n) {
      this.s = g.map((r) => r.map(() => 0));
      this.q = g.map((r) => r.map(() => 0));
    }
    g.forEach((r, i) =>
      r.forEach((v, j) => {
        this.s[i][j] += v;
        this.q[i][j] += v * v;
      }),
    );
    this.n++;
  }
  stat(): Stat {
    const mean = this.s.map((r) => r.map((v) => v / this.n));
    return { mean, std: this.q.map((r, i) => r.map((v, j) => Math.sqrt(Math.max(0, v / this.n - mean[i][j] ** 2)))) };
  }
}
