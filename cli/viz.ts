/**
 * The graph as an SVG picture: nodes in layers by depth (longest path from the inputs), one
 * <g class="node"> per node, fused nodes marked with their epilogue. Readable at ResNet-50 size
 * because a CNN is mostly a chain: the picture grows downwards, branches sit side by side.
 */
import type { Graph, Node } from '../ir/graph.js';

const BOX_W = 190, BOX_H = 40, GAP_X = 48, GAP_Y = 26, MARGIN = 20, SKIP_BOW = 40;

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
  if ((n.op === 'Conv' || n.op === 'ConvTranspose' || n.op === 'Gemm' || n.op === 'FusedDwPw') && n.inputs.length >= (n.op === 'FusedDwPw' ? 6 : 4) && n.inputs[n.inputs.length - 1] !== '') parts.push('+residual');
  if (n.attrs.activation) parts.push(`+${n.attrs.activation}`);
  return parts.join(' ');
}

export function graphToSvg(g: Graph, title = g.name): string {
  const producer = g.producers();
  const depth = new Map<Node, number>();
  for (const n of g.nodes) {
    let d = 0;
    for (const i of n.inputs) {
      const p = producer.get(i);
      if (p) d = Math.max(d, depth.get(p)! + 1);
    }
    depth.set(n, d);
  }
  const rows: Node[][] = [];
  for (const n of g.nodes) (rows[depth.get(n)!] ??= []).push(n);
  const widest = Math.max(1, ...rows.map((r) => r.length), g.inputs.length);
  const width = MARGIN * 2 + widest * (BOX_W + GAP_X) - GAP_X + SKIP_BOW;
  const pos = new Map<string, { x: number; y: number; row: number }>(); // value name → bottom centre of its producer
  const rowY = (r: number) => MARGIN + 30 + (r + 1) * (BOX_H + GAP_Y);
  const rowX = (count: number, k: number) => (width - SKIP_BOW - (count * (BOX_W + GAP_X) - GAP_X)) / 2 + k * (BOX_W + GAP_X);

  const parts: string[] = [];
  g.inputs.forEach((name, k) => {
    const x = rowX(g.inputs.length, k), y = MARGIN + 30;
    pos.set(name, { x: x + BOX_W / 2, y: y + BOX_H, row: -1 });
    const t = g.type(name);
    parts.push(`<g class="input"><ellipse cx="${x + BOX_W / 2}" cy="${y + BOX_H / 2}" rx="${BOX_W / 2}" ry="${BOX_H / 2}" fill="#eeeeee" stroke="#555"/>` +
      `<text x="${x + BOX_W / 2}" y="${y + BOX_H / 2 + 4}" text-anchor="middle">${esc(`${name} ${t.dtype}[${t.shape.join('×')}]`)}</text></g>`);
  });
  const edges: string[] = [];
  const nodes: string[] = [];
  rows.forEach((row, r) => row.forEach((n, k) => {
    const x = rowX(row.length, k), y = rowY(r);
    for (const i of n.inputs) {
      const from = pos.get(i);
      if (!from) continue; // constants are not drawn
      const tx = x + BOX_W / 2;
      if (r - from.row > 1) {
        // A skip connection: bow out to the right so it does not hide behind the boxes in between.
        const bow = BOX_W / 2 + SKIP_BOW;
        edges.push(`<path class="skip" d="M${from.x},${from.y} C${from.x + bow},${from.y + GAP_Y} ${tx + bow},${y - GAP_Y} ${tx},${y}" fill="none" stroke="#c77" marker-end="url(#arrow)"/>`);
      } else {
        const my = (from.y + y) / 2;
        edges.push(`<path d="M${from.x},${from.y} C${from.x},${my} ${tx},${my} ${tx},${y}" fill="none" stroke="#888" marker-end="url(#arrow)"/>`);
      }
    }
    const out = n.outputs.find((o) => o !== '');
    for (const o of n.outputs) pos.set(o, { x: x + BOX_W / 2, y: y + BOX_H, row: r });
    const fused = fusedLabel(n);
    const shape = out ? `[${g.type(out).shape.join('×')}]` : '';
    const fill = COLORS[n.op] ?? '#ffffff';
    nodes.push(`<g class="node${fused ? ' fused' : ''}" data-op="${esc(n.op)}"><title>${esc(n.name)}</title>` +
      `<rect x="${x}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="6" fill="${fill}" stroke="${fused ? '#c00' : '#333'}" stroke-width="${fused ? 2 : 1}"/>` +
      `<text x="${x + BOX_W / 2}" y="${y + 16}" text-anchor="middle" font-weight="bold">${esc(n.op)}${fused ? ` ${esc(fused)}` : ''}</text>` +
      `<text x="${x + BOX_W / 2}" y="${y + 32}" text-anchor="middle" fill="#444">${esc(shape)}</text></g>`);
  }));
  const height = rowY(rows.length) + MARGIN;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>`,
    `<text x="${MARGIN}" y="${MARGIN + 8}" font-size="14" font-weight="bold">${esc(title)} (${g.nodes.length} nodes)</text>`,
    ...parts, ...edges, ...nodes, '</svg>',
  ].join('\n');
}
