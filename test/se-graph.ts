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
