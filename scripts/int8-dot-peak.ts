/**
 * How many multiply-accumulates per nanosecond each wasm SIMD dot product sustains on this machine,
 * in the shape of an int8 conv's inner loop: per iteration one 4-byte input splat and K accumulators,
 * each fed a weight vector loaded from memory (`npx tsx scripts/int8-dot-peak.ts`; CPU time, best of 9 after 3 warm-up calls):
 *   - dot16: `i32x4.dot_i16x8_s` of sign-extended 8-byte weight loads, then `i32x4.add` (8 MACs): what
 *     cnnc's int8 kernels use (codegen/wasm/kernels-quant.ts);
 *   - relaxed dot: `i32x4.relaxed_dot_i8x16_i7x16_add_s` (16 MACs, the add included; one operand
 *     must be 0..127 for a defined result, which u8 activations and ±127 weights are not);
 *   - f32 FMA: `f32x4.relaxed_madd` (4 MACs), the f32 kernels' instruction.
 * With K = 8 the loop is bound by each accumulator's latency; K = 12 shows the throughput.
 * First it checks that the engine computes the relaxed dot as the proposal defines it (4 products
 * per lane): on Node 20 (V8 11.3, behind --experimental-wasm-relaxed-simd) the opcode binaryen emits
 * for it gives 8 per lane for all-ones operands, so there its timing is not that instruction's and is
 * left out.
 */
import * as v8 from 'node:v8';
import binaryen from 'binaryen';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

function loop(K: number, op: (k: number) => string): string {
  const locals = Array.from({ length: K }, (_, k) => `(local $a${k} v128)`).join(' ');
  const body = Array.from({ length: K }, (_, k) => `(local.set $a${k} ${op(k)})`).join('\n');
  return `(module (memory 4)
  (func (export "f") (param $n i32) (result i32) ${locals} (local $x v128) (local $p i32)
    (loop $L
      (local.set $p (i32.and (i32.mul (local.get $n) (i32.const 64)) (i32.const 65535)))
      (local.set $x (v128.load32_splat (i32.add (local.get $p) (i32.const 131072))))
      ${body}
      (br_if $L (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32x4.extract_lane 0 (i32x4.add (local.get $a0) (local.get $a${K - 1})))))`;
}

const VARIANTS: { name: string; macs: number; op: (k: number) => string }[] = [
  { name: 'dot16 (dot_i16x8_s + add)', macs: 8, op: (k) => `(i32x4.add (local.get $a${k}) (i32x4.dot_i16x8_s (v128.load8x8_s offset=${k * 8} (local.get $p)) (local.get $x)))` },
  { name: 'relaxed dot (i8x16·i7x16 + acc)', macs: 16, op: (k) => `(i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load offset=${k * 16} (local.get $p)) (local.get $x) (local.get $a${k}))` },
  { name: 'f32 relaxed_madd', macs: 4, op: (k) => `(f32x4.relaxed_madd (v128.load offset=${k * 16} (local.get $p)) (local.get $x) (local.get $a${k}))` },
];

/** acc + Σ a·b over each lane's 4 bytes, as the engine computes it for a = b = 1 (the proposal: 4). */
function relaxedDotOfOnes(): number {
  const m = binaryen.parseText(`(module (memory (export "mem") 1) (func (export "f")
    (v128.store (i32.const 32) (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load (i32.const 0)) (v128.load (i32.const 16)) (v128.const i32x4 0 0 0 0)))))`);
  m.setFeatures(binaryen.Features.All);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.emitBinary() as Uint8Array<ArrayBuffer>));
  m.dispose();
  const mem = new Uint8Array((inst.exports.mem as WebAssembly.Memory).buffer);
  mem.fill(1, 0, 32);
  (inst.exports.f as () => void)();
  return new Int32Array(mem.buffer, 32, 1)[0];
}

/** The loops' modules: [K, variant, wasm bytes]. */
function modules(withRelaxedDot: boolean): { K: number; name: string; macs: number; bytes: Uint8Array }[] {
  const out = [];
  for (const K of [8, 12]) {
    for (const v of VARIANTS.filter((x) => withRelaxedDot || !x.name.startsWith('relaxed dot'))) {
      const m = binaryen.parseText(loop(K, v.op));
      m.setFeatures(binaryen.Features.All);
      if (!m.validate()) throw new Error(`${v.name}: invalid module`);
      out.push({ K, name: v.name, macs: K * v.macs, bytes: m.emitBinary() as Uint8Array });
      m.dispose();
    }
  }
  return out;
}

const n = 1e7;
if (process.argv.includes('--chromium')) {
  // the same loops in headless Chromium (relaxed SIMD on; wall time, best of 7 after 2 warm-up calls)
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const mods = modules(true).map((x) => ({ ...x, bytes: Array.from(x.bytes) }));
    const probe = binaryen.parseText(`(module (memory (export "mem") 1) (func (export "f")
      (v128.store (i32.const 32) (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load (i32.const 0)) (v128.load (i32.const 16)) (v128.const i32x4 0 0 0 0)))))`);
    probe.setFeatures(binaryen.Features.All);
    const probeBytes = Array.from(probe.emitBinary() as Uint8Array);
    const lines = await page.evaluate(`(async () => {
      const mods = ${JSON.stringify(mods)}, n = ${n}, out = [];
      const pi = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(${JSON.stringify(probeBytes)})));
      const mem = new Uint8Array(pi.exports.mem.buffer);
      for (const [a, b, want] of [[1, 1, 4], [127, 255, 129540], [128, 255, -130560]]) {
        mem.fill(a, 0, 16); mem.fill(b, 16, 32); pi.exports.f();
        out.push('relaxed dot of bytes a = ' + a + ', b = ' + b + ': ' + new Int32Array(mem.buffer, 32, 1)[0] + ' per lane (u8 · i8 exactly: ' + want + ')');
      }
      for (const m of mods) {
        const f = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(m.bytes))).exports.f;
        f(n); f(n);
        let best = Infinity;
        for (let r = 0; r < 7; r++) { const t0 = performance.now(); f(n); best = Math.min(best, performance.now() - t0); }
        out.push('K=' + m.K + ' ' + m.name + ': ' + (n * m.macs / (best * 1e6)).toFixed(1) + ' MACs/ns');
      }
      return out;
    })()`) as string[];
    console.log(`headless Chromium (${browser.version()}):\n${lines.join('\n')}`);
  } finally {
    await browser.close();
  }
} else {
  const ones = relaxedDotOfOnes();
  if (ones !== 4) console.log(`relaxed dot of all-ones operands: ${ones} per lane where the proposal gives 4: this engine computes another instruction for that opcode, its timing is left out`);
  const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  for (const { K, name, macs, bytes } of modules(ones === 4)) {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>));
    const f = inst.exports.f as (n: number) => number;
    for (let w = 0; w < 3; w++) f(n); // past Liftoff: TurboFan tiers up in the background
    let best = Infinity;
    for (let r = 0; r < 9; r++) { const t0 = cpuMs(); f(n); best = Math.min(best, cpuMs() - t0); }
    console.log(`K=${K} ${name}: ${(n * macs / (best * 1e6)).toFixed(1)} MACs/ns`);
  }
}
