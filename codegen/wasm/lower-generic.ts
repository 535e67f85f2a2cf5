/**
 * Fallbacks to the generic scalar kernels (kernels-generic.ts) for the nodes the SIMD lowerings
 * refuse: Conv / ConvTranspose of any rank, batch and group, and Conv, ConvTranspose, Gemm and
 * MatMul whose weights (or Gemm's C) arrive at run time. `withFallback(fast, generic)` asks the
 * fast lowering first; the node is refused only when both refuse.
 */
import binaryen from 'binaryen';
import type { Graph, Node } from '../../ir/graph.js';
import { windowGeometry } from '../../ir/ops/geometry.js';
import { sizeOf } from '../../ir/types.js';
import { activationProblem } from './activation.js';
import { emitGenericConv, emitGenericMatMul, emitGenericPool, type Epilogue } from './kernels-generic.js';
import { stridesOf, type Loc, type OpLowering, type Storage } from './storage.js';

export function withFallback(fast: OpLowering, generic: OpLowering): OpLowering {
  const f32 = (n: Node, g: Graph) => [...n.inputs, ...n.outputs].every((v) => v === '' || g.type(v).dtype === 'f32');
  return {
    // other dtypes: the generic kernel alone
    typed: generic.typed,
    check(n, g) {
      const why = fast.check?.(n, g);
      if (why === undefined) return undefined;
      const also = generic.check?.(n, g);
      return also === undefined ? undefined : `${why}, and ${also}`;
    },
    lower: (s, n) => (f32(n, s.g) && fast.check?.(n, s.g) === undefined ? fast.lower(s, n) : generic.lower(s, n)),
  };
}

function epilogueCheck(n: Node): string | undefined {
  return activationProblem(String(n.attrs.activation ?? ''), Number(n.attrs.act_alpha ?? 0), Number(n.attrs.act_beta ?? 0));
}

/** The epilogue of node `n` with residual input `rv` (plain, same shape as the output). */
function epilogueOf(s: Storage, n: Node, rv: string | undefined): { ep: (a: (l: Loc) => number) => Epilogue; reads: Loc[] } {
  const r = rv ? s.plain(n, rv) : undefined;
  const act = String(n.attrs.activation ?? ''), alpha = Number(n.attrs.act_alpha ?? 0), beta = Number(n.attrs.act_beta ?? 0);
  const after = Number(n.attrs.residual_after_act ?? 0) === 1;
  return { ep: (a) => ({ R: r ? a(r) : undefined, act, alpha, beta, after }), reads: r ? [r] : [] };
}

/** An output of `count` floats: an empty constant when there are none (no kernel runs). */
function outputOf(s: Storage, n: Node, count: number): Loc | undefined {
  if (count > 0) { const y = s.dense(count, 'plain', 0); s.define(n.outputs[0], y); return y; }
  s.define(n.outputs[0], s.constLoc(new Float32Array(0)));
  return undefined;
}

export const GENERIC_CONV: OpLowering = {
  // a Conv's input scale (input 4) has no kernel here either: refused, never dropped
  check: (n) => (n.inputs[4] ? 'has no input scale (Conv input 4)' : epilogueCheck(n)),
  lower(s, n) {
    const [xv, wv, bv, rv] = n.inputs;
    const geo = windowGeometry(n.op, n.attrs, s.shape(xv), s.shape(wv), { node: n.name, op: n.op });
    const y = outputOf(s, n, sizeOf(s.shape(n.outputs[0])));
    if (!y) return;
    const x = s.plain(n, xv), w = s.plain(n, wv), b = bv ? s.plain(n, bv) : undefined;
    const { ep, reads } = epilogueOf(s, n, rv);
    const flops = 2 * sizeOf(s.shape(n.outputs[0])) * (geo.C / geo.group) * sizeOf(geo.kernel);
    s.step(n, `${n.op.toLowerCase()}_generic_${geo.inSize.length}d`, 'generic', flops, (m, a, fn) => emitGenericConv(m, {
      name: fn, X: a(x), W: a(w), Bias: b ? a(b) : undefined, Y: a(y),
      N: geo.N, C: geo.C, M: geo.M, group: geo.group, inSize: geo.inSize, outSize: geo.outSize, kernel: geo.kernel,
      strides: geo.strides, dilations: geo.dilations, padBegin: geo.padBegin,
      transpose: n.op === 'ConvTranspose', nhwc: String(n.attrs.layout ?? 'NCHW') === 'NHWC', ...ep(a),
    }), [x, w, ...(b ? [b] : []), ...reads], [y]);
  },
};

