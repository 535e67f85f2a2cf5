/**
 * The ONNX backend conformance runner: imports each test's model.onnx, runs the reference
 * interpreter on test_data_set_N/input_K.pb and compares with output_K.pb.
 *
 * Sources: Debian's libonnx-testdata (node/, pytorch-converted/, pytorch-operator/, ONNX 1.12)
 * and ../shared/onnx-node-tests (node tests from a 2026 onnx, opsets up to 25).
 *
 * Tolerances (|got - want| <= atol + rtol·|want|, NaN equals NaN):
 *   f32: rtol 1e-4, atol 1e-5   (onnx's own runner uses rtol 1e-3, atol 1e-7)
 *   f16: rtol 2e-3, atol 1e-3   (two f16 ulps: the reference rounds once from float64)
 *   f64: rtol 1e-7, atol 1e-12  (the reference computes in float64; numpy's order of operations may differ)
 *   integers, bool, bf16, the 8-bit and 4-bit floats: exact (compared as decoded values, NaN
 *   equals NaN whatever its code; the in-scope tests make them only by Cast, which is exact).
 *
 * A test ends in one of three states: pass; skip, when it needs what the IR deliberately does
 * not have (STRING or complex values, a sequence/optional value, or an op
 * outside the foundation and quantization op lists); fail otherwise. Expected failures are listed, with a reason
 * each, in expected-failures.tsv.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CnncError } from '../../runtime/errors.js';
import { toF64, type DType, type Tensor } from '../../runtime/tensor.js';
import { decodeModel, importOnnx, readTensorProto } from '../../frontends/onnx/import.js';
import { NOT_IR_DTYPE } from '../../frontends/onnx/proto.js';
import { interpret } from '../../ir/interpreter.js';
import { verify } from '../../ir/verify.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = path.resolve(REPO_ROOT, '../shared');
const LIBONNX = '/usr/share/libonnx-testdata/data';

export const TOLERANCE = {
  f32: { rtol: 1e-4, atol: 1e-5 },
  f16: { rtol: 2e-3, atol: 1e-3 },
  f64: { rtol: 1e-7, atol: 1e-12 },
} as const;
const EXACT = { rtol: 0, atol: 0 };

/** The foundation op list (issue 10): node tests of these ops are in scope. */
export const FOUNDATION_OPS = [
  'Conv', 'ConvTranspose', 'BatchNormalization', 'Relu', 'LeakyRelu', 'PRelu', 'Clip', 'Sigmoid', 'HardSigmoid',
  'HardSwish', 'Tanh', 'Erf', 'Gelu', 'Softmax', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool',
  'LRN', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sqrt', 'Concat', 'Split', 'Slice', 'Reshape',
  'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze', 'Pad', 'Resize', 'ReduceMean', 'LayerNormalization', 'Cast', 'Identity',
] as const;

/** The quantization ops (issue 17, ir/ops/quant.ts): their node tests are in scope too. */
export const QUANT_OPS = [
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'QLinearConv', 'QLinearMatMul', 'ConvInteger', 'MatMulInteger',
] as const;
const IN_SCOPE_OPS: readonly string[] = [...FOUNDATION_OPS, ...QUANT_OPS];

/** Node-test name prefixes (after `test_`) of the in-scope ops; the longest match wins. */
const PREFIX_TO_OP: Record<string, string> = {
  conv: 'Conv', basic_conv: 'Conv', convtranspose: 'ConvTranspose', batchnorm: 'BatchNormalization', relu: 'Relu',
  leakyrelu: 'LeakyRelu', prelu: 'PRelu', clip: 'Clip', sigmoid: 'Sigmoid', hardsigmoid: 'HardSigmoid',
  hardswish: 'HardSwish', tanh: 'Tanh', erf: 'Erf', gelu: 'Gelu', softmax: 'Softmax', maxpool: 'MaxPool',
  averagepool: 'AveragePool', globalaveragepool: 'GlobalAveragePool', globalmaxpool: 'GlobalMaxPool', lrn: 'LRN',
  gemm: 'Gemm', matmul: 'MatMul', add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', pow: 'Pow', sqrt: 'Sqrt',
  concat: 'Concat', split: 'Split', slice: 'Slice', reshape: 'Reshape', flatten: 'Flatten', transpose: 'Transpose',
  squeeze: 'Squeeze', unsqueeze: 'Unsqueeze', pad: 'Pad', constant_pad: 'Pad', edge_pad: 'Pad', reflect_pad: 'Pad',
  wrap_pad: 'Pad', resize: 'Resize', reduce_mean: 'ReduceMean', layer_normalization: 'LayerNormalization',
  cast: 'Cast', identity: 'Identity',
  quantizelinear: 'QuantizeLinear', dequantizelinear: 'DequantizeLinear', dynamicquantizelinear: 'DynamicQuantizeLinear',
  qlinearconv: 'QLinearConv', qlinearmatmul: 'QLinearMatMul', convinteger: 'ConvInteger', basic_convinteger: 'ConvInteger',
  matmulinteger: 'MatMulInteger',
};
/** Other operators whose test names start like a foundation op's. */
const NOT_THE_OP = ['test_softmax_cross_entropy', 'test_split_to_sequence'];

