/**
 * The summary table against published and hand-computed values: LeNet-5's per-layer parameter
 * counts (LeCun 1998) and receptive fields by r_l = r_{l-1} + (k_l − 1)·d_l·j_{l-1}, j_l = j_{l-1}·s_l.
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../ir/graph.js';
import { formatSummary, summarize } from '../ir/summary.js';
import { zoo } from '../models/index.js';
import { tensor } from '../runtime/tensor.js';

describe('summary', () => {
  const s = summarize(zoo('lenet5'));

  it('LeNet-5: Conv1 156, Conv2 2,416, FC1 48,120, FC2 10,164, Out 850 = 61,706 parameters', () => {
    const withParams = s.rows.filter((r) => r.params > 0);
    expect(withParams.map((r) => r.op)).toEqual(['Conv', 'Conv', 'Gemm', 'Gemm', 'Gemm']);
    expect(withParams.map((r) => r.params)).toEqual([156, 2416, 48120, 10164, 850]);
    expect(s.totalParams).toBe(61706);
  });

  it('LeNet-5 receptive fields: conv5 → 5, pool2 → 6, conv5 → 14, pool2 → 16; jumps 1, 2, 2, 4', () => {
    const spatial = s.rows.filter((r) => r.op === 'Conv' || r.op === 'AveragePool');
    expect(spatial.map((r) => r.receptiveField[0])).toEqual([5, 6, 14, 16]);
    expect(spatial.map((r) => r.jump[0])).toEqual([1, 2, 2, 4]);
    // Layers after the last window keep its receptive field.
    expect(s.rows[s.rows.length - 1].receptiveField).toEqual([16, 16]);
  });

  it('LeNet-5 MACs: 117,600 + 240,000 + 48,000 + 10,080 + 840 in the convs and FCs', () => {
    const macs = s.rows.filter((r) => r.params > 0).map((r) => r.flops / 2);
    expect(macs).toEqual([117600, 240000, 48000, 10080, 840]);
  });

  it('dilation widens the receptive field: a 3×3 conv with dilation 2 after a stride-2 conv', () => {
    const g = new Graph('dilated');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 1, 32, 32] });
    const w = g.addConstant('w', tensor('f32', [1, 1, 3, 3]));
    const a = g.add('Conv', [x, w], { strides: [2, 2] });              // r = 3, j = 2
    const b = g.add('Conv', [a, w], { dilations: [2, 2] });            // r = 3 + 2·2·2 = 11, j = 2
    g.setOutputs([b]);
    const rows = summarize(g).rows;
    expect(rows.map((r) => r.receptiveField[0])).toEqual([3, 11]);
    expect(rows.map((r) => r.jump[0])).toEqual([2, 2]);
  });

  it('formats as a table with totals, and as JSON', () => {
    const text = formatSummary(s);
    expect(text).toContain('Total params: 61,706');
    expect(text.split('\n').length).toBeGreaterThan(s.rows.length);
    expect(JSON.parse(JSON.stringify(s)).totalParams).toBe(61706);
  });
});
