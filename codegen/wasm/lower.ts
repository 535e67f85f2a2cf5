/**
 * Lowers a graph to steps of the wasm target: each node becomes one kernel function specialised
 * to its shapes, reading and writing fixed addresses of one linear memory (storage.ts).
 *
 * Which op lowers how is one table (LOWERINGS: op name → lowering, grouped by kind in
 * lower-*.ts); every op whose definition gives a scalar formula lowers as elementwise without
 * being named (as SIMD code over f32, through the typed scalar kernel for other dtypes). Generic
 * scalar kernels (lower-generic.ts, lower-reduce.ts, lower-index.ts) take what the specialised SIMD
 * lowerings refuse. The table is also what the target supports: `whyNot(node, graph)` gives the
 * reason a node cannot be lowered, and lowering refuses exactly those nodes, before any code.
 */
import { CnncError } from '../../runtime/errors.js';
import { Graph, type Node } from '../../ir/graph.js';
import type { OpDef } from '../../ir/op.js';
import { allOps, getOp, hasOp } from '../../ir/ops/index.js';
import { BYTES_PER_ELEMENT, sizeOf } from '../../ir/types.js';
import { CAST_DTYPES } from './kernels-typed.js';
import { emitCopy } from './kernels.js';
import { CONV_LOWERINGS } from './lower-conv.js';
import { CAST_LOWERING, ELEMENTWISE_LOWERING, FUSED_ELEMENTWISE_LOWERING } from './lower-elementwise.js';
import { MOVEMENT_LOWERINGS } from './lower-movement.js';
import { NORM_LOWERINGS } from './lower-norm.js';
import { POOL_LOWERINGS } from './lower-pool.js';
import { QUANT_LOWERINGS } from './lower-quant.js';
import { RESIZE_LOWERING } from './lower-resize.js';
import { SE_GATE_LOWERING } from './lower-squeeze-excitation.js';
import { GATHER, INDEX_GATHER, orIndexGather } from './lower-index.js';
import { GLOBAL_POOL_FALLBACK, REDUCE_LOWERINGS } from './lower-reduce.js';
import type { CanWriteSlice } from '../concat-plan.js';
import { GENERIC_CONV, GENERIC_FUSED_DWPW, GENERIC_MATMUL, GENERIC_POOL, withFallback } from './lower-generic.js';
import { sliceShapeFits, Storage, WEIGHTS_OFFSET, wordsOf, type Lowered, type OpLowering, type TileOptions } from './storage.js';

export type { Buf, Loc, Lowered, Step, TileOptions } from './storage.js';

/** The ops with their own kernels (elementwise ops come from their traits instead). */
const LOWERINGS: Readonly<Record<string, OpLowering>> = {
  ...CONV_LOWERINGS, ...POOL_LOWERINGS, ...MOVEMENT_LOWERINGS, ...NORM_LOWERINGS, ...REDUCE_LOWERINGS, ...QUANT_LOWERINGS,
  // the generic scalar kernels take what the SIMD ones refuse (any rank, batch, group, run-time weights)
  Conv: withFallback(CONV_LOWERINGS.Conv, GENERIC_CONV),
  ConvTranspose: withFallback(CONV_LOWERINGS.ConvTranspose, GENERIC_CONV),
  FusedDwPw: withFallback(CONV_LOWERINGS.FusedDwPw, GENERIC_FUSED_DWPW),
  Gemm: withFallback(CONV_LOWERINGS.Gemm, GENERIC_MATMUL),
  MatMul: withFallback(CONV_LOWERINGS.MatMul, GENERIC_MATMUL),
  Cast: CAST_LOWERING, CastLike: CAST_LOWERING,
  FusedElementwise: FUSED_ELEMENTWISE_LOWERING,
  Resize: RESIZE_LOWERING,
  SqueezeExcitationGate: SE_GATE_LOWERING,
  // data movement with compile-time indices, any dtype (and the Pad modes the f32 kernel lacks)
  Pad: orIndexGather(MOVEMENT_LOWERINGS.Pad), Transpose: orIndexGather(MOVEMENT_LOWERINGS.Transpose),
  Slice: orIndexGather(MOVEMENT_LOWERINGS.Slice), Tile: orIndexGather(MOVEMENT_LOWERINGS.Tile), Expand: orIndexGather(MOVEMENT_LOWERINGS.Expand),
  DepthToSpace: INDEX_GATHER, SpaceToDepth: INDEX_GATHER, Gather: GATHER,
  MaxPool: withFallback(POOL_LOWERINGS.MaxPool, GENERIC_POOL),
  AveragePool: withFallback(POOL_LOWERINGS.AveragePool, GENERIC_POOL),
  GlobalAveragePool: withFallback(POOL_LOWERINGS.GlobalAveragePool, GLOBAL_POOL_FALLBACK),
  GlobalMaxPool: withFallback(POOL_LOWERINGS.GlobalMaxPool, GLOBAL_POOL_FALLBACK),
};

/**
 * Producers that store a Concat part at its slice: the SIMD conv and pool kernels (spatialOut). The
 * generic fallbacks they hand batch > 1 pools and FusedDwPw, run-time weights and other ranks to
 * write a dense buffer, so a part they produce keeps its copy.
 */
