/**
 * Helper of analysis-fixtures.test.ts: the analysis + hessian fixture groups on one backend; last line "N passed, N
 * failed".
 */
import { initBackend } from '../src/backend/backend.js';
import { Report } from '../src/verify/report.js';
import { verifyModels } from '../src/verify/models.js';
import { ANALYSIS_GROUPS } from '../src/verify/analysis.js';

const [fixtures, backend] = process.argv.slice(2);
await initBackend(backend, { quiet: true });
const report = new Report();
await verifyModels(fixtures, report, ['analysis', 'hessian'], ANALYSIS_GROUPS);
console.log(report.summary().replace(/, \d+ not checked yet$/, ''));
process.exit(report.failed ? 1 : 0);
