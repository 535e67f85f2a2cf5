/**
 * The main job on the embedded defaults: build LeNet-5 and ResNet-18 in the DSL, print their
 * summaries, compile them, run them on a seeded random input and print the top outputs.
 *   npm run demo
 */
import { compile, formatSummary, summarize } from '../index.js';
import { zoo } from '../models/index.js';
import { randomInput, topK } from '../cli/util.js';

for (const name of ['lenet5', 'resnet18']) {
  const graph = zoo(name);
  console.log(formatSummary(summarize(graph)));
  const model = await compile(graph, 'reference');
  const [input] = model.inputs;
  const x = randomInput(input.dtype, input.shape, 42);
  const t0 = performance.now();
  const outputs = await model.run({ [input.name]: x });
  const ms = performance.now() - t0;
  const [out] = model.outputs;
  console.log(`\n${name}: reference interpreter, input ${input.name} [${input.shape.join('x')}] seeded N(0,1), ${ms.toFixed(0)} ms`);
  console.log(`top-5 of ${out.name} [${out.shape.join('x')}]:`);
  for (const [i, v] of topK(outputs[out.name], 5)) console.log(`  class ${String(i).padStart(4)}  ${v.toFixed(6)}`);
  console.log('');
}
