/** Small squeeze-and-excitation blocks for the SE fusion tests (passes and every target). */
import { Graph } from '../ir/graph.js';
import { randomTensor, rng } from './gpu/common.js';

export interface SeCase { label: string; gate: 'Sigmoid' | 'HardSigmoid'; hidden: 'Relu' | 'SiLU' | 'none'; C: number; Cr: number; project: boolean; bias: boolean }

export const SE_CASES: SeCase[] = [
  { label: 'sigmoid gate, SiLU hidden, C 7 → 3, then a 1×1 conv', gate: 'Sigmoid', hidden: 'SiLU', C: 7, Cr: 3, project: true, bias: true },
  { label: 'hard-sigmoid gate, ReLU hidden, C 13 → 5, Mul output', gate: 'HardSigmoid', hidden: 'Relu', C: 13, Cr: 5, project: false, bias: true },
  { label: 'sigmoid gate, no hidden activation or biases, C 9 → 1', gate: 'Sigmoid', hidden: 'none', C: 9, Cr: 1, project: true, bias: false },
];

/** x (2, C, 5, 3) → 3×3 conv → SE (GlobalAveragePool, 1×1 conv, act, 1×1 conv, gate, Mul) → [1×1 conv]. */
export function seGraph(k: SeCase, seed: number): Graph {
  const r = rng(seed);
  const g = new Graph(`se_${seed}`);
  const w = (name: string, shape: number[], scale = 0.5) => g.addConstant(name, randomTensor('f32', shape, r, scale));
  const x = g.addInput('x', { dtype: 'f32', shape: [2, k.C, 5, 3] });
  const [y] = g.addNode('Conv', [x, w('w0', [k.C, k.C, 3, 3]), w('b0', [k.C])], { pads: [1, 1, 1, 1] });
  const [p] = g.addNode('GlobalAveragePool', [y]);
  let [h] = g.addNode('Conv', [p, w('w1', [k.Cr, k.C, 1, 1], 1), ...(k.bias ? [w('b1', [k.Cr])] : [])]);
  if (k.hidden === 'Relu') [h] = g.addNode('Relu', [h]);
  if (k.hidden === 'SiLU') { const [s] = g.addNode('Sigmoid', [h]); [h] = g.addNode('Mul', [h, s]); }
  const [z] = g.addNode('Conv', [h, w('w2', [k.C, k.Cr, 1, 1], 1), ...(k.bias ? [w('b2', [k.C])] : [])]);
  const [s] = g.addNode(k.gate, [z], k.gate === 'HardSigmoid' ? { alpha: 1 / 6, beta: 0.5 } : {});
  let [out] = g.addNode('Mul', [y, s]);
  if (k.project) [out] = g.addNode('Conv', [out, w('w3', [4, k.C, 1, 1]), w('b3', [4])]);
  g.setOutputs([out]);
  return g;
}


/**
 * The same SE block with its gate written Keras/timm-style: GlobalAveragePool → Flatten → Gemm
 * (transB) → act → Gemm → gate → Reshape to [N, C, 1, 1] → Mul; with `matmul`, Reshape → MatMul +
 * Add → act → MatMul + Add → gate → Unsqueeze.
 */
