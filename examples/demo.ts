/**
 * The main job on the embedded defaults: build LeNet-5 and ResNet-18 in the DSL, print their
 * summaries, compile them with the reference interpreter and with the WebAssembly SIMD target,
 * run both on a seeded random input, print the top outputs and how far the compiled run is from
 * the reference.
 *   npm run demo
 */
import { compile, formatSummary, summarize, toF64, zoo } from '../index.js';
import { randomInput, topK } from '../cli/util.js';

for (const name of ['lenet5', 'resnet18']) {
  const graph = zoo(name);
  console.log(formatSummary(summarize(graph)));
  const reference = await compile(graph, 'reference');
  const t0 = performance.now();
  const wasm = await compile(graph, 'wasm');
  const compileMs = performance.now() - t0;
  const [input] = reference.inputs;
  const [out] = reference.outputs;
  const x = { [input.name]: randomInput(input.dtype, input.shape, 42) };

  let t = performance.now();
  const want = (await reference.run(x))[out.name];
  const refMs = performance.now() - t;
  await wasm.run(x); // first run instantiates the module
  t = performance.now();
  const got = (await wasm.run(x))[out.name];
  const wasmMs = performance.now() - t;

  const w = toF64(want), g = toF64(got);
  const err = Math.max(...w.map((v, i) => Math.abs(v - g[i]))) / Math.max(...w.map(Math.abs));
  console.log(`\n${name}: input ${input.name} [${input.shape.join('x')}] seeded N(0,1)`);
  console.log(`  reference interpreter ${refMs.toFixed(1)} ms; wasm (${wasm.passes.length} passes, ${wasm.stats.kernels} kernels, compiled in ${compileMs.toFixed(0)} ms) ${wasmMs.toFixed(1)} ms`);
  console.log(`  max |wasm − reference| / max |reference| = ${err.toExponential(2)}`);
  console.log(`  top-5 of ${out.name} [${out.shape.join('x')}]:`);
  for (const [i, v] of topK(got, 5)) console.log(`    class ${String(i).padStart(4)}  ${v.toFixed(6)}`);
  console.log('');
}
