import test from 'ava';
import { assertFitsBackend, explainBackendError, initBackend, backendInfo } from '../src/backend/backend.js';
import { estimateTrainBytes } from '../src/sweep/run-setup.js';
import { BERT_PRESETS, BERT_DEFAULTS, bertConfigFrom } from '../src/model/config.js';

test.before(async () => {
  await initBackend('wasm', { quiet: true });
});

test('on wasm, a model that cannot fit the 4 GiB heap fails before training with the alternatives named', (t) => {
  t.is(backendInfo().backend, 'wasm');
  const base = bertConfigFrom({ ...BERT_DEFAULTS, ...BERT_PRESETS.base, vocab_size: 30522 }, 'base');
  const e = t.throws(() => assertFitsBackend(estimateTrainBytes(base, 32, 128), 'KD-QAT of base'));
  t.regex(e!.message, /KD-QAT of base needs about [\d.]+ GiB, but the wasm backend has a 32-bit heap of 4 GiB/);
  t.regex(e!.message, /--backend cpu/);
  const tiny = bertConfigFrom({ ...BERT_DEFAULTS, ...BERT_PRESETS.tiny, vocab_size: 30522 }, 'tiny');
  t.notThrows(() => assertFitsBackend(estimateTrainBytes(tiny, 32, 128), 'KD-QAT of tiny'));
});

test('on wasm, the runtime\'s bare "memory access out of bounds" becomes an explanation', (t) => {
  const e = explainBackendError(new Error('RuntimeError: memory access out of bounds'));
  t.regex(e.message, /ran out of its 4 GiB heap/);
  t.regex(e.message, /--batch-size/);
});

test('a requested backend that cannot start is an error, not a silent fallback', async (t) => {
  const { parseBackend } = await import('../src/backend/backend.js');
  t.regex(t.throws(() => parseBackend('tpu'))!.message, /unknown backend "tpu"/);
});
