/**
 * Builds the browser demo into a folder: compiles a DSL zoo model (LeNet-5) and an ONNX model from
 * ../shared/models (SqueezeNet 1.1) for 'wgsl' and 'wasm', writes their artifacts and inputs, and
 * bundles main.ts (the runtime only) with esbuild.   npx tsx examples/web/build.ts [outDir]
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { compile } from '../../index.js';
import { loadOnnxFile } from '../../frontends/onnx/import.js';
import type { Graph } from '../../ir/graph.js';
import { zoo } from '../../models/index.js';
import { tensor, type Tensor } from '../../runtime/tensor.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const SHARED_MODELS = resolve(HERE, '../../../shared/models');

export interface DemoModel { name: string; graph: Graph; input: Tensor }

/** The demo's models: what the page runs, with the graph and input a test needs to check it. */
export function demoModels(onnx = 'squeezenet1_1'): DemoModel[] {
  const lenet = zoo('lenet5');
  const shape = lenet.type('input').shape;
  const models: DemoModel[] = [{
    name: 'lenet5 (DSL zoo)', graph: lenet,
    input: tensor('f32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37) * 1.5)),
  }];
  const dir = join(SHARED_MODELS, onnx);
  if (existsSync(dir)) {
    const g = loadOnnxFile(join(dir, 'model.onnx'));
    const raw = readFileSync(join(dir, 'test_data_set_0/input_0.bin'));
    const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    models.push({ name: `${onnx} (ONNX)`, graph: g, input: tensor('f32', g.type('input').shape, data) });
  }
  return models;
}

export async function buildDemo(outDir: string, models: DemoModel[] = demoModels()): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const entries = [];
  for (const [k, m] of models.entries()) {
    const base = `model${k}`;
    writeFileSync(join(outDir, `${base}.wgsl.cnnc`), (await compile(m.graph, 'wgsl')).save());
    writeFileSync(join(outDir, `${base}.wasm.cnnc`), (await compile(m.graph, 'wasm')).save());
    const d = m.input.data as Float32Array;
    writeFileSync(join(outDir, `${base}.input.bin`), new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    entries.push({ name: m.name, wgsl: `./${base}.wgsl.cnnc`, wasm: `./${base}.wasm.cnnc`, input: `./${base}.input.bin`, shape: m.input.shape });
  }
  writeFileSync(join(outDir, 'models.json'), JSON.stringify(entries, null, 2));
  copyFileSync(join(HERE, 'index.html'), join(outDir, 'index.html'));
  await build({
    entryPoints: [join(HERE, 'main.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
    outfile: join(outDir, 'bundle.js'), logLevel: 'error',
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(HERE, 'dist'));
  await buildDemo(out);
  console.log(`built the demo into ${out}; serve it with: npx tsx examples/web/serve.ts ${out}`);
}
