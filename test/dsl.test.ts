import { describe, expect, it } from 'vitest';
import { Model, nn, Rng } from '../frontends/dsl/index.js';
import { transferWeights } from '../frontends/dsl/weights.js';
import { zoo } from '../models/index.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { summarize } from '../ir/summary.js';
import { verify } from '../ir/verify.js';
import { CnncError } from '../runtime/errors.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';

const constOf = (g: Graph, name: string): Float64Array => toF64(g.value(name).const!);

function run(g: Graph, x: Tensor): Float64Array {
  return toF64(interpret(g, { input: x }).output);
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

function std(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return Math.sqrt(s / a.length);
}

/** A deterministic test input, values in [-1, 1). */
function ramp(shape: number[], seed = 1): Tensor {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor('f32', shape, Float32Array.from({ length: n }, () => r.uniform(-1, 1)));
}

describe('Rng (mulberry32 + Box-Muller)', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = new Rng(7), b = new Rng(7), c = new Rng(8);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
  });
  it('uniforms stay in range with the right mean; normals have the right moments', () => {
    const r = new Rng(3);
    const u = Array.from({ length: 50_000 }, () => r.uniform(0.5, 2));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...u)).toBeLessThan(2);
    expect(mean(u)).toBeCloseTo(1.25, 1);
    const z = r.fillNormal(new Float32Array(100_000), 1, 0.5);
    expect(Math.abs(mean(z) - 1)).toBeLessThan(0.01);
    expect(Math.abs(std(z) - 0.5)).toBeLessThan(0.01);
  });
});

