/**
 * Data-movement ops as an index gather (kernels-index.ts): the source element of every output
 * element comes from running the op's own reference on a tensor of element numbers (1-based, so
 * that 0 marks a fill: Pad's constant), which makes the wasm result the reference's by
 * construction. `orIndexGather(fast)` keeps a specialised f32 lowering where it applies.
 */
import type { Graph, Node } from '../../ir/graph.js';
import { getOp } from '../../ir/ops/index.js';
import { BYTES_PER_ELEMENT, sizeOf } from '../../ir/types.js';
import { fromF64, type Tensor } from '../../runtime/tensor.js';
import { emitIndexGather, emitRuntimeGather } from './kernels-index.js';
import { TYPED_DTYPES } from './kernels-typed.js';
import type { OpLowering, Storage } from './storage.js';

/** Largest output (elements) given a table: 4 bytes per element in the weights region. */
const MAX_TABLE = 1 << 24;

function indexProblem(n: Node, g: Graph): string | undefined {
  const x = n.inputs[0], d = g.type(x).dtype;
  if (!TYPED_DTYPES.has(d)) return `has no ${d} tensors ('${x}')`;
  if (n.outputs.length !== 1) return `has no ${n.op} with ${n.outputs.length} outputs`;
  const live = n.inputs.slice(1).find((v) => v && !g.constValue(v));
  if (live) return `needs '${live}' to be a constant`;
  if (sizeOf(g.type(n.outputs[0]).shape) > MAX_TABLE) return `has no ${n.op} of more than ${MAX_TABLE} elements`;
  return undefined;
}

/** Source element of each output element (−1: the fill), from the op's reference over element numbers. */
function sourceTable(n: Node, g: Graph): Int32Array {
  const x = g.type(n.inputs[0]);
  const numbers: Tensor = { dtype: 'f64', shape: [...x.shape], data: Float64Array.from({ length: sizeOf(x.shape) }, (_, i) => i + 1) };
  const ins = n.inputs.map((v, i) => (i === 0 ? numbers : v ? g.constValue(v) : undefined));
  const out = g.type(n.outputs[0]);
  const attrs = n.op === 'Pad' ? { ...n.attrs, value: 0 } : n.attrs;
  const [y] = getOp(n.op).reference(ins, attrs, [{ dtype: 'f64', shape: out.shape }]);
  return Int32Array.from(y.data as Float64Array, (v) => v - 1);
}

/** The fill element (Pad's constant value) in the value's dtype, as raw words. */
function fillWords(n: Node, g: Graph): Float32Array {
  const d = g.type(n.inputs[0]).dtype;
  const v = n.op === 'Pad' ? Number(n.attrs.value ?? 0) : 0;
  const one = fromF64(d, [1], [v]).data; // rounded or truncated as the reference stores it (f16 bits, i64 BigInt)
  const words = new Float32Array(2);
  new Uint8Array(words.buffer).set(new Uint8Array(one.buffer, one.byteOffset, one.byteLength));
  return words;
}

function lowerIndexGather(s: Storage, n: Node): void {
  const outV = n.outputs[0], d = s.g.type(outV).dtype, count = sizeOf(s.shape(outV)), bytes = BYTES_PER_ELEMENT[d];
  const y = s.dense(Math.ceil((count * bytes) / 4), 'plain', 0);
  s.define(outV, y);
  if (count === 0) return;
  const x = s.plain(n, n.inputs[0]);
  const table = sourceTable(n, s.g);
  const T = s.constLoc(new Float32Array(table.buffer)), F = s.constLoc(fillWords(n, s.g));
  s.step(n, `${n.op.toLowerCase()}_gather`, 'index gather', 0, (m, a, fn) => emitIndexGather(m, {
    name: fn, X: a(x), Y: a(y), T: a(T), F: a(F), count, bytes,
  }), [x], [y]);
}

export const INDEX_GATHER: OpLowering = { typed: indexProblem, check: indexProblem, lower: lowerIndexGather };

const allF32 = (n: Node, g: Graph) => [...n.inputs.slice(0, 1), ...n.outputs].every((v) => !v || g.type(v).dtype === 'f32');

/** `fast` for the f32 nodes it takes, the index gather for the rest (other dtypes, modes it refuses). */
export function orIndexGather(fast: OpLowering): OpLowering {
  const useFast = (n: Node, g: Graph) => allF32(n, g) && fast.check?.(n, g) === undefined;
  return {
    typed: indexProblem,
    check(n, g) {
      if (useFast(n, g)) return undefined;
      const why = indexProblem(n, g);
      return why === undefined ? undefined : allF32(n, g) ? `${fast.check?.(n, g)}, and ${why}` : why;
    },
    lower: (s, n) => (useFast(n, s.g) ? fast.lower(s, n) : lowerIndexGather(s, n)),
  };
}

/** Gather: a table when the indices are constants, else indices read at run time (kernels-index.ts). */
export const GATHER: OpLowering = {
  typed: (n, g) => (TYPED_DTYPES.has(g.type(n.inputs[0]).dtype) ? undefined : `has no ${g.type(n.inputs[0]).dtype} tensors ('${n.inputs[0]}')`),
  check: (n, g) => (g.constValue(n.inputs[1]) ? indexProblem(n, g) : undefined),
  lower(s, n) {
    if (s.g.constValue(n.inputs[1])) { lowerIndexGather(s, n); return; }
    const [xv, iv] = n.inputs, sh = s.shape(xv), outV = n.outputs[0];
    const axis = (Number(n.attrs.axis ?? 0) + sh.length) % sh.length;
    const d = s.g.type(outV).dtype, bytes = BYTES_PER_ELEMENT[d], count = sizeOf(s.shape(outV));
    const y = s.dense(Math.ceil((count * bytes) / 4), 'plain', 0);
    s.define(outV, y);
    if (count === 0) return;
    const x = s.plain(n, xv), ix = s.plain(n, iv);
    s.step(n, 'gather_runtime', 'run-time indices', 0, (m, a, fn) => emitRuntimeGather(m, {
      name: fn, X: a(x), I: a(ix), Y: a(y), outer: sizeOf(sh.slice(0, axis)), axisLen: sh[axis], count: sizeOf(s.shape(iv)),
      inner: sizeOf(sh.slice(axis + 1)), bytes, indexBytes: BYTES_PER_ELEMENT[s.g.type(iv).dtype],
    }), [x, ix], [y]);
  },
};