const SLICE_WRITERS: Readonly<Record<string, OpLowering>> = {
  Conv: CONV_LOWERINGS.Conv, FusedDwPw: CONV_LOWERINGS.FusedDwPw, MaxPool: POOL_LOWERINGS.MaxPool, AveragePool: POOL_LOWERINGS.AveragePool,
};
export const wasmWritesSlice: CanWriteSlice = (p, v, axis, g) => {
  const fast = SLICE_WRITERS[p.op];
  return fast !== undefined && sliceShapeFits(p, v, axis, g) && fast.check?.(p, g) === undefined;
};

/**
 * Does the op give f32 outputs for f32 inputs (with its default attributes)? Logic ops and
 * comparisons do not (they lower through the typed kernel; tests pick the f32 goldens by this).
 */
export function hasF32Form(def: OpDef): boolean {
  try {
    const g = new Graph('probe');
    const ins = Array.from({ length: Math.max(1, def.inputs[0]) }, (_, i) => g.addInput(`x${i}`, { dtype: 'f32', shape: [4] }));
    return g.addNode(def.name, ins).every((o) => g.type(o).dtype === 'f32');
  } catch {
    return false;
  }
}

const elementwiseOps = new Map<string, boolean>();

/** The lowering of op `op`, or undefined when the wasm target has none. */
export function loweringOf(op: string): OpLowering | undefined {
  if (LOWERINGS[op]) return LOWERINGS[op];
  if (!hasOp(op)) return undefined;
  let ok = elementwiseOps.get(op);
  if (ok === undefined) {
    const def = getOp(op);
    // f32 ops render as SIMD; the others (comparisons, logic, integer arithmetic) through the typed kernel
    ok = def.traits.scalar !== undefined;
    elementwiseOps.set(op, ok);
  }
  return ok ? ELEMENTWISE_LOWERING : undefined;
}

/** Every registry op the wasm target lowers (in some modes). */
export function wasmOps(): ReadonlySet<string> {
  return new Set(allOps().map((d) => d.name).filter((op) => loweringOf(op)));
}

const f32Only = (g: Graph, v: string) => `handles f32 tensors only ('${v}' is ${g.type(v).dtype})`;

/**
 * Why the wasm target cannot lower `n` (a phrase after "the wasm target": "has no Pad mode
 * 'reflect'"), or undefined when it can. Decided from the node and the graph alone.
 */
export function whyNot(n: Node, g: Graph): string | undefined {
  const l = loweringOf(n.op);
  const bad = [...n.outputs, ...n.inputs].find((v) => v !== '' && g.type(v).dtype !== 'f32');
  if (!l) return `has no kernel for ${n.op}`;
  if (bad) {
    if (!l.typed) return f32Only(g, bad);
    const why = l.typed(n, g);
    if (why) return why;
  }
  return l.check?.(n, g);
}

/** UNSUPPORTED for the first node the wasm target refuses (naming how many more there are), before any kernel is made. */
function refuseUnsupported(g: Graph): void {
  const refused = g.nodes.map((n) => ({ n, why: whyNot(n, g) })).filter((r) => r.why);
  if (!refused.length) return;
  const { n, why } = refused[0];
  const more = refused.length > 1 ? ` (and ${refused.length - 1} more: ${refused.slice(1, 4).map((r) => `${r.n.name}: ${r.why}`).join('; ')})` : '';
  throw new CnncError('UNSUPPORTED', `the wasm target ${why}${more}`, { node: n.name, op: n.op });
}

/** Copies graph outputs that live in weights, graph inputs or a concat slice into their own buffer. */
function lowerOutputs(s: Storage, g: Graph): Lowered['outputs'] {
  return g.outputs.map((name) => {
    const fake: Node = { name: `output ${name}`, op: 'Output', inputs: [name], outputs: [], attrs: {} };
    let l = s.plain(fake, name);
    const t = g.type(name);
    if (l.buf.id < 0 || g.inputs.includes(name) || l.off !== 0 && l.ps !== 0) {
      const out = s.dense(wordsOf(sizeOf(t.shape), t.dtype), 'plain', 0);
      const src = l, bytes = sizeOf(t.shape) * BYTES_PER_ELEMENT[t.dtype];
      s.step(fake, 'output_copy', 'copy', 0, (m, a, fn) => emitCopy(m, fn, a(src), a(out), 1, bytes, 0, 0), [src], [out]);
      l = out;
    }
    l.buf.end = Infinity;
    return { name, loc: l };
  });
}

export function lower(g: Graph, tile?: TileOptions): Lowered {
  for (const n of g.nodes) getOp(n.op, n.name);
  refuseUnsupported(g);
  const s = new Storage(g, tile);
  const inputs = g.inputs.map((name) => {
    const t = g.type(name);
    if (!CAST_DTYPES.has(t.dtype)) throw new CnncError('UNSUPPORTED', `the wasm target has no ${t.dtype} inputs ('${name}')`, { value: name });
    const l = s.dense(wordsOf(sizeOf(t.shape), t.dtype), 'plain', 0);
    l.buf.start = -1;
    s.define(name, l);
    return { name, loc: l };
  });
  s.planConcats(wasmWritesSlice);
  for (const n of g.nodes) loweringOf(n.op)!.lower(s, n);
  const outputs = lowerOutputs(s, g);
  return { steps: s.steps, bufs: s.bufs, weights: s.weights(), weightBytes: s.weightBytes, weightsOffset: WEIGHTS_OFFSET, inputs, outputs };
}
