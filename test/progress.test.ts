import test from 'ava';
import { Progress, formatDuration } from '../src/util/progress.js';

/** A fake stream capturing writes, and a fake clock. */
function setup(tty: boolean) {
  const out: string[] = [];
  const stream = {
    isTTY: tty,
    columns: 200,
    write: (s: string) => {
      out.push(s);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  let now = 0;
  return {
    out,
    stream,
    clock: {
      now: () => now,
      set: (ms: number) => {
        now = ms;
      },
    },
  };
}

test('formatDuration', (t) => {
  t.is(formatDuration(4.24), '4.2s');
  t.is(formatDuration(42), '42s');
  t.is(formatDuration(75), '1m15s');
  t.is(formatDuration(3725), '1h02m');
  t.is(formatDuration(Number.NaN), '?');
});

test('non-TTY: first update at once, a line every logEverySec (count, rate, ETA, fields), a final one', (t) => {
  const { out, stream, clock } = setup(false);
  const bar = new Progress({ total: 100, label: 'qat', stream, logEverySec: 10, now: clock.now });
  clock.set(1000);
  bar.update(0, { loss: '2.000' });
  t.is(out.length, 1);
  t.is(out[0], 'qat    0.0%  0/100  - it/s  elapsed 1.0s eta ?  loss 2.000\n');
  clock.set(5000);
  bar.update(10, { loss: '1.800' });
  t.is(out.length, 1);
  clock.set(11_000);
  bar.update(20, { loss: '1.500' });
  t.is(out.length, 2);
  t.is(out[1], 'qat   20.0%  20/100  2.00 it/s  elapsed 11s eta 40s  loss 1.500\n');
  clock.set(41_000);
  bar.update(100, {});
  bar.done();
  t.is(out.length, 4);
  t.is(out[3], 'qat  100.0%  100/100  2.50 it/s  took 41s\n');
  bar.update(5);
  bar.done();
  t.is(out.length, 4);
});

test('rate counts only work since the first update (resumed jobs)', (t) => {
  const { out, stream, clock } = setup(false);
  const bar = new Progress({ total: 1000, stream, now: clock.now, logEverySec: 1 });
  clock.set(0);
  bar.update(500);
  clock.set(10_000);
  bar.update(600);
  t.regex(out[1], /10\.00 it\/s .*eta 40s/);
});

test('TTY: redraws in place with a bar, ends with newline; slow rates shown as s/it', (t) => {
  const { out, stream, clock } = setup(true);
  const bar = new Progress({ total: 4, stream, now: clock.now, unit: 'step' });
  clock.set(0);
  bar.update(0);
  clock.set(5000);
  bar.tick();
  t.true(out[1].startsWith('\r['), JSON.stringify(out[1]));
  t.regex(out[1], /\[#####\.{15}\] {2}25\.0% {2}1\/4 {2}5\.00 s\/step {2}elapsed 5\.0s eta 15s/);
  clock.set(5050);
  bar.tick(); // within redrawMs: no redraw
  t.is(out.length, 2);
  clock.set(6000);
  bar.done();
  t.is(out.length, 3);
  t.true(out[2].startsWith('\r') && out[2].endsWith('\n'));
  t.throws(() => new Progress({ total: -1 }), { message: /total must be a number >= 0/ });
});
