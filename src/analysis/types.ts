/**
 * Shared types of the analyses: the compared models, the dev examples, the results' meta block, the contract every
 * analysis module of src/analysis/analyses/ fulfils, and the stop signal. Imported by the analyses, the registry and
 * the runner alike, and importing none of them, so that no two analysis modules depend on each other.
 */
import type { BertConfig } from '../model/config.js';
import type { Batch, BertOutputs, Params } from '../model/bert.js';
import type { QuantConfig } from '../quant/plan.js';
import type { Section } from '../report/html.js';
import type { StudentScore } from './students.js';

export type Role = 'teacher' | 'student' | 'quantized';

export interface AnalysisModel {
  id: string;
  label: string;
  role: Role;
  params: Params;
  config: BertConfig;
  /** quantizers of a student / the quantized teacher; undefined for the FP teacher */
  quant?: QuantConfig;
  dir?: string;
  /** a KD-QAT student's recorded evaluation in its run (docs/students.md); null when unscored */
  score?: StudentScore | null;
}

export interface AnalysisExample {
  index: number;
  ids: Int32Array;
  tokenTypes: Int32Array;
  label: number;
}

export interface AnalysisMeta {
  task: string;
  models: { id: string; label: string; role: string; dir?: string; score?: StudentScore | null }[];
  examples: number[];
  tokenTypes: string;
  seconds: Record<string, number>;
}

/** mean and standard deviation over examples of an [L][H] grid */
export type Stat = { mean: number[][]; std: number[][] };

export type Spec = Record<string, unknown>;

/** Thrown when a stop was requested (SIGINT): the finished parts were handed to the checkpoint callbacks. */
export class AnalysisStopped extends Error {
  constructor(what: string) {
    super(`stopped ${what}`);
    this.name = 'AnalysisStopped';
  }
}

/** One setting of an analysis: its config-file key (in the analysis's section), its flag and what it allows. */
export type Field =
  | { kind: 'int'; min?: number; max?: number; words?: string[] }
  | { kind: 'float'; min?: number; above?: number }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; values?: readonly string[] }
  | { kind: 'string' }
  | { kind: 'bool'; flagMeans?: false };

export interface Setting {
  key: string;
  /** the command-line flag; a bool with flagMeans false is a "--no-..." flag that sets it false */
  flag: string;
  field: Field;
  help: string;
  /** undefined: decided where the value is used (e.g. from the number of examples) */
  default?: unknown;
}

/** What the forward analyses see of the run. */
export interface ForwardContext {
  models: AnalysisModel[];
  teacher: AnalysisModel;
  examples: AnalysisExample[];
  log: (s: string) => void;
}

/** A forward analysis's running state over the examples of one pass. */
export interface Accumulator<R> {
  /** the norms the forward pass of model m on example e is to compute for it (undefined: none) */
  normsFor?(m: AnalysisModel, e: AnalysisExample): 'latent' | 'quantized' | undefined;
  /** one example (its position k in the examples), with the forward outputs of the models it reads */
  add(k: number, e: AnalysisExample, outs: Map<string, BertOutputs>): Promise<void>;
  finish(): R;
}

/** What an analysis that runs on its own (not over the shared forward pass) sees of the run. */
export interface PassContext {
  models: AnalysisModel[];
  examples: AnalysisExample[];
  makeBatch: (e: AnalysisExample) => Batch;
  log: (s: string) => void;
  onProgress: (done: number, total: number, what: string) => void;
  shouldStop?: () => boolean;
  onPlan?: (remaining: number, total: number, maxProducts: number, secondsPerProduct: number) => void;
  /** the parts an interrupted run of the same settings finished (this analysis's own checkpoint format) */
  resume?: unknown;
  /** called with this analysis's checkpoint each time a part finishes */
  onPartial: (p: unknown) => void;
}

interface AnalysisCommon<N extends string, R> {
  name: N;
  /** its config-file section and flags */
  settings: Setting[];
  /** the figures of a result, keyed by output file base name (null: nothing to draw) */
  specs(r: R, meta: AnalysisMeta): Record<string, Spec | null>;
  /** figure name -> [title, caption] of the report */
  captions: Record<string, [string, string]>;
  tables(r: R, label: (id: string) => string): Section[];
}

export interface ForwardAnalysis<N extends string, S, R> extends AnalysisCommon<N, R> {
  kind: 'forward';
  /** the models whose forward outputs it reads */
  reads(m: AnalysisModel): boolean;
  start(ctx: ForwardContext, s: S): Accumulator<R>;
}

export interface PassAnalysis<N extends string, S, R> extends AnalysisCommon<N, R> {
  kind: 'pass';
  run(ctx: PassContext, s: S): Promise<R>;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds analyses of different settings and results
export type AnyAnalysis = ForwardAnalysis<string, any, any> | PassAnalysis<string, any, any>;
