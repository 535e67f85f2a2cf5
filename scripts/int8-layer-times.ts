/**
 * Per-step timing of cnnc's int8 wasm build against its f32 build (`tsx scripts/int8-layer-times.ts
 * [model ...]`): quantizes ../shared/models/<model> with `cnnc quantize` (8 seeded calibration
 * inputs; the quantized file is cached under $TMPDIR), then times every step function of both
 * modules alone, interleaved round by round (medians of process CPU time, user + system: on a shared
 * machine, wall time counts the other jobs' slices), and prints the conv/gemm steps side by side
 * in execution order with their totals. For finding the int8 kernels that lag f32.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quantizeOnnx, randomCalibration } from '../cli/quantize.js';
import { randomInput } from '../cli/util.js';
import { compile } from '../index.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { WasmSession } from '../runtime/wasm/index.js';
import { enableRelaxedSimd } from '../bench/litert.js';

const MODELS = path.resolve(import.meta.dirname, '../../shared/models');
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

async function session(bytes: Uint8Array) {
  const c = await compile(bytes, 'wasm');
  const input = c.inputs[0];
  const s = await WasmSession.create(decodeArtifact(c.save()));
  s.runSync({ [input.name]: randomInput('f32', input.shape, 4242) });
  return s;
}

async function main() {
  enableRelaxedSimd();
  const names = process.argv.slice(2).length ? process.argv.slice(2) : ['mobilenet_v2', 'resnet18'];
  for (const name of names) {
    const f32 = readFileSync(path.join(MODELS, name, 'model.onnx'));
    const cached = path.join(os.tmpdir(), `cnnc-int8-${name}.onnx`);
    if (!existsSync(cached)) writeFileSync(cached, await quantizeOnnx(f32, { calibration: randomCalibration(f32, 8) }));
    const sf = await session(f32), sq = await session(readFileSync(cached));
    const steps = [...sf.plan.steps.map((st) => ({ s: sf, st })), ...sq.plan.steps.map((st) => ({ s: sq, st }))];
    const times = steps.map(() => [] as number[]);
    for (let r = 0; r < ROUNDS; r++) {
      steps.forEach(({ s, st }, i) => {
        const fn = s.exports[st.fn] as () => void;
        const t0 = cpuMs();
        fn();
        times[i].push(cpuMs() - t0);
      });
    }
    const ms = times.map(median);
    const rows = (s: WasmSession) => steps.map((x, i) => ({ ...x, ms: ms[i] })).filter((x) => x.s === s);
    const conv = (op: string) => /^(Conv|Gemm|QConv|QGemm|FusedConv|FusedDwPw)/.test(op);
    const f = rows(sf), q = rows(sq);
    const fc = f.filter((x) => conv(x.st.op)), qc = q.filter((x) => conv(x.st.op));
    console.log(`\n${name}: f32 total ${f.reduce((a, x) => a + x.ms, 0).toFixed(2)} ms, int8 total ${q.reduce((a, x) => a + x.ms, 0).toFixed(2)} ms`);
    console.log(`  conv/gemm: f32 ${fc.reduce((a, x) => a + x.ms, 0).toFixed(2)} ms (${fc.length}), int8 ${qc.reduce((a, x) => a + x.ms, 0).toFixed(2)} ms (${qc.length})`);
    const other = q.filter((x) => !conv(x.st.op));
    console.log(`  int8 other steps: ${other.reduce((a, x) => a + x.ms, 0).toFixed(2)} ms: ${other.filter((x) => x.ms > 0.05).map((x) => `${x.st.op}:${x.st.fn} ${x.ms.toFixed(2)}`).join(', ')}`);
    for (let i = 0; i < Math.max(fc.length, qc.length); i++) {
      const a = fc[i], b = qc[i];
      const gf = (x: typeof a) => (x ? `${x.st.fn.padEnd(34)} ${x.ms.toFixed(3).padStart(7)} ms ${(x.st.flops / x.ms / 1e6).toFixed(1).padStart(5)} GOP/s` : ''.padEnd(60));
      console.log(`  ${gf(a)} | ${gf(b)} ${a && b ? (b.ms / a.ms).toFixed(2) : ''}`);
    }
  }
}
await main();
