/**
 * Progress bar for long work, written to stderr: total, current, rate, ETA and free-form fields (e.g. loss).
 * On a TTY it redraws one line in place (at most every `redrawMs`); otherwise (CI logs, pipes) it prints the first
 * update at once, then one full line every `logEverySec` seconds, plus a final line on `done()`.
 * The rate (and ETA) count only work done since the first update, so a resumed job (first update at step 500)
 * does not report an inflated rate. `update(n, fields)` replaces the shown fields; omit `fields` to keep them.
 *
 *   const bar = new Progress({ total: steps, label: 'qat sst-2' });
 *   bar.update(step, { loss: loss.toPrecision(4) });   // or bar.tick()
 *   bar.done();
 */

export interface ProgressOptions {
  /** Number of units of work (>= 0). 0 or unknown totals show no bar/ETA. */
  total: number;
  /** Shown at the start of every line. */
  label?: string;
  /** Unit name for the rate (default 'it'). */
  unit?: string;
  /** Non-TTY: seconds between printed lines (default 10). */
  logEverySec?: number;
  /** TTY: minimum ms between redraws (default 100). */
  redrawMs?: number;
  /** Output stream (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force TTY / non-TTY behaviour (default: stream.isTTY). */
  tty?: boolean;
  /** Clock in ms (tests). Default performance.now. */
  now?: () => number;
}

export type ProgressFields = Record<string, string | number>;

/** 75 -> "1m15s", 3725 -> "1h02m", 4.2 -> "4.2s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

function formatRate(r: number, unit: string): string {
  if (!Number.isFinite(r) || r <= 0) return `- ${unit}/s`;
  if (r >= 1) return `${r >= 100 ? r.toFixed(0) : r.toFixed(2)} ${unit}/s`;
  return `${(1 / r).toFixed(2)} s/${unit}`;
}

export class Progress {
  readonly total: number;
  private current = 0;
  private fields: ProgressFields = {};
  private readonly label: string;
  private readonly unit: string;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly tty: boolean;
  private readonly logEveryMs: number;
  private readonly redrawMs: number;
  private readonly now: () => number;
  private readonly t0: number;
  private lastDraw = -Infinity;
  private first: { current: number; t: number } | null = null;
  private lastLen = 0;
  private finished = false;

  constructor(opts: ProgressOptions) {
    if (!Number.isFinite(opts.total) || opts.total < 0)
      throw new Error(`Progress: total must be a number >= 0, got ${opts.total}`);
    this.total = opts.total;
    this.label = opts.label ?? '';
    this.unit = opts.unit ?? 'it';
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? Boolean(this.stream.isTTY);
    this.logEveryMs = (opts.logEverySec ?? 10) * 1000;
    this.redrawMs = opts.redrawMs ?? 100;
    this.now = opts.now ?? (() => performance.now());
    this.t0 = this.now();
  }

  /** Set the current count (absolute) and merge `fields` into the shown fields; redraws if due. */
  update(current: number, fields?: ProgressFields): void {
    if (this.finished) return;
    this.current = current;
    if (fields) this.fields = { ...fields };
    const t = this.now();
    this.first ??= { current, t };
    if (t - this.lastDraw >= (this.tty ? this.redrawMs : this.logEveryMs)) this.draw(t, false);
  }

  /** Advance by `n` (default 1). */
  tick(n = 1, fields?: ProgressFields): void {
    this.update(this.current + n, fields);
  }

  /** Elapsed seconds since construction. */
  elapsed(): number {
    return (this.now() - this.t0) / 1000;
  }

  /** The status line as it would be printed now (no bar on non-TTY). */
  line(bar = this.tty): string {
    const now = this.now();
    const el = (now - this.t0) / 1000;
    const sinceFirst = this.first ? (now - this.first.t) / 1000 : 0;
    const rate = sinceFirst > 0 ? (this.current - this.first!.current) / sinceFirst : 0;
    const parts: string[] = [];
    if (this.label) parts.push(this.label);
    if (this.total > 0) {
      const frac = Math.min(1, Math.max(0, this.current / this.total));
      const pct = `${(frac * 100).toFixed(1).padStart(5)}%`;
      if (bar) {
        const w = 20,
          full = Math.round(frac * w);
        parts.push(`[${'#'.repeat(full)}${'.'.repeat(w - full)}] ${pct}`);
      } else parts.push(pct);
      parts.push(`${this.current}/${this.total}`);
    } else parts.push(`${this.current}`);
    parts.push(formatRate(rate, this.unit));
    const eta = this.total > 0 && rate > 0 && !this.finished ? (this.total - this.current) / rate : NaN;
    parts.push(
      this.finished ? `took ${formatDuration(el)}` : `elapsed ${formatDuration(el)} eta ${formatDuration(eta)}`,
    );
    for (const [k, v] of Object.entries(this.fields)) parts.push(`${k} ${v}`);
    return parts.join('  ');
  }

  private draw(t: number, final: boolean): void {
    this.lastDraw = t;
    let text = this.line();
    if (this.tty) {
      const cols = this.stream.columns ?? 0;
      if (cols > 10 && text.length > cols - 1) text = text.slice(0, cols - 2) + '…';
      const pad = this.lastLen > text.length ? ' '.repeat(this.lastLen - text.length) : '';
      this.lastLen = text.length;
      this.stream.write(`\r${text}${pad}${final ? '\n' : ''}`);
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  /** Print the final line (always) and stop; later updates are ignored. */
  done(fields?: ProgressFields): void {
    if (this.finished) return;
    if (fields) this.fields = { ...fields };
    this.finished = true;
    this.draw(this.now(), true);
  }
}