describe('Model builder', () => {
  it('names nodes and weights like PyTorch module paths, input "input" and output "output"', () => {
    const m = new Model('names');
    let x = m.input([1, 3, 8, 8]);
    x = m.sequential(x, 'features', [nn.conv2d(4, 3, { padding: 1 }), nn.relu(), nn.dropout(), nn.maxPool2d(2)]);
    x = m.scope('head', () => m.linear(m.flatten(x), 5, { name: 'fc' }));
    m.output(x);
    const g = m.build();
    expect(g.nodes.map((n) => n.name)).toEqual(['features.0', 'features.1', 'features.3', 'head.flatten', 'head.fc']);
    expect(g.inputs).toEqual(['input']);
    expect(g.outputs).toEqual(['output']);
    expect(g.type('output').shape).toEqual([1, 5]);
    expect(g.values.has('features.0.weight') && g.values.has('features.0.bias') && g.values.has('head.fc.weight')).toBe(true);
    expect(g.type('head.fc.weight').shape).toEqual([5, 64]); // PyTorch's (out, in) with Gemm transB = 1
    verify(g);
  });

  it('conv2d: stride, padding, dilation and groups give PyTorch output shapes and weight shapes', () => {
    const m = new Model('shapes');
    const x = m.input([2, 8, 17, 17]);
    expect(m.shape(m.conv2d(x, 16, 3, { stride: 2, padding: 1 }))).toEqual([2, 16, 9, 9]);
    expect(m.shape(m.conv2d(x, 8, 3, { dilation: 2, padding: 'same' }))).toEqual([2, 8, 17, 17]);
    const dw = m.conv2d(x, 8, [3, 5], { groups: 8, padding: [1, 2], name: 'dw' });
    expect(m.shape(dw)).toEqual([2, 8, 17, 17]);
    expect(m.shape('dw.weight')).toEqual([8, 1, 3, 5]);
    expect(m.shape(m.convTranspose2d(x, 4, 2, { stride: 2, name: 'up' }))).toEqual([2, 4, 34, 34]);
    expect(m.shape('up.weight')).toEqual([8, 4, 2, 2]);
    expect(m.shape(m.avgPool2d(x, 3, { stride: 2, ceilMode: true }))).toEqual([2, 8, 8, 8]);
    expect(m.shape(m.adaptiveAvgPool2d(m.conv2d(x, 8, 2), 4))).toEqual([2, 8, 4, 4]);
    expect(m.shape(m.upsample(x, 2))).toEqual([2, 8, 34, 34]);
  });

  it("adaptiveAvgPool2d to a whole multiple of the input is torch's window rule: each output reads input ⌊i/k⌋", () => {
    for (const [h, w, oh, ow] of [[1, 1, 7, 7], [2, 3, 6, 6], [3, 2, 3, 4]]) {
      const m = new Model('adaptive');
      const x = m.input([1, 2, h, w]);
      m.output(m.adaptiveAvgPool2d(x, [oh, ow]));
      const g = m.build();
      const data = Float32Array.from({ length: 2 * h * w }, (_, i) => i * 0.5 - 1);
      const y = toF64(interpret(g, { input: tensor('f32', [1, 2, h, w], data) }).output);
      expect(y.length).toBe(2 * oh * ow);
      for (let c = 0; c < 2; c++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
        // torch: mean over rows [⌊i·h/oh⌋, ⌈(i+1)·h/oh⌉) and columns likewise
        const r0 = Math.floor((i * h) / oh), r1 = Math.ceil(((i + 1) * h) / oh);
        const c0 = Math.floor((j * w) / ow), c1 = Math.ceil(((j + 1) * w) / ow);
        let sum = 0;
        for (let r = r0; r < r1; r++) for (let q = c0; q < c1; q++) sum += data[(c * h + r) * w + q];
        expect(y[(c * oh + i) * ow + j]).toBeCloseTo(sum / ((r1 - r0) * (c1 - c0)), 6);
      }
    }
  });

  it('draws kaiming-normal weights (std √(2/fan_in)) and non-trivial BatchNorm statistics, the same for the same seed', () => {
    const build = (seed: number) => {
      const m = new Model('init', { seed });
      let x = m.input([1, 64, 4, 4]);
      x = m.batchNorm2d(m.conv2d(x, 128, 3, { bias: false, name: 'c' }), { name: 'bn' });
      m.output(x);
      return m.build();
    };
    const g = build(0);
    expect(Math.abs(std(constOf(g, 'c.weight')) - Math.sqrt(2 / (64 * 9)))).toBeLessThan(0.002);
    const w = constOf(g, 'bn.weight'), v = constOf(g, 'bn.running_var');
    expect(Math.min(...w)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...w)).toBeLessThan(1.5);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...v)).toBeLessThan(2);
    expect(std(constOf(g, 'bn.running_mean'))).toBeGreaterThan(0.05);
    expect(std(constOf(g, 'bn.bias'))).toBeGreaterThan(0.05);
    expect(Array.from(constOf(build(0), 'c.weight'))).toEqual(Array.from(constOf(g, 'c.weight')));
    expect(Array.from(constOf(build(1), 'c.weight'))).not.toEqual(Array.from(constOf(g, 'c.weight')));
    const z = new Model('z', { weights: 'zeros' });
    z.conv2d(z.input([1, 2, 3, 3]), 2, 1, { name: 'c' });
    expect(Array.from(constOf(z.graph, 'c.weight'))).toEqual([0, 0, 0, 0]);
  });

  it('a conv layer computes what a naive convolution of its own weights computes', () => {
    const m = new Model('conv', { seed: 5 });
    const x = m.input([1, 2, 5, 6]);
    m.output(m.conv2d(x, 3, 3, { stride: 2, padding: 1, name: 'c' }));
    const g = m.build();
    const input = ramp([1, 2, 5, 6]);
    const got = run(g, input);
    const xv = toF64(input), w = constOf(g, 'c.weight'), b = constOf(g, 'c.bias');
    const [H, W, OH, OW] = [5, 6, 3, 3];
    for (let o = 0; o < 3; o++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
      let s = b[o];
      for (let c = 0; c < 2; c++) for (let ki = 0; ki < 3; ki++) for (let kj = 0; kj < 3; kj++) {
        const y = 2 * i - 1 + ki, z = 2 * j - 1 + kj;
        if (y >= 0 && y < H && z >= 0 && z < W) s += xv[(c * H + y) * W + z] * w[((o * 2 + c) * 3 + ki) * 3 + kj];
      }
      expect(got[(o * OH + i) * OW + j]).toBeCloseTo(s, 5);
    }
  });

  it('linear computes x·Wᵀ + b (PyTorch layout)', () => {
    const m = new Model('fc', { seed: 2 });
    m.output(m.linear(m.input([2, 3]), 4, { name: 'fc' }));
    const g = m.build();
    const input = ramp([2, 3]);
    const got = run(g, input);
    const xv = toF64(input), w = constOf(g, 'fc.weight'), b = constOf(g, 'fc.bias');
    for (let n = 0; n < 2; n++) for (let o = 0; o < 4; o++) {
      let s = b[o];
      for (let k = 0; k < 3; k++) s += xv[n * 3 + k] * w[o * 3 + k];
      expect(got[n * 4 + o]).toBeCloseTo(s, 5);
    }
  });

  it('activations match PyTorch formulas: SiLU = x·σ(x), ReLU6, Hardsigmoid = relu6(x+3)/6, Hardswish', () => {
    const xs = [-4, -1, -0.25, 0, 0.5, 2, 7];
    const cases: [string, (m: Model, x: string) => string, (x: number) => number][] = [
      ['silu', (m, x) => m.silu(x), (x) => x / (1 + Math.exp(-x))],
      ['relu6', (m, x) => m.relu6(x), (x) => Math.min(6, Math.max(0, x))],
      ['hardsigmoid', (m, x) => m.hardSigmoid(x), (x) => Math.min(6, Math.max(0, x + 3)) / 6],
      ['hardswish', (m, x) => m.hardSwish(x), (x) => (x * Math.min(6, Math.max(0, x + 3))) / 6],
      ['leaky', (m, x) => m.leakyRelu(x, 0.1), (x) => (x >= 0 ? x : 0.1 * x)],
    ];
    for (const [name, f, ref] of cases) {
      const m = new Model(name);
      m.output(f(m, m.input([xs.length])));
      const got = run(m.build(), tensor('f32', [xs.length], xs));
      xs.forEach((x, i) => expect(got[i], `${name}(${x})`).toBeCloseTo(ref(x), 6));
    }
  });

  it('upsample repeats each pixel (nearest, as PyTorch exports it) and cat/add combine values', () => {
    const m = new Model('up');
    const x = m.input([1, 1, 2, 2]);
    m.output(m.add(m.cat([m.upsample(x, 2), m.upsample(x, 2)], 1), m.upsample(x, 2)));
    const got = run(m.build(), tensor('f32', [1, 1, 2, 2], [1, 2, 3, 4]));
    const plane = [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4].map((v) => 2 * v);
    expect(Array.from(got)).toEqual([...plane, ...plane]);
  });

  it('layerNorm2d normalizes each pixel over the channels (ConvNeXt), then scales and shifts', () => {
    const m = new Model('ln', { seed: 4 });
    const x = m.input([1, 3, 2, 2]);
    m.output(m.layerNorm2d(x, { eps: 1e-6, name: 'norm' }));
    const g = m.build();
    const input = ramp([1, 3, 2, 2]);
    const got = run(g, input);
    const xv = toF64(input), w = constOf(g, 'norm.weight'), b = constOf(g, 'norm.bias');
    for (let p = 0; p < 4; p++) {
      const c = [0, 1, 2].map((k) => xv[k * 4 + p]);
      const mu = mean(c), sd = Math.sqrt(c.reduce((s, v) => s + (v - mu) ** 2, 0) / 3 + 1e-6);
      c.forEach((v, k) => expect(got[k * 4 + p]).toBeCloseTo(((v - mu) / sd) * w[k] + b[k], 5));
    }
  });

  it('softmax sums to 1 along its axis; GELU is the erf form', () => {
    const m = new Model('sm');
    const x = m.input([2, 3]);
    m.output(m.softmax(m.gelu(x), 1));
    const xs = [-1, 0, 2, 0.5, 0.5, 0.5];
    const got = run(m.build(), tensor('f32', [2, 3], xs));
    const gelu = [-0.15865525393145707, 0, 1.9544997361036416, 0.34573123063700656, 0.34573123063700656, 0.34573123063700656];
    const e = gelu.map(Math.exp);
    [0, 3].forEach((r) => {
      const s = e[r] + e[r + 1] + e[r + 2];
      for (let k = 0; k < 3; k++) expect(got[r + k]).toBeCloseTo(e[r + k] / s, 6);
    });
  });

  it('residual adds the branch to the shortcut (identity by default)', () => {
    const m = new Model('res');
    const x = m.input([4]);
    m.output(m.residual(x, (v) => m.relu(v), (v) => m.tanh(v)), 'output');
    m.output(m.residual(x, (v) => m.sigmoid(v)), 'second');
    const g = m.build();
    const xs = [-2, -0.5, 0.5, 3];
    const out = interpret(g, { input: tensor('f32', [4], xs) });
    xs.forEach((v, i) => {
      expect(toF64(out.output)[i]).toBeCloseTo(Math.max(0, v) + Math.tanh(v), 6);
      expect(toF64(out.second)[i]).toBeCloseTo(v + 1 / (1 + Math.exp(-v)), 6);
    });
  });

  it('transferWeights gives a graph the weights of another of the same architecture (by shape, in order of use)', () => {
    const seeded = zoo('lenet5', { seed: 3 });
    const moved = transferWeights(zoo('lenet5', { weights: 'zeros' }), seeded);
    const x = ramp([1, 1, 32, 32]);
    expect(Array.from(run(moved, x))).toEqual(Array.from(run(seeded, x)));
    expect(() => transferWeights(zoo('lenet5', { weights: 'zeros' }), zoo('squeezenet1_1', { weights: 'zeros' }))).toThrow(/no weight of shape \[6,1,5,5\]/);
  });

  it('bad uses are CnncErrors naming the layer', () => {
    const m = new Model('bad');
    const x = m.input([1, 6, 7, 7]);
    expect(() => m.linear(x, 3, { name: 'fc' })).toThrow(CnncError);
    expect(() => m.linear(x, 3, { name: 'fc' })).toThrow(/fc/);
    expect(() => m.conv2d(x, 4, 3, { groups: 4, name: 'g' })).toThrow(/groups/);
    expect(() => m.adaptiveAvgPool2d(x, 3)).toThrow(/divide/);
    expect(() => m.conv2d(x, 4, 9, { name: 'big' })).toThrow(CnncError); // kernel larger than the input
    expect(() => m.input([1, 0, 3])).toThrow(CnncError);
    expect(() => new Model('empty').build()).toThrow(/no output/);
  });

  it('summary counts the parameters of each layer', () => {
    const m = new Model('p');
    let x = m.input([1, 3, 8, 8]);
    x = m.batchNorm2d(m.conv2d(x, 16, 3, { bias: false, name: 'conv' }), { name: 'bn' });
    x = m.linear(m.flatten(m.adaptiveAvgPool2d(x, 1)), 10, { name: 'fc' });
    m.output(x);
    const rows = summarize(m.build()).rows;
    const params = Object.fromEntries(rows.map((r) => [r.name, r.params]));
    expect(params).toMatchObject({ conv: 16 * 3 * 9, bn: 2 * 16, fc: 16 * 10 + 10 });
  });
});
