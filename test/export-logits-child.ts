/** Helper of export-model.test.ts: packed vs latent student logits on one backend; prints one JSON line. */
import { initBackend } from '../src/backend/backend.js';
import { packedVsLatent } from './helpers/export.js';

const [backend, seed] = process.argv.slice(2);
const info = await initBackend(backend, { quiet: true });
console.log(JSON.stringify({ backend: info.backend, ...(await packedVsLatent(Number(seed))) }));
process.exit(0);
