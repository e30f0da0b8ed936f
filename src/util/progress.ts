/**
 * Progress bar on stderr for long work: current/total, rate, ETA and free-form fields. Redrawn in place on a TTY;
 * in logs (CI, pipes) one line at most every `logEverySec` seconds, plus the final one.
 */
export interface ProgressOptions { total: number; label?: string; logEverySec?: number; stream?: NodeJS.WriteStream }

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  if (sec < 60) return `${sec.toFixed(0)}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(Math.floor(sec % 60)).padStart(2, '0')}s`;
  return `${Math.floor(sec / 3600)}h${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}m`;
}

export class Progress {
  private readonly t0 = performance.now();
  private lastLog = -Infinity;
  private startCurrent: number | null = null;
  private current = 0;
  private fields: Record<string, string | number> = {};
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(private readonly o: ProgressOptions) {
    this.stream = o.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  /** Text of the bar at `current` (exported for tests). */
  line(width = 24): string {
    const { total, label } = this.o;
    const frac = total > 0 ? Math.min(1, this.current / total) : 0;
    const fill = Math.round(frac * width);
    const elapsed = (performance.now() - this.t0) / 1000;
    const doneHere = this.current - (this.startCurrent ?? 0);
    const rate = doneHere > 0 ? doneHere / elapsed : 0;
    const eta = rate > 0 ? (total - this.current) / rate : NaN;
    const extra = Object.entries(this.fields).map(([k, v]) => `${k} ${v}`).join('  ');
    return `${label ? `${label} ` : ''}[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${this.current}/${total} ` +
      `${(100 * frac).toFixed(0)}%  ${formatDuration(elapsed)} elapsed, ETA ${formatDuration(eta)}${extra ? `  ${extra}` : ''}`;
  }

  update(current: number, fields: Record<string, string | number> = {}): void {
    if (this.startCurrent === null) this.startCurrent = current;
    this.current = current;
    this.fields = fields;
    const now = performance.now();
    if (this.tty) {
      const cols = this.stream.columns ?? 120;
      this.stream.write(`\r${this.line().slice(0, cols - 1).padEnd(cols - 1)}`);
    } else if (now - this.lastLog >= (this.o.logEverySec ?? 10) * 1000 || current >= this.o.total) {
      this.lastLog = now;
      this.stream.write(this.line() + '\n');
    }
  }

  done(): void {
    if (this.tty) this.stream.write('\n');
    else if (this.lastLog === -Infinity || this.current < this.o.total) this.stream.write(this.line() + '\n');
  }
}
