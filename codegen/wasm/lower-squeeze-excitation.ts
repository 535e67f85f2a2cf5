/**
 * SqueezeExcitationGate (ir/ops/squeeze-excitation.ts) as one step: hidden = act(W1·P + B1) into a
 * scratch vector, then Y = gate_act(W2·hidden + B2), per batch item. With constant weights each
 * layer is a SIMD vector × matrix product (vecmat.ts): EfficientNet-B0's gates (up to 1152 × 48)
 * ran through the generic scalar f64 kernel 1.8% slower, over the whole model, than the two 1×1
 * convs they replace. Run-time weights take the generic kernel (f64 accumulation).
 */
import { sizeOf } from '../../ir/types.js';
import { activationProblem } from './activation.js';
import { none } from './builder.js';
import { addRowDriver, packConvWeights, type Epilogue } from './conv.js';
import { emitVecMatRows } from './vecmat.js';
import { emitGenericMatMul } from './kernels-generic.js';
import type { OpLowering } from './storage.js';

const act = (a: Record<string, unknown>, prefix = ''): Epilogue => ({
  act: String(a[prefix ? `${prefix}_activation` : 'activation'] ?? ''),
  alpha: Number(a[prefix ? `${prefix}_alpha` : 'act_alpha'] ?? 0),
  beta: Number(a[prefix ? `${prefix}_beta` : 'act_beta'] ?? 0),
});

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
        const layers = Array.from({ length: N }, (_, i) => [
          { name: `${fn}_fc1_n${i}`, K: C, O: Cr, Wt: W1, B: B1, X: a(p) + i * C * 4, Y: a(mid) + i * Cr * 4, ...act(n.attrs) },
          { name: `${fn}_fc2_n${i}`, K: Cr, O: C, Wt: W2, B: B2, X: a(mid) + i * Cr * 4, Y: a(y) + i * C * 4, ...act(n.attrs, 'gate') },
        ]).flat();
        for (const l of layers) addRowDriver(m, l.name, emitVecMatRows(m, l.name, l), false);
        m.addFunction(fn, none, none, [], m.block(null, layers.map((l) => m.call(l.name, [], none))));
      }, [p, mid], [mid, y]);
      return;
    }
    const w1 = s.plain(n, w1v), b1 = s.plain(n, b1v), w2 = s.plain(n, w2v), b2 = s.plain(n, b2v);
    // row-major [rows, K] · [cols, K]ᵀ with a bias broadcast over rows
    const layer = (K: number, cols: number) => ({ batch: [], aBatch: [], bBatch: [], rows: N, cols, K, am: K, ak: 1, bk: 1, bn: K, scale: 1 });
    s.step(n, 'se_gate', 'generic', flops, (m, a, fn) => {
      emitGenericMatMul(m, { name: `${fn}_fc1`, A: a(p), B: a(w1), Y: a(mid), ...layer(C, Cr), C: { addr: a(b1), cm: 0, cn: 1, beta: 1 }, ...act(n.attrs) });
      emitGenericMatMul(m, { name: `${fn}_fc2`, A: a(mid), B: a(w2), Y: a(y), ...layer(Cr, C), C: { addr: a(b2), cm: 0, cn: 1, beta: 1 }, ...act(n.attrs, 'gate') });
      m.addFunction(fn, none, none, [], m.block(null, [m.call(`${fn}_fc1`, [], none), m.call(`${fn}_fc2`, [], none)]));
    }, [p, w1, b1, w2, b2, mid], [mid, y]);
  },
};
