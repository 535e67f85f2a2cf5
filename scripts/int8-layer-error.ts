/**
 * Where the int8 error enters: for each quantized activation of a `cnnc quantize`d model (the input
 * of each int8 layer, dequantized), its cosine similarity and relative RMS error against the same
 * value of the f32 model, averaged over a few held-back seeded inputs; plus the logits'.
 *   npx tsx scripts/int8-layer-error.ts resnet18|mobilenet_v2 [--n 4] [--percentile P | --mse] [--bias-correction on|off|empirical]
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { quantizeOnnx, randomCalibration } from '../cli/quantize.js';
import { randomInput } from '../cli/util.js';
import { decodeModel } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';
import { compile } from '../index.js';

const args = process.argv.slice(2);
const opt = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args.splice(i, 2)[1] : undefined; };
const N = Number(opt('n') ?? 4);
const percentile = opt('percentile');
const mse = args.includes('--mse') ? (args.splice(args.indexOf('--mse'), 1), true) : false;
const bc = opt('bias-correction');
const name = args[0] ?? 'resnet18';
const f32 = readFileSync(path.resolve(import.meta.dirname, '../../shared/models', name, 'model.onnx'));
const q = await quantizeOnnx(f32, { calibration: randomCalibration(f32, 32), ...(percentile ? { method: { kind: 'percentile', percentile: Number(percentile) } } : mse ? { method: { kind: 'mse' } } : {}),
  ...(bc ? { biasCorrection: bc === 'empirical' ? 'empirical' as const : bc === 'on' } : {}) });

/** The model with `names` added as graph outputs. */
function withOutputs(bytes: Uint8Array, names: string[]): Uint8Array {
  const m = decodeModel(bytes);
  const have = new Set(m.graph!.output!.map((o) => o.name));
  m.graph!.output = [...m.graph!.output!, ...names.filter((n) => !have.has(n)).map((n) => onnx.ValueInfoProto.create({ name: n }))];
  return onnx.ModelProto.encode(m).finish();
}

const qm = decodeModel(q);
// the dequantized activations: DequantizeLinear outputs of non-constant values
const inits = new Set(qm.graph!.initializer!.map((t) => t.name));
// a graph input's dequantized copy is '<input>_dequantized' in the QDQ model: compare it with the input
const inputs = new Set(qm.graph!.input!.map((v) => v.name));
const pairs = qm.graph!.node!.filter((n) => n.opType === 'DequantizeLinear' && !inits.has(n.input![0])).map((n) => {
  const q0 = qm.graph!.node!.find((p) => p.output![0] === n.input![0]);
  const src = q0?.input![0] ?? '';
  return [inputs.has(src) ? src : n.output![0]!, n.output![0]!] as const;
});
const out = qm.graph!.output![0].name!;
pairs.push([out, out]);
const names = pairs.map(([a, b]) => `${a} / ${b}`);
const cf = await compile(withOutputs(f32, pairs.map((p) => p[0]).filter((n) => !inputs.has(n))), 'wasm'), cq = await compile(withOutputs(q, pairs.map((p) => p[1])), 'wasm');
const cos = new Float64Array(names.length), rel = new Float64Array(names.length);
for (let k = 0; k < N; k++) {
  const x = randomInput('f32', cf.inputs[0].shape, 500000 + k);
  const a = await cf.run({ [cf.inputs[0].name]: x }), b = await cq.run({ [cq.inputs[0].name]: x });
  pairs.forEach(([fa, qb], i) => {
    const p = (inputs.has(fa) ? x : a[fa]).data as Float32Array, r = b[qb].data as Float32Array;
    let d = 0, na = 0, nb = 0, e = 0;
    for (let j = 0; j < p.length; j++) { d += p[j] * r[j]; na += p[j] ** 2; nb += r[j] ** 2; e += (p[j] - r[j]) ** 2; }
    cos[i] += d / Math.sqrt(na * nb) / N;
    rel[i] += Math.sqrt(e / na) / N;
  });
}
names.forEach((v, i) => console.log(`${String(i).padStart(3)} ${v.padEnd(50)} cos ${cos[i].toFixed(5)}  rel.rms ${rel[i].toFixed(4)}`));
