/**
 * The ONNX node tests that the reference target passes, through compile(model, 'wgsl') and the
 * WebGPU runtime: counts pass / refused (UNSUPPORTED at compile time) / wrong / error, and prints
 * each non-pass with its reason. Usage: tsx scripts/wgsl-conformance.ts [name regex] [out.json]
 * (until the conformance runner covers every target, issue 14).
 */
import fs from 'node:fs';
import path from 'node:path';
import { discover, runTest, readDataSet, compare } from '../test/conformance/runner.js';
import { compile } from '../index.js';
import { importOnnx, decodeModel } from '../frontends/onnx/import.js';
import { CnncError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';

const filt = new RegExp(process.argv[2] ?? '.');
const tests = discover().filter((t) => t.inScope && (t.source === 'node' || t.source === 'onnx-node-tests') && filt.test(t.name));
const res: Record<string, string[]> = { pass: [], refused: [], wrong: [], error: [] };
const detail: Record<string, string> = {};
for (const t of tests) {
  if (runTest(t).status !== 'pass') continue;
  let status = 'pass', why = '';
  try {
    const bytes = fs.readFileSync(path.join(t.dir, 'model.onnx'));
    const sets = fs.readdirSync(t.dir).filter((d) => d.startsWith('test_data_set_')).sort();
    for (const set of sets) {
      const names = (decodeModel(bytes).graph?.input ?? []).map((v) => v.name ?? '');
      const { given, outputs } = readDataSet(path.join(t.dir, set), names);
      const g = importOnnx(bytes, { modelDir: t.dir, inputValues: given });
      const c = await compile(g, 'wgsl');
      const feed: Record<string, Tensor> = {};
      for (const n of g.inputs) feed[n] = given[n];
      const outs = await c.run(feed);
      for (const [k, want] of outputs.entries()) {
        const d = compare(outs[g.outputs[k]], want);
        if (d) { status = 'wrong'; why = `${set} out ${k}: ${d}`; break; }
      }
      if (status !== 'pass') break;
    }
  } catch (e) {
    if (e instanceof CnncError && e.code === 'UNSUPPORTED') { status = 'refused'; why = e.message; }
    else { status = 'error'; why = String((e as Error)?.message ?? e).slice(0, 300); }
  }
  res[status].push(t.id);
  detail[t.id] = why;
  if (status !== 'pass') console.log(status.padEnd(8), t.name, why.slice(0, 200));
}
console.log(Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.length])));
if (process.argv[3]) fs.writeFileSync(process.argv[3], JSON.stringify({ res, detail }, null, 1));
process.exit(0);
