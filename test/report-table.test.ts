import test from 'ava';
import { fromRows, summarize, toCsv, toMarkdown, asRows } from '../src/report/table.js';

const rows = [
  { arm: 'kd', coef: 0.5, seed: 1, acc: 0.81234 },
  { arm: 'kd', coef: 0.5, seed: 2, acc: 0.83 },
  { arm: 'kd, "x"', coef: 1, seed: 1, acc: null },
  { arm: 'none', coef: 0, seed: 3, acc: Number.NaN },
];

test('CSV: full precision by default, quoting, null as empty', (t) => {
  t.is(
    toCsv(rows),
    ['arm,coef,seed,acc', 'kd,0.5,1,0.81234', 'kd,0.5,2,0.83', '"kd, ""x""",1,1,', 'none,0,3,NaN', ''].join('\n'),
  );
});

test('CSV with digits: integer columns stay integers', (t) => {
  t.is(toCsv(rows.slice(0, 2), { digits: 2 }), 'arm,coef,seed,acc\nkd,0.50,1,0.81\nkd,0.50,2,0.83\n');
});

test('Markdown: GitHub pipe table, alignment, precision, escaped pipes', (t) => {
  const md = toMarkdown(
    [
      { name: 'a|b', n: 3, v: 1 / 3 },
      { name: 'c', n: 10, v: 2 },
    ],
    { digits: 3 },
  );
  t.is(md, '|name|n|v|\n|:-|-:|-:|\n|a\\|b|3|0.333|\n|c|10|2.000|\n');
  t.is(toMarkdown([{ a: 1.23456, b: 2.5 }], { digits: { a: 1, '*': 2 } }), '|a|b|\n|-:|-:|\n|1.2|2.50|\n');
});

test('summarize: mean, sample std, count per group, ordered by keys', (t) => {
  const runs = [
    { arm: 'b', coef: 1, acc: 1 },
    { arm: 'b', coef: 1, acc: 2 },
    { arm: 'b', coef: 1, acc: 4 },
    { arm: 'a', coef: 2, acc: 0.5 },
    { arm: 'a', coef: 1, acc: 3 },
    { arm: 'a', coef: 1, acc: 5 },
  ];
  const s = asRows(
    summarize(runs, { by: ['arm', 'coef'], values: ['acc'], stats: ['mean', 'std', 'count', 'min', 'max'] }),
  );
  t.deepEqual(
    s.map((r) => [r.arm, r.coef]),
    [
      ['a', 1],
      ['a', 2],
      ['b', 1],
    ],
  );
  t.is(s[0].acc_mean, 4);
  t.is(s[0].acc_std, Math.SQRT2);
  t.is(s[0].acc_count, 2);
  t.is(s[1].acc_count, 1);
  t.is(s[1].acc_std, undefined);
  t.true(Math.abs((s[2].acc_mean as number) - 7 / 3) < 1e-15);
  t.true(Math.abs((s[2].acc_std as number) - Math.sqrt(7 / 3)) < 1e-12);
  t.is(s[2].acc_min, 1);
  t.is(s[2].acc_max, 4);
  t.is(
    toMarkdown(summarize(runs, { by: ['arm'], values: ['acc'] }), { digits: 2 }),
    '|arm|acc_mean|acc_std|acc_count|\n|:-|-:|-:|-:|\n|a|2.83|2.25|3|\n|b|2.33|1.53|3|\n',
  );
});

test('errors name the column', (t) => {
  t.throws(() => summarize(rows, { by: ['arm'], values: ['accuracy'] }), {
    message: /column "accuracy" not in table \(columns: arm, coef, seed, acc\)/,
  });
  t.throws(() => fromRows(rows, ['arm', 'lr']), { message: /column "lr" is in no row/ });
  t.throws(() => fromRows([{ a: 1 }, 3 as never]), { message: /row 1 is not an object/ });
});

test('a column of numbers that its digits would print as zero (a learning rate) prints 3 significant digits', (t) => {
  const md = toMarkdown(
    [
      { lr: 2e-5, acc: 0.5 },
      { lr: 1.25e-4, acc: 0.25 },
    ],
    { digits: 4 },
  );
  t.regex(md, /\|2e-5\|0\.5000\|/);
  t.regex(md, /\|1\.25e-4\|0\.2500\|/);
});
