/**
 * The graph as an SVG picture, laid out by dagre (@dagrejs/dagre: Sugiyama layering with network-simplex
 * ranks, barycentre crossing minimisation, and long edges routed through the ranks they span, so that a
 * skip connection goes around the boxes between its ends rather than through them). Graph inputs and
 * outputs are ellipses; each node is one <g class="node"> with its op, fused epilogue, output shape and,
 * for 4-D values, the layout (NCHW or NHWC, followed through Transposes and layout-aware ops).
 * Fusions (codegen/fusion-report.ts), when given, are drawn as <g class="fusion" data-kind=...>: a
 * dashed frame around each fused kernel's box (epilogue, dw+pw, elementwise group, ...), and a
 * dagre cluster around a Concat and the producers that write their slices of it in place.
 */
import dagre from '@dagrejs/dagre';
import type { Graph, Node } from '../ir/graph.js';
import type { Fusion } from '../codegen/fusion-report.js';

const BOX_W = 190, BOX_H = 40, MARGIN = 20, TITLE_H = 30;

const COLORS: Record<string, string> = {
  Conv: '#cfe2ff', ConvTranspose: '#cfe2ff', FusedDwPw: '#b6d7a8', Gemm: '#ffe0b3', MatMul: '#ffe0b3',
  BatchNormalization: '#e6ccff', LayerNormalization: '#e6ccff', MaxPool: '#d9ead3', AveragePool: '#d9ead3',
  GlobalAveragePool: '#d9ead3', GlobalMaxPool: '#d9ead3', Concat: '#fff2cc', Transpose: '#f4cccc', Cast: '#f4cccc',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The epilogue a fused node carries, as a short label ('' when the node is not fused). */
export function fusedLabel(n: Node): string {
  const parts: string[] = [];
  if (n.op === 'FusedDwPw') parts.push('dw+pw');
  if (n.attrs.dw_activation) parts.push(`dw:${n.attrs.dw_activation}`);
  // the residual input: FusedDwPw's 6th, the others' 4th (a Conv's 5th is its input scale)
  const residual = (n.op === 'Conv' || n.op === 'ConvTranspose' || n.op === 'Gemm' || n.op === 'FusedDwPw') && (n.inputs[n.op === 'FusedDwPw' ? 5 : 3] ?? '') !== '';
  const after = Number(n.attrs.residual_after_act ?? 0) === 1;
  if (residual && !after) parts.push('+residual');
  if (n.attrs.activation) parts.push(`+${n.attrs.activation}`);
  if (residual && after) parts.push('+residual');
  return parts.join(' ');
}

const samePerm = (p: unknown, q: number[]) => Array.isArray(p) && p.length === q.length && p.every((x, i) => x === q[i]);

/**
 * The layout of every 4-D value: graph inputs are NCHW; a layout-aware op's outputs have its
 * `layout`; a Transpose by [0,2,3,1] / [0,3,1,2] switches NCHW ↔ NHWC; other ops keep their first 4-D input's.
 */
export function valueLayouts(g: Graph): Map<string, 'NCHW' | 'NHWC'> {
  const layout = new Map<string, 'NCHW' | 'NHWC'>();
  const rank4 = (v: string) => v !== '' && g.type(v).shape.length === 4;
  for (const v of g.inputs) if (rank4(v)) layout.set(v, 'NCHW');
  for (const n of g.nodes) {
    const first = n.inputs.find((v) => layout.has(v));
    let l = first ? layout.get(first) : undefined;
    if (n.attrs.layout === 'NHWC' || n.attrs.layout === 'NCHW') l = n.attrs.layout;
    else if (n.op === 'Transpose' && l) {
      if (l === 'NCHW' && samePerm(n.attrs.perm, [0, 2, 3, 1])) l = 'NHWC';
      else if (l === 'NHWC' && samePerm(n.attrs.perm, [0, 3, 1, 2])) l = 'NCHW';
      else l = undefined;
    }
    for (const o of n.outputs) if (l && rank4(o)) layout.set(o, l);
  }
  return layout;
}

interface Box { id: string; kind: 'input' | 'node' | 'output'; node?: Node; value?: string }

const FUSION_COLORS: Record<string, string> = {
  epilogue: '#c00', 'dw+pw': '#38761d', elementwise: '#b45f06', 'concat-in-place': '#1155cc', 'squeeze-excitation': '#741b47',
};

/** What a fusion frame says: its kind and what it fused. */
const fusionText = (f: Fusion) => (f.kind === 'concat-in-place'
  ? `concat in place: ${f.node}${f.elided ? ' (no kernel)' : ''}`
  : `${f.kind}: ${f.ops.join(' + ')}`);

export function graphToSvg(g: Graph, title = g.name, fusions: readonly Fusion[] = []): string {
  const layouts = valueLayouts(g);
  const typeLabel = (v: string) => {
    const t = g.type(v);
    return `${t.dtype}[${t.shape.join('×')}]${layouts.has(v) ? ` ${layouts.get(v)}` : ''}`;
  };
  const dg = new dagre.graphlib.Graph({ multigraph: true, compound: true });
  dg.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 34, edgesep: 12, marginx: MARGIN, marginy: MARGIN });
  dg.setDefaultEdgeLabel(() => ({}));
  const boxes = new Map<string, Box>();
  const add = (b: Box) => { boxes.set(b.id, b); dg.setNode(b.id, { width: BOX_W, height: BOX_H }); };
  const producer = new Map<string, string>(); // value → box id
  g.inputs.forEach((v, i) => { add({ id: `in${i}`, kind: 'input', value: v }); producer.set(v, `in${i}`); });
  g.nodes.forEach((n, i) => { add({ id: `n${i}`, kind: 'node', node: n }); for (const o of n.outputs) if (o) producer.set(o, `n${i}`); });
  g.outputs.forEach((v, i) => add({ id: `out${i}`, kind: 'output', value: v }));
  const edge = (from: string | undefined, to: string, k: number) => { if (from) dg.setEdge(from, to, {}, `${from}>${to}#${k}`); };
  g.nodes.forEach((n, i) => n.inputs.forEach((v, k) => edge(producer.get(v), `n${i}`, k))); // constants are not drawn
  g.outputs.forEach((v, i) => edge(producer.get(v), `out${i}`, 0));
  // a concat written in place: a cluster of the Concat and the producers of its in-place parts
  const boxOf = new Map(g.nodes.map((n, i) => [n.name, `n${i}`]));
  const clusters = fusions.flatMap((f, k) => {
    if (f.kind !== 'concat-in-place') return [];
    const id = `fusion${k}`;
    dg.setNode(id, { paddingTop: 22 });
    for (const m of [...(f.members ?? []), f.node]) { const b = boxOf.get(m); if (b) dg.setParent(b, id); }
    return [{ id, f }];
  });
  dagre.layout(dg);

  const edges = dg.edges().map((e: { v: string; w: string; name?: string }) => {
    const pts: { x: number; y: number }[] = dg.edge(e).points ?? [];
    const d = pts.map((p, k) => `${k ? 'L' : 'M'}${p.x.toFixed(1)},${(p.y + TITLE_H).toFixed(1)}`).join(' ');
    return `<path class="edge" data-from="${e.v}" data-to="${e.w}" d="${d}" fill="none" stroke="#888" marker-end="url(#arrow)"/>`;
  });
  const shapes = [...boxes.values()].map((b) => {
    const { x: cx, y: cy0 } = dg.node(b.id);
    const cy = cy0 + TITLE_H, x = cx - BOX_W / 2, y = cy - BOX_H / 2;
    if (b.kind !== 'node') {
      return `<g class="${b.kind}" data-id="${b.id}"><ellipse cx="${cx}" cy="${cy}" rx="${BOX_W / 2}" ry="${BOX_H / 2}" fill="${b.kind === 'input' ? '#eeeeee' : '#fde9d9'}" stroke="#555"/>` +
        `<text x="${cx}" y="${cy - 2}" text-anchor="middle" font-weight="bold">${esc(b.value!)}</text>` +
        `<text x="${cx}" y="${cy + 12}" text-anchor="middle" fill="#444">${esc(typeLabel(b.value!))}</text></g>`;
    }
    const n = b.node!;
    const out = n.outputs.find((o) => o !== '');
    const fused = fusedLabel(n);
    return `<g class="node${fused ? ' fused' : ''}" data-id="${b.id}" data-op="${esc(n.op)}"><title>${esc(n.name)}</title>` +
      `<rect x="${x}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="6" fill="${COLORS[n.op] ?? '#ffffff'}" stroke="${fused ? '#c00' : '#333'}" stroke-width="${fused ? 2 : 1}"/>` +
      `<text x="${cx}" y="${y + 16}" text-anchor="middle" font-weight="bold">${esc(n.op)}${fused ? ` ${esc(fused)}` : ''}</text>` +
      `<text x="${cx}" y="${y + 32}" text-anchor="middle" fill="#444">${esc(out ? typeLabel(out) : '')}</text></g>`;
  });
  const frame = (f: Fusion, x: number, y: number, w: number, h: number, labelAbove: boolean) => {
    const color = FUSION_COLORS[f.kind] ?? '#c00';
    return `<g class="fusion" data-kind="${esc(f.kind)}" data-node="${esc(f.node)}"><title>${esc(fusionText(f))}</title>` +
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" rx="8" fill="none" stroke="${color}" stroke-width="1.5" stroke-dasharray="5,3"/>` +
      (labelAbove ? `<text x="${(x + 6).toFixed(1)}" y="${(y + 14).toFixed(1)}" fill="${color}">${esc(fusionText(f))}</text>` : '') + '</g>';
  };
  const frames = [
    ...clusters.map(({ id, f }) => {
      const c = dg.node(id);
      return frame(f, c.x - c.width / 2, c.y - c.height / 2 + TITLE_H, c.width, c.height, true);
    }),
    ...fusions.flatMap((f) => {
      const b = f.kind === 'concat-in-place' ? undefined : boxOf.get(f.node);
      if (!b) return [];
      const { x, y } = dg.node(b);
      return [frame(f, x - BOX_W / 2 - 4, y + TITLE_H - BOX_H / 2 - 4, BOX_W + 8, BOX_H + 8, false)];
    }),
  ];
  const { width = 0, height = 0 } = dg.graph();
  const w = Math.ceil(Math.max(width, 300)), h = Math.ceil(height + TITLE_H);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="11">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>`,
    `<text x="${MARGIN}" y="${MARGIN + 8}" font-size="14" font-weight="bold">${esc(title)} (${g.nodes.length} nodes)</text>`,
    ...frames, ...edges, ...shapes, '</svg>',
  ].join('\n');
}