export type Source = 'node' | 'onnx-node-tests' | 'pytorch-converted' | 'pytorch-operator';

export interface ConformanceTest {
  /** `source/test_name`: the key in expected-failures.tsv. */
  readonly id: string;
  readonly source: Source;
  readonly name: string;
  readonly dir: string;
  /** The foundation op it tests ('' for pytorch module tests and out-of-scope node tests). */
  readonly op: string;
  /** Part of the required set: foundation-op node tests, 2-D pytorch tests. */
  readonly inScope: boolean;
}

export interface Result {
  readonly test: ConformanceTest;
  readonly status: 'pass' | 'fail' | 'skip';
  readonly reason: string;
}

/** The foundation op a node test exercises, or '' when none. */
export function opOfNodeTest(name: string): string {
  if (NOT_THE_OP.some((p) => name === p || name.startsWith(p + '_'))) return '';
  let best = '';
  for (const prefix of Object.keys(PREFIX_TO_OP)) {
    const full = `test_${prefix}`;
    if ((name === full || name.startsWith(full + '_')) && prefix.length > best.length) best = prefix;
  }
  return best ? PREFIX_TO_OP[best] : '';
}

function listDirs(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, 'model.onnx'))).sort();
}

/** Every test of every source; `inScope` marks the required set. */
export function discover(): ConformanceTest[] {
  const tests: ConformanceTest[] = [];
  const add = (source: Source, root: string, scope: (name: string, op: string) => boolean) => {
    for (const name of listDirs(root)) {
      const op = source === 'node' || source === 'onnx-node-tests' ? opOfNodeTest(name) : '';
      tests.push({ id: `${source}/${name}`, source, name, dir: path.join(root, name), op, inScope: scope(name, op) });
    }
  };
  add('node', path.join(LIBONNX, 'node'), (_n, op) => op !== '');
  add('onnx-node-tests', path.join(SHARED, 'onnx-node-tests'), (_n, op) => op !== '');
  // "2-D" module tests: the 1-D and 3-D variants (Conv1d, MaxPool3d...) are outside the scope.
  add('pytorch-converted', path.join(LIBONNX, 'pytorch-converted'), (n) => !/[13]d/i.test(n.replace(/^test_/, '').replace(/dim3/, '')));
  add('pytorch-operator', path.join(LIBONNX, 'pytorch-operator'), () => true);
  return tests;
}