/** Right-aligned element strides of `shape` over `dims` (0 where the operand broadcasts). */
function bcastStrides(shape: readonly number[], dims: readonly number[]): number[] {
  const st = stridesOf(shape), off = dims.length - shape.length;
  return dims.map((_, i) => (i - off < 0 || shape[i - off] === 1 ? 0 : st[i - off]));
}

function matmulCheck(n: Node, g: Graph): string | undefined {
  if (n.op === 'Gemm') return epilogueCheck(n);
  return undefined;
}

export const GENERIC_MATMUL: OpLowering = {
  check: matmulCheck,
  lower(s, n) {
    const isGemm = n.op === 'Gemm';
    const [av, bv, cv, rv] = isGemm ? n.inputs : [n.inputs[0], n.inputs[1], undefined, n.inputs[2]];
    const as = s.shape(av), bs = s.shape(bv), out = s.shape(n.outputs[0]);
    const y = outputOf(s, n, sizeOf(out));
    if (!y) return;
    let spec: Omit<Parameters<typeof emitGenericMatMul>[1], 'name' | 'A' | 'B' | 'Y' | 'C' | keyof Epilogue>;
    let cSpec: { l: Loc; cm: number; cn: number; beta: number } | undefined;
    if (isGemm) {
      const tA = Number(n.attrs.transA) !== 0, tB = Number(n.attrs.transB) !== 0;
      const [rows, K] = tA ? [as[1], as[0]] : [as[0], as[1]], cols = tB ? bs[0] : bs[1];
      spec = { batch: [], aBatch: [], bBatch: [], rows, cols, K, am: tA ? 1 : as[1], ak: tA ? as[1] : 1, bk: tB ? 1 : bs[1], bn: tB ? bs[1] : 1, scale: Number(n.attrs.alpha ?? 1) };
      if (cv) {
        const [cm, cn] = bcastStrides(s.shape(cv), [rows, cols]);
        cSpec = { l: s.plain(n, cv), cm, cn, beta: Number(n.attrs.beta ?? 1) };
      }
    } else {
      // 1-D operands: A [K] is one row, B [K] one column; batch dims broadcast
      const a2 = as.length === 1 ? [1, as[0]] : as, b2 = bs.length === 1 ? [bs[0], 1] : bs;
      const rows = a2[a2.length - 2], K = a2[a2.length - 1], cols = b2[b2.length - 1];
      const batch = out.slice(0, Math.max(a2.length, b2.length) - 2);
      spec = {
        batch, aBatch: bcastStrides(a2.slice(0, -2), batch).map((x) => x * rows * K),
        bBatch: bcastStrides(b2.slice(0, -2), batch).map((x) => x * K * cols), rows, cols, K, am: K, ak: 1, bk: cols, bn: 1, scale: 1,
      };
    }
    const a = s.plain(n, av), b = s.plain(n, bv);
    const { ep, reads } = epilogueOf(s, n, rv);
    const flops = 2 * sizeOf(out) * spec.K;
    s.step(n, `${n.op.toLowerCase()}_generic`, 'generic', flops, (m, ad, fn) => emitGenericMatMul(m, {
      name: fn, A: ad(a), B: ad(b), Y: ad(y), ...spec,
      C: cSpec ? { addr: ad(cSpec.l), cm: cSpec.cm, cn: cSpec.cn, beta: cSpec.beta } : undefined, ...ep(ad),
    }), [a, b, ...(cSpec ? [cSpec.l] : []), ...reads], [y]);
  },
};

/** MaxPool over u8/i8 (the only non-f32 pooling the generic kernel computes: a max is exact). */
const bytePool = (n: Node, g: Graph): 'u8' | 'i8' | undefined => {
  const d = g.type(n.inputs[0]).dtype;
  return n.op === 'MaxPool' && (d === 'u8' || d === 'i8') && g.type(n.outputs[0]).dtype === d ? d : undefined;
};

