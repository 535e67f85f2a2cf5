/**
 * The exporter on IR that only passes produce: NHWC layouts, every epilogue activation with a
 * residual input on Conv / ConvTranspose / Gemm (on Conv also added after the activation:
 * residual_after_act), and FusedDwPw with both epilogues. The exported
 * model runs in onnxruntime-node and matches the reference interpreter within 1e-4 of each
 * output's max magnitude; the model has only standard ONNX ops.
 */
import { expect, it } from 'vitest';
import { exportOnnx } from '../frontends/onnx/export.js';
import { onnx } from '../frontends/onnx/proto.js';
import { ACTIVATION_KINDS } from '../ir/ops/activation.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { verify } from '../ir/verify.js';
import { tensor, toF64 } from '../runtime/tensor.js';
import { relErr, runOrt } from './conformance/compare.js';

let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const weights = (shape: number[]) => tensor('f32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd));
const ACT_PARAMS: Record<string, [number, number]> = {
  leaky_relu: [0.1, 0], clip: [-0.5, 0.7], hard_sigmoid: [0.2, 0.5], elu: [0.8, 0], celu: [1.3, 0], selu: [1.6732632, 1.050701], thresholded_relu: [0.3, 0],
};

it('exports NHWC convs with every epilogue, FusedDwPw and Gemm epilogues as standard ONNX that onnxruntime runs', async () => {
  const g = new Graph('epilogues');
  const x = g.addInput('x', { dtype: 'f32', shape: [1, 6, 6, 4] }); // NHWC
  const a = g.addInput('a', { dtype: 'f32', shape: [2, 5] });
  const w = g.addConstant('w', weights([4, 4, 3, 3]));
  const b = g.addConstant('b', weights([4]));
  const outs: string[] = [];
  for (const kind of ACTIVATION_KINDS) {
    const [alpha, beta] = ACT_PARAMS[kind] ?? [0, 0];
    outs.push(g.add('Conv', [x, w, b, x], { pads: [1, 1, 1, 1], layout: 'NHWC', activation: kind, act_alpha: alpha, act_beta: beta }, { name: `conv_${kind || 'none'}` }));
    if (kind) outs.push(g.add('Conv', [x, w, b, x], { pads: [1, 1, 1, 1], layout: 'NHWC', activation: kind, act_alpha: alpha, act_beta: beta, residual_after_act: 1 }, { name: `conv_${kind}_after` }));
  }
  const xn = g.addInput('xn', { dtype: 'f32', shape: [1, 4, 6, 6] }); // NCHW
  outs.push(g.add('Conv', [xn, w, b, xn], { pads: [1, 1, 1, 1], activation: 'silu', residual_after_act: 1 }, { name: 'conv_nchw_after' }));
  outs.push(g.add('FusedDwPw', [x, g.addConstant('wdw', weights([4, 1, 3, 3])), g.addConstant('bdw', weights([4])), g.addConstant('wpw', weights([4, 4, 1, 1])), '', x],
    { pads: [1, 1, 1, 1], dw_activation: 'hard_swish', activation: 'gelu_tanh', layout: 'NHWC' }, { name: 'dwpw' }));
  const up = g.add('ConvTranspose', [x, g.addConstant('wt', weights([4, 2, 2, 2])), '', g.addConstant('r', weights([1, 12, 12, 2]))],
    { strides: [2, 2], layout: 'NHWC', activation: 'leaky_relu', act_alpha: 0.2 }, { name: 'up' });
  outs.push(up);
  outs.push(g.add('Gemm', [a, g.addConstant('gb', weights([5, 3])), g.addConstant('gc', weights([3])), g.addConstant('gr', weights([2, 3]))], { activation: 'gelu' }, { name: 'fc' }));
  g.setOutputs(outs);
  verify(g);

  const bytes = exportOnnx(g);
  const ops = new Set(onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType));
  expect([...ops].filter((op) => op === 'FusedDwPw')).toEqual([]);
  expect(ops.has('Transpose')).toBe(true);

  const feeds = { x: weights([1, 6, 6, 4]), a: weights([2, 5]), xn: weights([1, 4, 6, 6]) };
  const ref = interpret(g, feeds);
  const got = await runOrt(bytes, feeds);
  for (const o of outs) expect(relErr(got[o], toF64(ref[o])), o).toBeLessThan(1e-4);
});