/** Why a CnncError means "outside what the IR deliberately covers" (skip), or undefined (a failure). */
function skipReason(e: CnncError): string | undefined {
  if (e.code === 'UNSUPPORTED' && e.message.includes(NOT_IR_DTYPE)) return e.message.replace(/^UNSUPPORTED: /, '');
  if (e.code === 'UNSUPPORTED' && e.message.includes('is not a tensor')) return 'sequence/optional values are not tensors';
  if (e.code === 'UNKNOWN_OP') {
    const ops = [...e.message.matchAll(/(?:: |; )([\w:]+) \(opset/g)].map((m) => m[1]);
    if (ops.length && ops.every((o) => !IN_SCOPE_OPS.includes(o))) {
      return `uses ops outside the foundation and quantization lists: ${ops.join(', ')}`;
    }
  }
  return undefined;
}

function readPb(file: string): Tensor {
  return readTensorProto(fs.readFileSync(file));
}

/** The first mismatch between two tensors, or '' when they agree within the dtype's tolerance. */
export function compare(got: Tensor, want: Tensor): string {
  if (got.dtype !== want.dtype) return `dtype ${got.dtype}, expected ${want.dtype}`;
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
    return `shape [${got.shape}], expected [${want.shape}]`;
  }
  const g = toF64(got);
  const w = toF64(want);
  const tol = (TOLERANCE as Partial<Record<DType, { rtol: number; atol: number }>>)[got.dtype] ?? EXACT;
  for (let i = 0; i < w.length; i++) {
    const a = g[i], b = w[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (a === b) continue;
    if (!(Math.abs(a - b) <= tol.atol + tol.rtol * Math.abs(b))) return `element ${i}: got ${a}, expected ${b}`;
  }
  return '';
}

/** The inputs (by graph input name, in graph.input order) and expected outputs of one data set. */
export function readDataSet(dir: string, inputNames: readonly string[]): { given: Record<string, Tensor>; outputs: Tensor[] } {
  const files = fs.readdirSync(dir);
  const count = (p: string) => files.filter((f) => f.startsWith(p) && f.endsWith('.pb')).length;
  const given: Record<string, Tensor> = {};
  for (let k = 0; k < count('input_'); k++) given[inputNames[k]] = readPb(path.join(dir, `input_${k}.pb`));
  const outputs = Array.from({ length: count('output_') }, (_, k) => readPb(path.join(dir, `output_${k}.pb`)));
  return { given, outputs };
}

/** ONNX 1.12 wrote bfloat16 test data as UINT16 tensors of the bits: read them as bf16 where bf16 is wanted. */
function asBf16(t: Tensor, want: DType): Tensor {
  return t && t.dtype === 'u16' && want === 'bf16' ? { ...t, dtype: 'bf16' } : t;
}

/** Runs one test over all its data sets. */
export function runTest(test: ConformanceTest): Result {
  try {
    const bytes = fs.readFileSync(path.join(test.dir, 'model.onnx'));
    const graph = decodeModel(bytes).graph;
    const inputNames = (graph?.input ?? []).map((v) => v.name ?? '');
    if ([...(graph?.input ?? []), ...(graph?.output ?? [])].some((v) => !v.type?.tensorType)) {
      return { test, status: 'skip', reason: 'sequence/optional values are not tensors' };
    }
    const sets = fs.readdirSync(test.dir).filter((d) => d.startsWith('test_data_set_')).sort();
    if (sets.length === 0) return { test, status: 'skip', reason: 'no test data set' };
    for (const set of sets) {
      const { given, outputs } = readDataSet(path.join(test.dir, set), inputNames);
      const g = importOnnx(bytes, { modelDir: test.dir, inputValues: given });
      verify(g);
      const feed: Record<string, Tensor> = {};
      for (const name of g.inputs) feed[name] = asBf16(given[name], g.type(name).dtype);
      const outs = interpret(g, feed);
      for (const [k, want] of outputs.entries()) {
        const name = g.outputs[k];
        if (name === undefined) return { test, status: 'fail', reason: `${set}: output ${k} missing` };
        const diff = compare(outs[name], asBf16(want, outs[name].dtype));
        if (diff) return { test, status: 'fail', reason: `${set} output ${k}: ${diff}` };
      }
    }
    return { test, status: 'pass', reason: '' };
  } catch (e) {
    if (e instanceof CnncError) {
      const skip = skipReason(e);
      if (skip) return { test, status: 'skip', reason: skip };
      return { test, status: 'fail', reason: e.message };
    }
    return { test, status: 'fail', reason: `untyped ${(e as Error)?.name}: ${(e as Error)?.message}` };
  }
}

/** expected-failures.tsv: `source/test_name<TAB>reason` lines; '#' starts a comment. */
export function readExpectedFailures(): Map<string, string> {
  const file = path.join(REPO_ROOT, 'test/conformance/expected-failures.tsv');
  const m = new Map<string, string>();
  if (!fs.existsSync(file)) return m;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [id, reason = ''] = line.split('\t');
    m.set(id.trim(), reason.trim());
  }
  return m;
}
