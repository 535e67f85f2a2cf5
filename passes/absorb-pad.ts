/**
 * Pad absorption: a constant Pad over the spatial axes only, read by nothing but a Conv or pool,
 * becomes that op's own padding, one kernel and one copy of the feature map fewer. The padded
 * value must be what the op's padding means: 0 for Conv and for AveragePool(count_include_pad=1)
 * (which counts padded taps as zeros), −∞ for MaxPool (padding never wins a max; no finite value is
 * safe, since it could exceed every input). Pads must be non-negative (negative ones crop).
 */
import type { Graph, Node } from '../ir/graph.js';
import { withNode, type GraphView, type Pass, rewriteCopy } from './pass.js';

/** The pad value that `c`'s padding stands for, or undefined when `c` cannot take a Pad in. */
function padValueOf(c: Node): number | undefined {
  if (c.attrs.auto_pad !== 'NOTSET') return undefined;
  switch (c.op) {
    case 'Conv': return 0;
    case 'AveragePool': return Number(c.attrs.count_include_pad) === 1 && Number(c.attrs.ceil_mode) === 0 ? 0 : undefined;
    case 'MaxPool': return c.outputs.slice(1).some((o) => o !== '') ? undefined : -Infinity; // Indices would shift
    default: return undefined;
  }
}

/** The spatial axes of a rank-r value in `c`'s layout. */
function spatialAxes(c: Node, r: number): number[] {
  const first = c.attrs.layout === 'NHWC' ? 1 : 2;
  return Array.from({ length: r - 2 }, (_, i) => first + i);
}

/** A pool's padding must stay below its (dilated) window, so no window sees padding only. */
function fitsWindow(c: Node, pads: readonly number[]): boolean {
  if (c.op === 'Conv') return true;
  const k = c.attrs.kernel_shape as number[];
  const d = c.attrs.dilations as number[];
  return pads.every((p, i) => p < ((k[i % k.length] ?? 1) - 1) * (d[i % k.length] ?? 1) + 1);
}

function rule(c: Node, view: GraphView): Node[] | null {
  const value = padValueOf(c);
  const pad = value === undefined ? undefined : view.producedBy(c.inputs[0], 'Pad');
  if (!pad || !view.single(c.inputs[0]) || pad.attrs.mode !== 'constant' || Number(pad.attrs.value) !== value) return null;
  const r = view.shape(pad.inputs[0]).length;
  const p = pad.attrs.pads as number[];
  const axes = spatialAxes(c, r);
  if (p.some((v) => v < 0) || [...Array(r).keys()].some((a) => !axes.includes(a) && (p[a] !== 0 || p[a + r] !== 0))) return null;
  const own = c.attrs.pads as number[];
  const n = axes.length;
  const pads = [...axes.map((a, i) => (own[i] ?? 0) + p[a]), ...axes.map((a, i) => (own[n + i] ?? 0) + p[a + r])];
  if (!fitsWindow(c, pads)) return null;
  return [withNode(c, { inputs: [pad.inputs[0], ...c.inputs.slice(1)], attrs: { pads } })];
}

export function absorbPads(graph: Graph): Graph {
  return rewriteCopy(graph, rule, true);
}

export const absorbPadPass: Pass = {
  name: 'absorb-pad',
  doc: 'constant Pad over spatial axes into Conv / AveragePool(count_include_pad) padding (0) or MaxPool padding (−∞)',
  run: (g) => absorbPads(g),
};
