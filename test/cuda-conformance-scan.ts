/**
 * Scan: the reference-passing ONNX conformance tests through the CUDA target on the CPU emulator.
 * Each test: pipeline for cuda, refusals from supports() (as compile() does), lowerCuda; then one
 * fake driver (codegen/cuda/emu) serving every lowered module, and runtime/cuda runs each one.
 * Usage: npx tsx test/cuda-conformance-scan.ts [filter-regex] [--list]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { discover, runTest, compare, readDataSet } from './conformance/runner.js';
import { decodeModel, importOnnx } from '../frontends/onnx/import.js';
import { verify } from '../ir/verify.js';
import { runPipeline } from '../passes/pipeline.js';
import { supports } from '../codegen/cuda/supports.js';
import { lowerCuda, type CudaModule } from '../codegen/cuda/lower.js';
import { buildFakeDriver } from '../codegen/cuda/emu.js';
import { encodeArtifact, decodeArtifact } from '../runtime/artifact.js';
import { CUDA_SECTIONS } from '../runtime/cuda/plan.js';
import type { Tensor } from '../runtime/tensor.js';

const filter = new RegExp(process.argv[2] ?? '.');
type Row = { id: string; status: 'pass' | 'refused' | 'wrong' | 'error'; reason: string };
const rows: Row[] = [];
const pending: { id: string; mod: CudaModule; sets: { given: Record<string, Tensor>; outputs: Tensor[] }[]; names: string[] }[] = [];

for (const t of discover()) {
  if (!filter.test(t.id)) continue;
  if (runTest(t).status !== 'pass') continue;
  try {
    const bytes = fs.readFileSync(path.join(t.dir, 'model.onnx'));
    const inputNames = (decodeModel(bytes).graph?.input ?? []).map((v) => v.name ?? '');
    const setDirs = fs.readdirSync(t.dir).filter((d) => d.startsWith('test_data_set_')).sort();
    const sets = setDirs.map((s) => readDataSet(path.join(t.dir, s), inputNames));
    const g0 = importOnnx(bytes, { modelDir: t.dir, inputValues: sets[0].given });
    verify(g0);
    const g = runPipeline(g0, 'cuda', {}).graph;
    verify(g);
    const faults = g.nodes.map((n) => [n, supports(n, g)] as const).filter(([, r]) => r);
    if (faults.length) { rows.push({ id: t.id, status: 'refused', reason: faults.map(([n, r]) => `${n.op}: ${r}`).join('; ') }); continue; }
    pending.push({ id: t.id, mod: lowerCuda(g), sets, names: g.inputs });
  } catch (e) {
    const m = (e as Error).message ?? String(e);
    rows.push({ id: t.id, status: /UNSUPPORTED/.test(m) ? 'refused' : 'error', reason: `(lower) ${m.slice(0, 300)}` });
  }
}

if (pending.length) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cnnc-cuda-scan-'));
  const t0 = Date.now();
  Object.assign(process.env, buildFakeDriver(pending.map((p) => p.mod), dir));
  console.error(`fake driver: ${pending.length} modules built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const { CudaSession } = await import('../runtime/cuda/index.js');
  for (const p of pending) {
    try {
      const { plan } = p.mod;
      const art = encodeArtifact({
        header: { version: 1, target: 'cuda', inputs: plan.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape })), outputs: plan.outputs.map(({ name, dtype, shape }) => ({ name, dtype, shape })), plan, meta: {} },
        sections: { [CUDA_SECTIONS.weights]: p.mod.weights, [CUDA_SECTIONS.ptx]: new TextEncoder().encode('.entry emulated'), [CUDA_SECTIONS.source]: new TextEncoder().encode(p.mod.source) },
      });
      const s = await CudaSession.create(decodeArtifact(art));
      let bad = '';
      for (const [k, set] of p.sets.entries()) {
        const feed: Record<string, Tensor> = {};
        // ONNX 1.12 wrote bfloat16 test data as UINT16 bits (as the runner, relabel them)
        for (const n of p.names) feed[n] = set.given[n].dtype === 'u16' && plan.inputs.find((x) => x.name === n)?.dtype === 'bf16' ? { ...set.given[n], dtype: 'bf16' } : set.given[n];
        const got = await s.run(feed);
        for (const [i, want] of set.outputs.entries()) {
          const d = compare(got[plan.outputs[i].name], want);
          if (d) { bad = `set ${k} output ${i}: ${d}`; break; }
        }
        if (bad) break;
      }
      rows.push({ id: p.id, status: bad ? 'wrong' : 'pass', reason: bad });
    } catch (e) {
      rows.push({ id: p.id, status: 'error', reason: `(run) ${((e as Error).message ?? String(e)).slice(0, 300)}` });
    }
  }
}

const count = (s: Row['status']) => rows.filter((r) => r.status === s).length;
console.log(`total ${rows.length}: pass ${count('pass')}, refused ${count('refused')}, wrong ${count('wrong')}, error ${count('error')}`);
for (const r of rows) if (r.status !== 'pass') console.log(`${r.status}\t${r.id}\t${r.reason}`);
