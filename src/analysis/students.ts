/**
 * What the analyses take from the training side: a run folder's scored students (which weights, their recorded
 * evaluation) and the check that a model folder fits the task. The one module of src/analysis that imports src/train.
 */
export {
  describeScore,
  parseWhich,
  resolveStudent,
  studentScore,
  type StudentScore,
} from '../train/students.js';
export { checkModelForTask, readModelInfo } from '../train/identity.js';
