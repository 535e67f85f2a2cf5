/** A text form of the graph, one line per node, in the spirit of Relay/MLIR text. */
import type { Graph } from './graph.js';
import type { AttrValue } from './op.js';
import { formatType } from './types.js';

function fmtAttr(v: AttrValue): string {
  if (Array.isArray(v)) return `[${v.join(',')}]`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

export function printGraph(g: Graph, opts: { constants?: boolean } = {}): string {
  const lines: string[] = [];
  const ins = g.inputs.map((n) => `%${n}: ${formatType(g.type(n))}`).join(', ');
  lines.push(`graph ${g.name}(${ins}) -> (${g.outputs.map((o) => `%${o}`).join(', ')}) {`);
  if (opts.constants !== false) {
    for (const v of g.values.values()) if (v.const) lines.push(`  %${v.name} = const ${formatType(v.type)}`);
  }
  for (const n of g.nodes) {
    const outs = n.outputs.map((o) => `%${o}`).join(', ');
    const args = n.inputs.map((i) => (i === '' ? '_' : `%${i}`)).join(', ');
    const attrs = Object.entries(n.attrs).map(([k, v]) => `${k}=${fmtAttr(v)}`).join(', ');
    const types = n.outputs.map((o) => (o === '' ? '_' : formatType(g.type(o)))).join(', ');
    lines.push(`  ${outs} = ${n.op}(${args})${attrs ? ` {${attrs}}` : ''} : ${types}  // ${n.name}`);
  }
  lines.push('}');
  return lines.join('\n');
}