export const GENERIC_POOL: OpLowering = {
  check: (n) => (n.outputs.length > 1 && n.outputs[1] !== '' ? 'has no MaxPool indices output' : undefined),
  typed: (n, g) => (bytePool(n, g) ? undefined : `handles pooling on f32 tensors, and MaxPool on u8/i8, only (${n.op} on ${g.type(n.inputs[0]).dtype})`),
  lower(s, n) {
    const xv = n.inputs[0];
    const geo = windowGeometry(n.op, n.attrs, s.shape(xv), undefined, { node: n.name, op: n.op });
    const y = outputOf(s, n, sizeOf(s.shape(n.outputs[0])));
    if (!y) return;
    const x = s.plain(n, xv);
    const kind = n.op === 'MaxPool' ? 'max' : 'avg';
    s.step(n, `${kind}pool_generic_${geo.inSize.length}d`, 'generic', sizeOf(s.shape(n.outputs[0])) * sizeOf(geo.kernel), (m, a, fn) => emitGenericPool(m, {
      name: fn, X: a(x), Y: a(y), N: geo.N, C: geo.C, nhwc: String(n.attrs.layout ?? 'NCHW') === 'NHWC',
      inSize: geo.inSize, outSize: geo.outSize, kernel: geo.kernel, strides: geo.strides, dilations: geo.dilations,
      padBegin: geo.padBegin, padEnd: geo.padEnd, kind, countPad: kind === 'avg' && Number(n.attrs.count_include_pad) === 1,
      dtype: bytePool(n, s.g) ?? 'f32',
    }), [x], [y]);
  },
};

/** FusedDwPw of any batch, rank or run-time weights: the depthwise conv (+ dw activation) into a buffer, then the 1×1 conv with the epilogue. */
export const GENERIC_FUSED_DWPW: OpLowering = {
  check: (n) => epilogueCheck(n) ?? activationProblem(String(n.attrs.dw_activation ?? ''), Number(n.attrs.dw_alpha ?? 0), Number(n.attrs.dw_beta ?? 0)),
  lower(s, n) {
    const [xv, wdv, bdv, wpv, bpv, rv] = n.inputs;
    const geo = windowGeometry(n.op, n.attrs, s.shape(xv), s.shape(wdv), { node: n.name, op: n.op });
    const nhwc = String(n.attrs.layout ?? 'NCHW') === 'NHWC';
    const M = s.shape(wpv)[0], out = s.shape(n.outputs[0]);
    const y = outputOf(s, n, sizeOf(out));
    if (!y) return;
    const x = s.plain(n, xv), wd = s.plain(n, wdv), wp = s.plain(n, wpv);
    const bd = bdv ? s.plain(n, bdv) : undefined, bp = bpv ? s.plain(n, bpv) : undefined;
    const mid = s.dense(geo.N * geo.C * sizeOf(geo.outSize), 'plain', 0);
    const { ep, reads } = epilogueOf(s, n, rv);
    const ones = geo.outSize.map(() => 1), zeros = geo.outSize.map(() => 0);
    const dwAct = { act: String(n.attrs.dw_activation ?? ''), alpha: Number(n.attrs.dw_alpha ?? 0), beta: Number(n.attrs.dw_beta ?? 0) };
    s.step(n, `dwpw_generic_${geo.inSize.length}d`, 'generic', 2 * sizeOf(out) * geo.C + 2 * geo.N * geo.C * sizeOf(geo.outSize) * sizeOf(geo.kernel), (m, a, fn) => {
      emitGenericConv(m, {
        name: `${fn}_dw`, X: a(x), W: a(wd), Bias: bd ? a(bd) : undefined, Y: a(mid), N: geo.N, C: geo.C, M: geo.C, group: geo.C,
        inSize: geo.inSize, outSize: geo.outSize, kernel: geo.kernel, strides: geo.strides, dilations: geo.dilations, padBegin: geo.padBegin,
        transpose: false, nhwc, ...dwAct,
      });
      emitGenericConv(m, {
        name: `${fn}_pw`, X: a(mid), W: a(wp), Bias: bp ? a(bp) : undefined, Y: a(y), N: geo.N, C: geo.C, M, group: 1,
        inSize: geo.outSize, outSize: geo.outSize, kernel: ones, strides: ones, dilations: ones, padBegin: zeros,
        transpose: false, nhwc, ...ep(a),
      });
      m.addFunction(fn, binaryen.none, binaryen.none, [], m.block(null, [m.call(`${fn}_dw`, [], binaryen.none), m.call(`${fn}_pw`, [], binaryen.none)]));
    }, [x, wd, wp, mid, ...(bd ? [bd] : []), ...(bp ? [bp] : []), ...reads], [mid, y]);
  },
};
