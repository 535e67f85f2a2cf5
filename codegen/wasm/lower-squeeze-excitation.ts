/**
 * SqueezeExcitationGate (ir/ops/squeeze-excitation.ts) as one step: hidden = act(W1·P + B1) into a
 * scratch vector, then Y = gate_act(W2·hidden + B2), per batch item. With constant weights each
 * layer is a SIMD vector × matrix product over weights packed at compile time in blocks of 4
 * outputs ([block][input][4 lanes], conv.ts packConvWeights), four independent accumulators per
 * block so that the multiply-add latency does not bound it: EfficientNet-B0's gates (up to
 * 1152 × 48) ran through the generic scalar f64 kernel 1.8% slower, over the whole model, than the
 * two 1×1 convs they replace. Run-time weights take the generic kernel (f64 accumulation).
 */
import binaryen from 'binaryen';
import { sizeOf } from '../../ir/types.js';
import { activationProblem } from './activation.js';
import { FnBuilder, Ops, i32, none, v128 } from './builder.js';
import { packConvWeights, storeEpilogue, type Epilogue } from './conv.js';
import { emitGenericMatMul } from './kernels-generic.js';
import type { OpLowering } from './storage.js';

const act = (a: Record<string, unknown>, prefix = ''): Epilogue => ({
  act: String(a[prefix ? `${prefix}_activation` : 'activation'] ?? ''),
  alpha: Number(a[prefix ? `${prefix}_alpha` : 'act_alpha'] ?? 0),
  beta: Number(a[prefix ? `${prefix}_beta` : 'act_beta'] ?? 0),
});

/**
 * `name(x, y)`: y[o] = ep(B[o] + Σ_k W[o, k] · x[k]) for o < O, x and y byte addresses. `Wt`, `B`:
 * the packed weights and bias (packConvWeights with V = 1: K inputs per block of 4 outputs).
 */
function emitVecMat(m: binaryen.Module, name: string, K: number, O: number, Wt: number, B: number, ep: Epilogue): void {
  const fb = new FnBuilder(m, 2), o = new Ops(m);
  const blk = fb.local(i32), i = fb.local(i32), xp = fb.local(i32), w = fb.local(i32), tmp = fb.local(v128), tmp2 = fb.local(v128);
  const acc = [0, 1, 2, 3].map(() => fb.local(v128));
  const K4 = K - (K % 4), full = Math.floor(O / 4);
  /** One block of 4 outputs: its weights at w, its bias and output at block index `b`. */
  const block = (b: binaryen.ExpressionRef, lanes: number) => [
    fb.set(xp, fb.geti(0)),
    fb.set(acc[0], o.vload(m.i32.shl(b, o.c(4)), B)),
    ...acc.slice(1).map((a) => fb.set(a, o.splat(0))),
    ...(K4 > 0 ? [fb.loop(i, o.c(0), K4, 4, [
      ...acc.map((a, u) => fb.set(a, o.fmadd(fb.getv(a), o.sload(fb.geti(xp), u * 4), o.vload(fb.geti(w), u * 16)))),
      fb.set(xp, o.addc(fb.geti(xp), 16)),
      fb.set(w, o.addc(fb.geti(w), 64)),
    ])] : []),
    ...Array.from({ length: K % 4 }, (_, t) => fb.set(acc[t], o.fmadd(fb.getv(acc[t]), o.sload(fb.geti(xp), t * 4), o.vload(fb.geti(w), t * 16)))),
    ...(K % 4 ? [fb.set(w, o.addc(fb.geti(w), (K % 4) * 16))] : []),
    ...storeEpilogue(fb, ep, m.f32x4.add(m.f32x4.add(fb.getv(acc[0]), fb.getv(acc[1])), m.f32x4.add(fb.getv(acc[2]), fb.getv(acc[3]))),
      m.i32.add(fb.geti(1), m.i32.shl(b, o.c(4))), undefined, lanes, tmp, tmp2),
  ];
  const body = [fb.set(w, o.c(Wt))];
  // w runs on from block to block: each block's K weight vectors follow the last one's
  if (full > 0) body.push(fb.loop(blk, o.c(0), full, 1, block(fb.geti(blk), 4)));
  if (O % 4) body.push(...block(o.c(full), O % 4));
  m.addFunction(name, binaryen.createType([i32, i32]), none, fb.vars, m.block(null, body));
}

