/**
 * Small-sample statistics for comparing recipes over seeds (or analyses over examples): means, sample standard
 * deviations, Cohen's d and Student-t confidence intervals of a difference. A difference whose 95% interval contains
 * 0 is "not resolved": with three seeds a preset's spread is measured badly, so the interval is wide on purpose.
 */

export const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;

/** Sample standard deviation (n - 1); NaN below two values. */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return Number.NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** ln Gamma(x), x > 0 (Lanczos, g = 7: about 15 digits). */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61503916999186,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const y = x - 1;
  let a = c[0];
  for (let i = 1; i < 9; i++) a += c[i] / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz). */
function betaInc(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - betaInc(1 - x, b, a);
  const front = Math.exp(a * Math.log(x) + b * Math.log(1 - x) - (lnGamma(a) + lnGamma(b) - lnGamma(a + b))) / a;
  const tiny = 1e-300;
  let f = 1,
    c = 1,
    d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    const num =
      i === 0
        ? 1
        : i % 2 === 0
          ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m))
          : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    d = Math.abs(d) < tiny ? tiny : d;
    d = 1 / d;
    c = 1 + num / c;
    c = Math.abs(c) < tiny ? tiny : c;
    f *= c * d;
    if (Math.abs(1 - c * d) < 1e-14) return front * (f - 1);
  }
  return front * (f - 1);
}

/** P(T <= t) for Student's t with df degrees of freedom. */
export function tCdf(t: number, df: number): number {
  const p = 0.5 * betaInc(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - p : p;
}

/** The two-sided critical value: P(|T| <= q) = level (bisection on tCdf). */
export function tCritical(df: number, level = 0.95): number {
  if (!(df > 0)) return Number.NaN;
  const target = 1 - (1 - level) / 2;
  let lo = 0,
    hi = 1e4;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface Difference {
  /** mean(a) - mean(b) */
  diff: number;
  /** Cohen's d: diff over the pooled standard deviation (two groups) or over the differences' sd (paired) */
  effect: number;
  /** the 95% confidence interval of diff (Student t) */
  ci: [number, number];
  /** the interval excludes 0 */
  resolved: boolean;
  n: [number, number];
}

function difference(
  diff: number,
  spread: number,
  se: number,
  df: number,
  n: [number, number],
  level: number,
): Difference {
  const h = tCritical(df, level) * se;
  const ci: [number, number] = [diff - h, diff + h];
  return {
    diff,
    effect: spread > 0 ? diff / spread : diff === 0 ? 0 : Math.sign(diff) * Number.POSITIVE_INFINITY,
    ci,
    resolved: Number.isFinite(h) && (ci[0] > 0 || ci[1] < 0),
    n,
  };
}

/** Two independent groups (e.g. two presets' seeds): pooled-variance t interval, df = na + nb - 2. */
export function compareGroups(a: readonly number[], b: readonly number[], level = 0.95): Difference {
  const na = a.length,
    nb = b.length;
  const pooled = Math.sqrt(((na - 1) * (sd(a) ** 2 || 0) + (nb - 1) * (sd(b) ** 2 || 0)) / Math.max(1, na + nb - 2));
  return difference(mean(a) - mean(b), pooled, pooled * Math.sqrt(1 / na + 1 / nb), na + nb - 2, [na, nb], level);
}

/** Paired values (e.g. two models on the same examples): t interval of the mean difference, df = n - 1. */
export function comparePaired(a: readonly number[], b: readonly number[], level = 0.95): Difference {
  if (a.length !== b.length) throw new Error(`comparePaired: ${a.length} and ${b.length} values`);
  const d = a.map((x, i) => x - b[i]);
  const s = sd(d);
  return difference(mean(d), s, s / Math.sqrt(d.length), d.length - 1, [a.length, b.length], level);
}
