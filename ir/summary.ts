/**
 * The per-layer table, like torchinfo: output shape, params, FLOPs, and the receptive field
 * with its jump, by the recursion r_l = r_{l-1} + (k_l − 1)·d_l·j_{l-1}, j_l = j_{l-1}·s_l.
 */
import { nodeCost } from './cost.js';
import type { Graph } from './graph.js';
import { getOp } from './ops/index.js';

export interface SummaryRow {
  name: string;
  op: string;
  outputShape: number[];
  params: number;
  flops: number;
  /** Receptive field along H and W of one output element, in input pixels. */
  receptiveField: [number, number];
  /** Distance in input pixels between neighbouring outputs (the jump), along H and W. */
  jump: [number, number];
}

export interface Summary {
  model: string;
  rows: SummaryRow[];
  totalParams: number;
  totalFlops: number;
}

/** Spatial axes of a value of rank `rank` in the given layout (the first two are H and W). */
function spatialAxes(rank: number, layout: string): number[] {
  if (rank < 3) return [];
  return layout === 'NHWC' ? Array.from({ length: rank - 2 }, (_, i) => i + 1) : Array.from({ length: rank - 2 }, (_, i) => i + 2);
}

export function summarize(g: Graph): Summary {
  const rf = new Map<string, { r: [number, number]; j: [number, number] }>();
  for (const i of g.inputs) rf.set(i, { r: [1, 1], j: [1, 1] });
  const rows: SummaryRow[] = [];
  for (const node of g.nodes) {
    const ins = node.inputs.filter((i) => i !== '' && rf.has(i)).map((i) => rf.get(i)!);
    let r: [number, number] = [Math.max(1, ...ins.map((x) => x.r[0])), Math.max(1, ...ins.map((x) => x.r[1]))];
    let j: [number, number] = [Math.max(1, ...ins.map((x) => x.j[0])), Math.max(1, ...ins.map((x) => x.j[1]))];
    const info = g.nodeInfo(node);
    const win = getOp(node.op).window?.(info);
    if (win && info.inputs[0]) {
      const x = info.inputs[0].type.shape;
      const axes = spatialAxes(x.length, String(node.attrs.layout ?? 'NCHW'));
      const next = (a: 0 | 1): [number, number] => {
        if (a >= axes.length) return [r[a], j[a]];
        if (win === 'global') return [r[a] + (x[axes[a]] - 1) * j[a], j[a] * x[axes[a]]];
        const k = win.kernel[a] ?? 1, s = win.strides[a] ?? 1, d = win.dilations[a] ?? 1;
        return [r[a] + (k - 1) * d * j[a], j[a] * s];
      };
      const [h, w] = [next(0), next(1)];
      r = [h[0], w[0]];
      j = [h[1], w[1]];
    }
    for (const o of node.outputs) if (o !== '') rf.set(o, { r, j });
    const cost = nodeCost(g, node);
    const out = node.outputs.find((o) => o !== '');
    rows.push({
      name: node.name,
      op: node.op,
      outputShape: out ? [...g.type(out).shape] : [],
      params: cost.params,
      flops: cost.flops,
      receptiveField: r,
      jump: j,
    });
  }
  return {
    model: g.name,
    rows,
    totalParams: rows.reduce((s, r) => s + r.params, 0),
    totalFlops: rows.reduce((s, r) => s + r.flops, 0),
  };
}

const fmtInt = (n: number) => n.toLocaleString('en-US');

export function formatFlops(f: number): string {
  if (f >= 1e9) return `${(f / 1e9).toFixed(2)} G`;
  if (f >= 1e6) return `${(f / 1e6).toFixed(2)} M`;
  if (f >= 1e3) return `${(f / 1e3).toFixed(2)} K`;
  return String(f);
}

/** The summary as a fixed-width text table with totals. */
export function formatSummary(s: Summary): string {
  const head = ['layer', 'op', 'output shape', 'params', 'FLOPs', 'RF', 'jump'];
  const body = s.rows.map((r) => [
    r.name, r.op, `[${r.outputShape.join(', ')}]`, fmtInt(r.params), formatFlops(r.flops),
    r.receptiveField[0] === r.receptiveField[1] ? String(r.receptiveField[0]) : `${r.receptiveField[0]}x${r.receptiveField[1]}`,
    r.jump[0] === r.jump[1] ? String(r.jump[0]) : `${r.jump[0]}x${r.jump[1]}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  return [
    `Model: ${s.model}`,
    rule, line(head), rule, ...body.map(line), rule,
    `Total params: ${fmtInt(s.totalParams)}`,
    `Total FLOPs:  ${formatFlops(s.totalFlops)} (${fmtInt(s.totalFlops)}; MACs = FLOPs / 2)`,
  ].join('\n');
}
