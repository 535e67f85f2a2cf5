import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { zoo } from '../models/index.js';
const g = process.argv[2] === 'mnv3' ? zoo('mobilenet_v3_small', { size: 64 }) : loadOnnxFile('/work/shared/models/efficientnet_b0/model.onnx');
for (const t of ['wasm', 'cuda'] as const) {
  const c = await compile(g, t, {});
  console.log(t, c.stats.kernels);
  const ns = c.graph.nodes;
  const i = ns.findIndex((n) => n.op === 'GlobalAveragePool');
  for (const n of ns.slice(i - 1, i + 6)) console.log(' ', n.op, n.name, JSON.stringify(n.attrs).slice(0, 200), n.inputs.map((x) => x + ':' + c.graph.type(x).shape.join('x')).join(' '), '->', n.outputs.join(','));
}
