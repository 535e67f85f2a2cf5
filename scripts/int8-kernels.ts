/**
 * One int8 conv (QConv) against the same f32 conv, each as a single wasm step timed alone,
 * interleaved, medians of process CPU time (user + system: on a shared machine, wall time counts the
 * other jobs' slices) (`tsx scripts/int8-kernels.ts`). The conv's input comes from a 1×1 conv
 * before it, so it is channels-last as inside a model (PLAIN=1: the graph input, planar).
 * Env: SHAPES (JSON list of {name, x, w, conv}), ONLY (name filter), N (rounds), CHECK=1 (int8
 * output compared with the reference interpreter first).
 */
import * as v8 from 'node:v8';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { tensor } from '../runtime/tensor.js';
import { WasmSession } from '../runtime/wasm/index.js';
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
let s0 = 7; const r = () => { s0 = (s0 * 1664525 + 1013904223) >>> 0; return s0 / 2 ** 32; };
const ints = (n: number, lo: number, hi: number) => Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
type S = { name: string; x: number[]; w: number[]; conv?: any };
const SH: S[] = (process.env.SHAPES ? JSON.parse(process.env.SHAPES) : [
  { name: 'mnv2 first 3x3s2', x: [1, 3, 224, 224], w: [32, 3, 3, 3], conv: { pads: [1, 1, 1, 1], strides: [2, 2] } },
  { name: 'mnv2 1x1 16->96', x: [1, 16, 112, 112], w: [96, 16, 1, 1] },
  { name: 'mnv2 1x1 32->16', x: [1, 32, 112, 112], w: [16, 32, 1, 1] },
  { name: 'mnv2 1x1 96->24', x: [1, 96, 56, 56], w: [24, 96, 1, 1] },
  { name: 'mnv2 dw 96 s2', x: [1, 96, 112, 112], w: [96, 1, 3, 3], conv: { pads: [1, 1, 1, 1], strides: [2, 2], group: 96 } },
  { name: 'mnv2 dw 144', x: [1, 144, 56, 56], w: [144, 1, 3, 3], conv: { pads: [1, 1, 1, 1], group: 144 } },
  { name: 'r18 3x3 64', x: [1, 64, 56, 56], w: [64, 64, 3, 3], conv: { pads: [1, 1, 1, 1] } },
  { name: 'r18 3x3 256', x: [1, 256, 14, 14], w: [256, 256, 3, 3], conv: { pads: [1, 1, 1, 1] } },
  { name: 'r18 7x7s2', x: [1, 3, 224, 224], w: [64, 3, 7, 7], conv: { pads: [3, 3, 3, 3], strides: [2, 2] } },
]).filter((s: S) => !process.env.ONLY || s.name.includes(process.env.ONLY));
async function stepFn(g: Graph, x: any, check: boolean) {
  const c = await compile(g, 'wasm');
  const s = await WasmSession.create(decodeArtifact(c.save()));
  const out = Object.values(await s.run({ x }))[0];
  if (check) {
    const want = interpret(g, { x })[g.outputs[0]].data as ArrayLike<number>;
    const got = out.data as ArrayLike<number>;
    for (let i = 0; i < want.length; i++) if (want[i] !== got[i]) throw new Error(`mismatch at ${i}: ${got[i]} vs ${want[i]}`);
  }
  const st = s.plan.steps.filter((t) => /Conv/.test(t.op)).pop()!;
  return s.exports[st.fn] as () => void;
}
for (const sh of SH) {
  const M = sh.w[0], nW = sh.w.reduce((a, b) => a * b, 1), nX = sh.x.reduce((a, b) => a * b, 1);
  const q = new Graph('q'); q.addInput('x', { dtype: 'u8', shape: sh.x });
  const wq = q.addConstant('w', tensor('i8', sh.w, Int8Array.from(ints(nW, -127, 127))));
  const bq = q.addConstant('b', tensor('i32', [M], Int32Array.from(ints(M, -3000, 3000))));
  const K = nW / M;
  const ws = Array.from({ length: M }, () => Math.fround(0.002 + 0.004 * r()));
  const C = sh.x[1];
  const pre = (g: Graph, w: any, b: any, attrs: any) => process.env.PLAIN ? 'x' : g.add(g === q ? 'QConv' : 'Conv', ['x', w, ...(b ? [b] : [])], attrs);
  const xin = pre(q, q.addConstant('w0', tensor('i8', [C, C, 1, 1], Int8Array.from(ints(C * C, -127, 127)))), q.addConstant('b0', tensor('i32', [C], new Int32Array(C))),
    { activation: 'relu', x_scale: 0.02, x_zero_point: 0, w_scale: [0.003], w_zero_point: [], y_scale: 0.125, y_zero_point: 0, out_dtype: 'u8' });
  q.setOutputs([q.add('QConv', [xin, wq, bq], { ...(sh.conv ?? {}), activation: 'clip', act_alpha: 0, act_beta: 6, x_scale: 0.02, x_zero_point: 0, w_scale: ws, w_zero_point: [], y_scale: Math.fround(0.02 * ws[0] * 60 * Math.sqrt(K)), y_zero_point: 0, out_dtype: 'u8' })]);
  const xq = tensor('u8', sh.x, Uint8Array.from(ints(nX, 0, 255)));
  const f = new Graph('f'); f.addInput('x', { dtype: 'f32', shape: sh.x });
  const wf = f.addConstant('w', tensor('f32', sh.w, Float32Array.from({ length: nW }, () => r() - 0.5)));
  const xfin = process.env.PLAIN ? 'x' : f.add('Relu', [pre(f, f.addConstant('w0', tensor('f32', [C, C, 1, 1], Float32Array.from({ length: C * C }, () => r() - 0.5))), undefined, {})]);
  f.setOutputs([f.add('Relu', [f.add('Conv', [xfin, wf], sh.conv ?? {})])]);
  const xf = tensor('f32', sh.x, Float32Array.from({ length: nX }, () => r()));
  const fq = await stepFn(q, xq, !!process.env.CHECK), ff = await stepFn(f, xf, false);
  const tq: number[] = [], tf: number[] = [];
  for (let i = 0; i < Number(process.env.N ?? 30); i++) {
    let t = cpuMs(); fq(); tq.push(cpuMs() - t);
    t = cpuMs(); ff(); tf.push(cpuMs() - t);
  }
  const a = median(tq), b = median(tf);
  console.log(`${sh.name.padEnd(20)} int8 ${a.toFixed(3)} ms  f32 ${b.toFixed(3)} ms  ratio ${(a / b).toFixed(2)}`);
}
