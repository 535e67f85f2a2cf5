/**
 * SqueezeExcitationGate (ir/ops/squeeze-excitation.ts) as one step: the generic scalar matmul
 * kernel twice in one function, hidden = act(P·W1ᵀ + B1) into a scratch buffer, then
 * Y = gate_act(hidden·W2ᵀ + B2). A few thousand MACs per batch item: f64 accumulation like the
 * reference, no SIMD needed.
 */
import binaryen from 'binaryen';
import { sizeOf } from '../../ir/types.js';
import { activationProblem } from './activation.js';
import { emitGenericMatMul } from './kernels-generic.js';
import type { OpLowering } from './storage.js';

const act = (a: Record<string, unknown>, prefix = '') => ({
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
    const p = s.plain(n, pv), w1 = s.plain(n, w1v), b1 = s.plain(n, b1v), w2 = s.plain(n, w2v), b2 = s.plain(n, b2v);
    const y = s.dense(N * C, 'plain', 0);
    s.define(n.outputs[0], y);
    const mid = s.dense(Math.max(1, N * Cr), 'plain', 0);
    // row-major [rows, K] · [cols, K]ᵀ with a bias broadcast over rows
    const layer = (K: number, cols: number) => ({ batch: [], aBatch: [], bBatch: [], rows: N, cols, K, am: K, ak: 1, bk: 1, bn: K, scale: 1 });
    s.step(n, 'se_gate', 'generic', 4 * N * C * Cr, (m, a, fn) => {
      emitGenericMatMul(m, { name: `${fn}_fc1`, A: a(p), B: a(w1), Y: a(mid), ...layer(C, Cr), C: { addr: a(b1), cm: 0, cn: 1, beta: 1 }, ...act(n.attrs) });
      emitGenericMatMul(m, { name: `${fn}_fc2`, A: a(mid), B: a(w2), Y: a(y), ...layer(Cr, C), C: { addr: a(b2), cm: 0, cn: 1, beta: 1 }, ...act(n.attrs, 'gate') });
      m.addFunction(fn, binaryen.none, binaryen.none, [], m.block(null, [m.call(`${fn}_fc1`, [], binaryen.none), m.call(`${fn}_fc2`, [], binaryen.none)]));
    }, [p, w1, b1, w2, b2, mid], [mid, y]);
  },
};