export const SE_GATE_LOWERING: OpLowering = {
  check(n) {
    const h = act(n.attrs), g = act(n.attrs, 'gate');
    return activationProblem(h.act, h.alpha, h.beta) ?? activationProblem(g.act, g.alpha, g.beta);
  },
  lower(s, n) {
    const [pv, w1v, b1v, w2v, b2v] = n.inputs;
    const ps = s.shape(pv), N = ps[0], C = sizeOf(ps.slice(1)), Cr = s.shape(w1v)[0];
    const p = s.plain(n, pv);
    const y = s.dense(N * C, 'plain', 0);
    s.define(n.outputs[0], y);
    const mid = s.dense(Math.max(1, N * Cr), 'plain', 0);
    const flops = 4 * N * C * Cr;
    const f32 = (v: string) => { const t = s.g.constValue(v); return t?.dtype === 'f32' ? t.data as Float32Array : undefined; };
    const [w1c, b1c, w2c, b2c] = [w1v, b1v, w2v, b2v].map(f32);
    if (w1c && b1c && w2c && b2c) {
      const k1 = packConvWeights(w1c, b1c, Cr, C, 1, 1, 1), k2 = packConvWeights(w2c, b2c, C, Cr, 1, 1, 1);
      const W1 = s.weight(k1.weights), B1 = s.weight(k1.bias), W2 = s.weight(k2.weights), B2 = s.weight(k2.bias);
      s.step(n, 'se_gate', '', flops, (m, a, fn) => {
        emitVecMat(m, `${fn}_fc1`, C, Cr, W1, B1, act(n.attrs));
        emitVecMat(m, `${fn}_fc2`, Cr, C, W2, B2, act(n.attrs, 'gate'));
        const calls = Array.from({ length: N }, (_, i) => [
          m.call(`${fn}_fc1`, [m.i32.const(a(p) + i * C * 4), m.i32.const(a(mid) + i * Cr * 4)], none),
          m.call(`${fn}_fc2`, [m.i32.const(a(mid) + i * Cr * 4), m.i32.const(a(y) + i * C * 4)], none),
        ]).flat();
        m.addFunction(fn, none, none, [], m.block(null, calls));
      }, [p, mid], [mid, y]);
      return;
    }
    const w1 = s.plain(n, w1v), b1 = s.plain(n, b1v), w2 = s.plain(n, w2v), b2 = s.plain(n, b2v);
    // row-major [rows, K] · [cols, K]ᵀ with a bias broadcast over rows
    const layer = (K: number, cols: number) => ({ batch: [], aBatch: [], bBatch: [], rows: N, cols, K, am: K, ak: 1, bk: 1, bn: K, scale: 1 });
    s.step(n, 'se_gate', 'generic', flops, (m, a, fn) => {
      emitGenericMatMul(m, { name: `${fn}_fc1`, A: a(p), B: a(w1), Y: a(mid), ...layer(C, Cr), C: { addr: a(b1), cm: 0, cn: 1, beta: 1 }, ...act(n.attrs) });
      emitGenericMatMul(m, { name: `${fn}_fc2`, A: a(mid), B: a(w2), Y: a(y), ...layer(Cr, C), C: { addr: a(b2), cm: 0, cn: 1, beta: 1 }, ...act(n.attrs, 'gate') });
      m.addFunction(fn, binaryen.none, binaryen.none, [], m.block(null, [m.call(`${fn}_fc1`, [], binaryen.none), m.call(`${fn}_fc2`, [], binaryen.none)]));
    }, [p, w1, b1, w2, b2, mid], [mid, y]);
  },
};
