/**
 * Top-1 agreement of `cnnc quantize`d models with their f32 versions, the int8 bench's protocol
 * (bench/int8.ts): 32 seeded calibration inputs, 200 held-back seeded inputs (seeds 500000 + k),
 * both models on cnnc's wasm build. Also counts held-back inputs whose top int8 logits tie.
 *   npx tsx scripts/int8-agreement.ts [model ...] [--outputs all|read] [--percentile P | --mse] [--keep first,last] [--n 200] [--bias-correction on|off|empirical] [--f32-lead SHARE] [--equalize ALPHA] [--weights-only]
 * --weights-only: the QDQ model with its activation QuantizeLinear → DequantizeLinear pairs removed (weights int8, activations f32).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { quantizeOnnx, randomCalibration, type QuantizeOptions } from '../cli/quantize.js';
import { randomInput } from '../cli/util.js';
import { compile } from '../index.js';
import { decodeModel } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';
import { load } from '../runtime/index.js';

const args = process.argv.slice(2);
const opt = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args.splice(i, 2)[1] : undefined; };
const outputs = (opt('outputs') ?? 'read') as 'read' | 'all';
const percentile = opt('percentile');
const mse = args.includes('--mse') ? (args.splice(args.indexOf('--mse'), 1), true) : false;
const keep = opt('keep');
const N = Number(opt('n') ?? 200);
const bc = opt('bias-correction');
const lead = opt('f32-lead');
const eq = opt('equalize');
const weightsOnly = args.includes('--weights-only') ? (args.splice(args.indexOf('--weights-only'), 1), true) : false;
const names = args.length ? args : ['resnet18', 'mobilenet_v2'];
const MODELS = path.resolve(import.meta.dirname, '../../shared/models');

const argmax = (a: ArrayLike<number>) => { let k = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[k]) k = i; return k; };

/** The QDQ model with each QuantizeLinear of an activation and its DequantizeLinear removed (readers rewired to the f32 value). */
function withoutActivationQdq(bytes: Uint8Array): Uint8Array {
  const m = decodeModel(bytes), g = m.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const rename = new Map<string, string>(), drop = new Set<object>();
  for (const q of g.node ?? []) {
    if (q.opType !== 'QuantizeLinear' || inits.has(q.input![0])) continue;
    for (const dq of (g.node ?? []).filter((n) => n.opType === 'DequantizeLinear' && n.input![0] === q.output![0])) {
      rename.set(dq.output![0], q.input![0]);
      drop.add(dq);
    }
    drop.add(q);
  }
  g.node = (g.node ?? []).filter((n) => !drop.has(n));
  for (const n of g.node) n.input = n.input!.map((v) => rename.get(v) ?? v);
  for (const o of g.output ?? []) o.name = rename.get(o.name!) ?? o.name;
  return onnx.ModelProto.encode(m).finish();
}

for (const name of names) {
  const f32 = readFileSync(path.join(MODELS, name, 'model.onnx'));
  const o: QuantizeOptions = {
    calibration: randomCalibration(f32, 32), outputs,
    ...(percentile ? { method: { kind: 'percentile', percentile: Number(percentile) } } : mse ? { method: { kind: 'mse' } } : {}),
    ...(keep ? { keepFloat: keep.split(',') as ('first' | 'last')[] } : {}),
    ...(lead ? { leadingF32Share: Number(lead) } : {}),
    ...(eq ? { equalizeStreams: Number(eq) } : {}),
    ...(bc ? { biasCorrection: bc === 'empirical' ? 'empirical' as const : bc === 'on' } : {}),
  };
  const t0 = performance.now();
  const q = await quantizeOnnx(f32, { ...o, log: (l) => console.log(`${name}: ${l} (${((performance.now() - t0) / 1000).toFixed(1)} s)`) });
  const cf = await compile(f32, 'wasm'), cq = await compile(weightsOnly ? withoutActivationQdq(q) : q, 'wasm');
  const sf = await load(cf.save(), { threads: 1 }), sq = await load(cq.save(), { threads: 1 });
  const input = cf.inputs[0];
  let agree = 0, ties = 0;
  for (let k = 0; k < N; k++) {
    const h = randomInput('f32', input.shape, 500000 + k);
    const a = argmax(Object.values(await sf.run({ [input.name]: h }))[0].data as Float32Array);
    const yq = Object.values(await sq.run({ [input.name]: h }))[0].data as Float32Array;
    const b = argmax(yq);
    if (a === b) agree++;
    if (yq.filter((v) => v === yq[b]).length > 1) ties++;
  }
  const ops = cq.graph.nodes.map((n) => `${n.op}${n.attrs.out_dtype === 'f32' ? '(f32 out)' : ''}`);
  const count = (s: string) => ops.filter((x) => x === s).length;
  console.log(`${name}: agreement ${(100 * agree / N).toFixed(1)}% (${agree}/${N}), ties ${ties}, weights ${(cq.stats.weightBytes / cf.stats.weightBytes).toFixed(3)}x, ` +
    `QConv ${count('QConv')} + ${count('QConv(f32 out)')} f32-out, QGemm ${count('QGemm')} + ${count('QGemm(f32 out)')} f32-out, f32 Conv/Gemm ${count('Conv') + count('Gemm')} [outputs ${outputs}${percentile ? `, p${percentile}` : ''}${mse ? ', mse' : ''}${keep ? `, keep ${keep}` : ''}${bc ? `, bias correction ${bc}` : ''}${lead ? `, f32 lead ${lead}` : ''}${eq ? `, equalize ${eq}` : ''}${weightsOnly ? ', weights only' : ''}]`);
}
