/**
 * FusedElementwise: a connected group of elementwise ops as one node (passes/fuse-elementwise.ts
 * forms them). Its formula is a list of steps, each a scalar expression (ir/scalar.ts, as text in
 * `body`) over the node's inputs x0…x(n−1) and the earlier steps x(n)…x(n+j−1) — a DAG, so a value
 * read twice is computed once. `results` names the steps that are outputs (the last one, plus every
 * intermediate something outside the group reads); `ops` records the op of each step, for reports.
 * Inputs broadcast (numpy) onto the output shape;
 * every output has that shape.
 *
 * The reference evaluates each step in float64 and rounds it to the dtype, as the unfused ops
 * store each of their outputs, so the node computes exactly what the group computed.
 */
import { CnncError } from '../../runtime/errors.js';
import { fromF64, toF64, type Tensor } from '../../runtime/tensor.js';
import { attrInts, fail, input, type Attrs, type NodeInfo, type OpDef } from '../op.js';
import { arg, arity, c, functionsOf, parseScalar, scalarFn, type Scalar } from '../scalar.js';
import { isArithFloat, sizeOf, type TensorType } from '../types.js';
import { broadcastIndex, broadcastInputs } from './broadcast.js';

/** A parsed FusedElementwise formula: the steps and which of them are outputs. */
export interface FusedFormula {
  readonly steps: readonly Scalar[];
  readonly results: readonly number[];
}

const parsed = new Map<string, Scalar>();

/** The steps and results of a FusedElementwise node's attributes (BAD_ATTRIBUTE naming the node when malformed). */
export function fusedFormula(attrs: Attrs, inputs: number, node?: NodeInfo): FusedFormula {
  const bad = (msg: string): never => {
    throw new CnncError('BAD_ATTRIBUTE', msg, { node: node?.name, op: 'FusedElementwise' });
  };
  const body = attrs.body;
  if (!Array.isArray(body) || body.length === 0 || body.some((s) => typeof s !== 'string')) bad(`attribute 'body' must be a non-empty list of formulas`);
  const steps = (body as string[]).map((text) => {
    let e = parsed.get(text);
    if (!e) { e = parseScalar(text); parsed.set(text, e); }
    return e;
  });
  steps.forEach((e, j) => {
    if (arity(e) > inputs + j) bad(`step ${j} reads x${arity(e) - 1}, but only x0…x${inputs + j - 1} exist before it`);
  });
  const results = attrInts(attrs, 'results', node);
  if (!results.length || results.some((r) => !Number.isInteger(r) || r < 0 || r >= steps.length)) {
    bad(`attribute 'results' [${results}] must name steps 0…${steps.length - 1}`);
  }
  return { steps, results };
}

/**
 * What a kernel substitutes for x0, x1, … in the steps when some inputs are literals (`literal[k]`
 * defined): the other inputs renumbered 0…, then the steps after them.
 */
export function fusedArgs(literal: readonly (number | undefined)[], steps: number): Scalar[] {
  let j = 0;
  const ins = literal.map((v) => (v === undefined ? arg(j++) : c(v)));
  return [...ins, ...Array.from({ length: steps }, (_, q) => arg(j + q))];
}

/** The steps as `t2 = add(x0, x1)` lines (inputs x0…, steps t0…), for reports and errors. */
export function formatFused(attrs: Attrs, inputs: number): string {
  const { steps, results } = fusedFormula(attrs, inputs);
  const body = attrs.body as string[];
  const rename = (s: string) => s.replace(/\bx(\d+)\b/g, (_, d: string) => (Number(d) < inputs ? `x${d}` : `t${Number(d) - inputs}`));
  return steps.map((_, j) => `t${j} = ${rename(body[j])}${results.includes(j) ? ` → y${results.indexOf(j)}` : ''}`).join('; ');
}

export const FUSED_ELEMENTWISE_OPS: OpDef[] = [{
  name: 'FusedElementwise',
  doc: 'a group of elementwise ops as one kernel: steps of scalar formulas over the inputs (broadcast) and earlier steps',
  inputs: [1, 4096],
  attrs: { body: null, results: null, ops: [] },
  traits: { category: 'elementwise', elementwise: true },
  infer(node): TensorType[] {
    const xs = node.inputs.map((_, i) => input(node, i));
    for (const x of xs) {
      if (!isArithFloat(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `expects float inputs, got ${x.type.dtype}`, x.name);
      if (x.type.dtype !== xs[0].type.dtype) fail(node, 'DTYPE_MISMATCH', `dtype ${x.type.dtype} differs from ${xs[0].type.dtype} of '${xs[0].name}'`, x.name);
    }
    const shape = broadcastInputs(node, xs);
    const { results } = fusedFormula(node.attrs, xs.length, node);
    return results.map(() => ({ dtype: xs[0].type.dtype, shape: [...shape] }));
  },
  reference(inputs, attrs, outs) {
    const xs = inputs as Tensor[];
    const shape = outs[0].shape, n = sizeOf(shape), dtype = outs[0].dtype;
    const { steps, results } = fusedFormula(attrs, xs.length);
    const cols: Float64Array[] = xs.map((x) => {
      const v = toF64(x), idx = broadcastIndex(x.shape, shape);
      return Float64Array.from(idx, (k) => v[k]);
    });
    for (const e of steps) {
      const f = scalarFn(e), used = argsOf(e), vals = new Array<number>(cols.length).fill(0);
      const y = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        for (const a of used) vals[a] = cols[a][k];
        y[k] = f(vals);
      }
      cols.push(dtype === 'f32' ? y.map(Math.fround) : toF64(fromF64(dtype, shape, y)));
    }
    return results.map((r) => fromF64(dtype, shape, cols[xs.length + r]));
  },
  cost(node, outs) {
    const { steps } = fusedFormula(node.attrs, node.inputs.length, node);
    const fns = steps.reduce((s, e) => s + Math.max(1, functionsOf(e).size), 0);
    return { flops: sizeOf(outs[0].shape) * fns };
  },
}];

/** The argument indices an expression reads. */
function argsOf(e: Scalar, into = new Set<number>()): Set<number> {
  if (e.k === 'arg') into.add(e.i);
  if (e.k === 'un') argsOf(e.a, into);
  if (e.k === 'bin') { argsOf(e.a, into); argsOf(e.b, into); }
  if (e.k === 'select') { argsOf(e.c, into); argsOf(e.a, into); argsOf(e.b, into); }
  return into;
}
