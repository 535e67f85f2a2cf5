/**
 * Compile an ONNX file for WebAssembly, save the artifact, load it with the runtime alone and run
 * the model's test input (when an ONNX test_data_set_0 sits beside it, as in ../shared/models).
 *
 *   npx tsx examples/node/compile-onnx.ts ../shared/models/squeezenet1_1/model.onnx
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compile, readTensorProto, toF64, type Tensor } from '../../index.js'; // in an app: from 'cnnc'
import { load } from '../../runtime/index.js'; // in an app: from 'cnnc/runtime'

const file = process.argv[2] ?? '../shared/models/squeezenet1_1/model.onnx';
const model = await compile(file, 'wasm');
const artifact = join(tmpdir(), 'model.cnnc');
writeFileSync(artifact, model.save());
console.log(`compiled ${file}: ${model.graph.nodes.length} nodes, ${model.stats.kernels} kernels → ${artifact}`);

// From here on only the runtime is needed: this is what an edge app ships.
const session = await load(readFileSync(artifact));
const [input] = session.inputs;
const testDir = join(dirname(file), 'test_data_set_0');
const x: Tensor = existsSync(join(testDir, 'input_0.pb'))
  ? readTensorProto(readFileSync(join(testDir, 'input_0.pb')))
  : { dtype: 'f32', shape: input.shape, data: new Float32Array(input.shape.reduce((a, b) => a * b, 1)).fill(0.5) };
const t0 = performance.now();
const outputs = await session.run({ [input.name]: x });
console.log(`ran in ${(performance.now() - t0).toFixed(1)} ms`);

const y = toF64(Object.values(outputs)[0]);
const top = [...y.keys()].sort((a, b) => y[b] - y[a]).slice(0, 5);
console.log(`top-5: ${top.map((i) => `${i} (${y[i].toFixed(4)})`).join(', ')}`);
if (existsSync(join(testDir, 'output_0.pb'))) {
  const want = toF64(readTensorProto(readFileSync(join(testDir, 'output_0.pb'))));
  const err = Math.max(...want.map((w, i) => Math.abs(w - y[i]))) / Math.max(...want.map(Math.abs));
  console.log(`max |cnnc − PyTorch| / max |PyTorch| = ${err.toExponential(2)}`);
}