export function seGemmGraph(k: SeCase, seed: number, matmul = false): Graph {
  const r = rng(seed);
  const g = new Graph(`se_gemm_${seed}`);
  const w = (name: string, shape: number[], scale = 0.5) => g.addConstant(name, randomTensor('f32', shape, r, scale));
  const x = g.addInput('x', { dtype: 'f32', shape: [2, k.C, 5, 3] });
  const [y] = g.addNode('Conv', [x, w('w0', [k.C, k.C, 3, 3]), w('b0', [k.C])], { pads: [1, 1, 1, 1] });
  const [p] = g.addNode('GlobalAveragePool', [y]);
  const dense = (v: string, from: number, to: number, tag: string) => {
    if (!matmul) return g.add('Gemm', [v, w(`w${tag}`, [to, from], 1), ...(k.bias ? [w(`b${tag}`, [to])] : [])], { transB: 1 });
    const m = g.add('MatMul', [v, w(`w${tag}`, [from, to], 1)]);
    return k.bias ? g.add('Add', [m, w(`b${tag}`, [to])]) : m;
  };
  let h = dense(matmul ? g.add('Reshape', [p], { shape: [2, k.C] }) : g.add('Flatten', [p], { axis: 1 }), k.C, k.Cr, '1');
  if (k.hidden === 'Relu') h = g.add('Relu', [h]);
  if (k.hidden === 'SiLU') h = g.add('Mul', [h, g.add('Sigmoid', [h])]);
  const z = dense(h, k.Cr, k.C, '2');
  const s = g.add(k.gate, [z], k.gate === 'HardSigmoid' ? { alpha: 1 / 6, beta: 0.5 } : {});
  const s4 = matmul ? g.add('Unsqueeze', [s], { axes: [2, 3] }) : g.add('Reshape', [s], { shape: [2, k.C, 1, 1] });
  let [out] = g.addNode('Mul', [y, s4]);
  if (k.project) [out] = g.addNode('Conv', [out, w('w3', [4, k.C, 1, 1]), w('b3', [4])]);
  g.setOutputs([out]);
  return g;
}

export interface ScaleCase { label: string; C: number; E: number; kernel: 1 | 3; residual: boolean; readers: 1 | 2; H?: number; W?: number }

/** MBConv-like blocks whose SE Mul feeds convs (passes/fuse-scale-on-load.ts): batch 2, odd channels. */
export const SCALE_CASES: ScaleCase[] = [
  { label: '1×1 projection with a residual epilogue, C 7, expanded 11', C: 7, E: 11, kernel: 1, residual: true, readers: 1 },
  { label: '3×3 padded consumer, C 5, expanded 9', C: 5, E: 9, kernel: 3, residual: false, readers: 1 },
  { label: 'two 1×1 convs read the scaled map, C 3, expanded 13', C: 3, E: 13, kernel: 1, residual: false, readers: 2 },
];

/**
 * x (2, C, H = 6, W = 5) → 1×1 expand (SiLU) → 3×3 depthwise (SiLU) → SE (pool, 1×1, ReLU, 1×1, Sigmoid, Mul)
 * → the consumer conv(s) [+ x when `residual`].
 */
export function scaleGraph(k: ScaleCase, seed: number): Graph {
  const r = rng(seed);
  const g = new Graph(`scale_${seed}`);
  const w = (name: string, shape: number[], scale = 0.5) => g.addConstant(name, randomTensor('f32', shape, r, scale));
  const silu = (v: string) => { const [s] = g.addNode('Sigmoid', [v]); return g.addNode('Mul', [v, s])[0]; };
  const x = g.addInput('x', { dtype: 'f32', shape: [2, k.C, k.H ?? 6, k.W ?? 5] });
  const e = silu(g.addNode('Conv', [x, w('we', [k.E, k.C, 1, 1]), w('be', [k.E])])[0]);
  const d = silu(g.addNode('Conv', [e, w('wd', [k.E, 1, 3, 3]), w('bd', [k.E])], { group: k.E, pads: [1, 1, 1, 1] })[0]);
  const [p] = g.addNode('GlobalAveragePool', [d]);
  const [h] = g.addNode('Relu', g.addNode('Conv', [p, w('w1', [3, k.E, 1, 1], 1), w('b1', [3])]));
  const [s] = g.addNode('Sigmoid', g.addNode('Conv', [h, w('w2', [k.E, 3, 1, 1], 1), w('b2', [k.E])]));
  const [m] = g.addNode('Mul', [d, s]);
  const pad = (k.kernel - 1) / 2;
  const project = (i: number) => g.addNode('Conv', [m, w(`wp${i}`, [k.C, k.E, k.kernel, k.kernel]), w(`bp${i}`, [k.C])], { pads: [pad, pad, pad, pad] })[0];
  const outs = Array.from({ length: k.readers }, (_, i) => project(i));
  g.setOutputs(k.residual ? [g.addNode('Add', [outs[0], x])[0]] : outs);
  return g;
}
