/**
 * Counts the ONNX node tests that pass on the reference target through compile(model, 'wasm'):
 * pass / refused (UNSUPPORTED before any code) / wrong (compiled, different answer) / error.
 * Usage: npx tsx scripts/wasm-conformance.ts [filter-regex] [--list]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compile } from '../index.js';
import { CnncError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { decodeModel, importOnnx } from '../frontends/onnx/import.js';
import { compare, discover, readDataSet, runTest } from '../test/conformance/runner.js';

const filter = new RegExp(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : '.');
const list = process.argv.includes('--list');
const counts = { pass: 0, refused: 0, wrong: 0, error: 0 };
const reasons = new Map<string, number>();
for (const t of discover()) {
  if (t.source !== 'node' && t.source !== 'onnx-node-tests') continue;
  if (!filter.test(t.name)) continue;
  if (runTest(t).status !== 'pass') continue;
  let status: keyof typeof counts = 'pass', why = '';
  try {
    const bytes = fs.readFileSync(path.join(t.dir, 'model.onnx'));
    const names = (decodeModel(bytes).graph?.input ?? []).map((v) => v.name ?? '');
    for (const set of fs.readdirSync(t.dir).filter((d) => d.startsWith('test_data_set_')).sort()) {
      const { given, outputs } = readDataSet(path.join(t.dir, set), names);
      const g = importOnnx(bytes, { modelDir: t.dir, inputValues: given });
      const c = await compile(g, 'wasm');
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
    if (e instanceof CnncError && e.code === 'UNSUPPORTED') { status = 'refused'; why = e.message.replace(/^.*?: /, '').slice(0, 160); }
    else { status = 'error'; why = String((e as Error)?.message ?? e).slice(0, 200); }
  }
  counts[status]++;
  if (status !== 'pass') {
    const key = `${status}: ${why.replace(/'[^']*'/g, "'_'").replace(/\d+/g, 'N').slice(0, 110)}`;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
    if (list || status === 'wrong' || status === 'error') console.log(`${status}\t${t.id}\t${why}`);
  }
}
console.log(JSON.stringify(counts));
for (const [k, v] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(String(v).padStart(4), k);
