/**
 * `cnnc viz` on dagre's layout: no edge passes through a box other than its own two ends (GoogLeNet's
 * inception branches, U-Net's skips, ResNet-18 after -O3), graph inputs and outputs drawn, and 4-D
 * values labelled with their layout (NHWC after -O3's layout pass).
 */
import { describe, expect, it } from 'vitest';
import { graphToSvg, valueLayouts } from '../cli/viz.js';
import type { Graph } from '../ir/graph.js';
import { zoo } from '../models/index.js';
import { TARGETS } from '../codegen/targets.js';
import { runPipeline } from '../passes/pipeline.js';

interface Rect { id: string; x0: number; y0: number; x1: number; y1: number }

function boxesOf(svg: string): Rect[] {
  const out: Rect[] = [];
  for (const m of svg.matchAll(/<g class="node[^"]*" data-id="(\w+)"[^>]*>.*?<rect x="([\d.-]+)" y="([\d.-]+)" width="([\d.]+)" height="([\d.]+)"/g)) {
    const [x, y, w, h] = [m[2], m[3], m[4], m[5]].map(Number);
    out.push({ id: m[1], x0: x, y0: y, x1: x + w, y1: y + h });
  }
  for (const m of svg.matchAll(/<g class="(?:input|output)" data-id="(\w+)"><ellipse cx="([\d.-]+)" cy="([\d.-]+)" rx="([\d.]+)" ry="([\d.]+)"/g)) {
    const [cx, cy, rx, ry] = [m[2], m[3], m[4], m[5]].map(Number);
    out.push({ id: m[1], x0: cx - rx * 0.7, y0: cy - ry * 0.7, x1: cx + rx * 0.7, y1: cy + ry * 0.7 }); // the ellipse's inner box
  }
  return out;
}

/** Whether segment p→q passes through the rectangle's interior (shrunk by 1 px: touching is not crossing). */
function crosses(p: [number, number], q: [number, number], r: Rect): boolean {
  const [x0, y0, x1, y1] = [r.x0 + 1, r.y0 + 1, r.x1 - 1, r.y1 - 1];
  let t0 = 0, t1 = 1;
  const dx = q[0] - p[0], dy = q[1] - p[1];
  for (const [pk, qk] of [[-dx, p[0] - x0], [dx, x1 - p[0]], [-dy, p[1] - y0], [dy, y1 - p[1]]]) {
    if (pk === 0) { if (qk < 0) return false; continue; }
    const t = qk / pk;
    if (pk < 0) t0 = Math.max(t0, t); else t1 = Math.min(t1, t);
    if (t0 > t1) return false;
  }
  return true;
}

/** Edges drawn through a box that is neither their start nor their end, as "edge → box" strings. */
function edgeBoxCrossings(svg: string): string[] {
  const boxes = boxesOf(svg);
  const bad: string[] = [];
  for (const m of svg.matchAll(/<path class="edge" data-from="(\w+)" data-to="(\w+)" d="([^"]+)"/g)) {
    const pts = [...m[3].matchAll(/[ML]([\d.-]+),([\d.-]+)/g)].map((p) => [Number(p[1]), Number(p[2])] as [number, number]);
    for (const b of boxes) {
      if (b.id === m[1] || b.id === m[2]) continue;
      if (pts.some((p, k) => k > 0 && crosses(pts[k - 1], p, b))) bad.push(`${m[1]}→${m[2]} through ${b.id}`);
    }
  }
  return bad;
}

const cases: [string, () => Graph][] = [
  ['GoogLeNet', () => zoo('googlenet', { weights: 'zeros' })],
  ['U-Net (small)', () => zoo('unet_small', { weights: 'zeros' })],
  ['ResNet-18 after -O3', () => runPipeline(zoo('resnet18', { weights: 'zeros' }), TARGETS.wasm, { opt: 'O3' }).graph],
];

describe('viz layout (dagre)', () => {
  for (const [name, build] of cases) {
    it(`${name}: every node drawn once, inputs and outputs drawn, no edge through another box`, () => {
      const g = build();
      const svg = graphToSvg(g);
      expect(svg.match(/<g class="node/g)!.length).toBe(g.nodes.length);
      expect(svg.match(/<g class="input"/g)!.length).toBe(g.inputs.length);
      expect(svg.match(/<g class="output"/g)!.length).toBe(g.outputs.length);
      const edges = svg.match(/<path class="edge"/g)!.length;
      expect(edges).toBeGreaterThanOrEqual(g.nodes.length); // each node has at least one drawn input, plus the outputs
      expect(edgeBoxCrossings(svg)).toEqual([]);
    });
  }

  it('labels 4-D values with their layout: NCHW before, NHWC between the transposes after -O3', () => {
    const g = zoo('resnet18', { weights: 'zeros' });
    expect(graphToSvg(g)).toMatch(/f32\[1×64×112×112\] NCHW/);
    const opt = runPipeline(g, TARGETS.wasm, { opt: 'O3' }).graph; // the wasm target's defaults: NHWC
    const layouts = valueLayouts(opt);
    const conv = opt.nodes.find((n) => n.op === 'Conv')!;
    expect(conv.attrs.layout).toBe('NHWC');
    expect(layouts.get(conv.outputs[0])).toBe('NHWC');
    expect(graphToSvg(opt)).toMatch(/f32\[1×112×112×64\] NHWC/);
  });

  it('the crossing check finds an edge drawn through a box (it can fail)', () => {
    const svg = '<g class="node" data-id="n1" data-op="Relu"><title>r</title><rect x="0" y="100" width="190" height="40"/></g>\n'
      + '<path class="edge" data-from="n0" data-to="n2" d="M95.0,50.0 L95.0,200.0" />';
    expect(edgeBoxCrossings(svg)).toEqual(['n0→n2 through n1']);
  });
});
