/**
 * What the analyses take from the training side: a run folder's scored students (which weights, their recorded
 * evaluation) and the check that a model folder fits the task. The one module of src/analysis that imports the
 * distillation and sweep floors.
 */
export {
  describeScore,
  parseWhich,
  resolveStudent,
  studentScore,
  type StudentScore,
} from '../distill/students.js';
export { checkModelForTask, readModelInfo } from '../sweep/identity.js';
