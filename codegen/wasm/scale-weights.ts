/**
 * Scale on load for wasm convs (Conv input 4: conv(X · S[n, c]), the closing Mul of
 * squeeze-and-excitation fused by passes/fuse-scale-on-load.ts). A conv is linear in each input
 * channel, so conv(X · s) is the conv of X with W'[m, c, k] = W[m, c, k] · s[c]: a step before the
 * conv scales a copy of its packed weights per image (M·Cg·kh·kw multiplies), and the conv kernel
 * runs unchanged on the copy. The feature map is then read once, by the conv; the Mul kernel this
 * replaces read and wrote all H·W·C of it. Scaling inside the register-tiled microkernel instead was
 * measured 1.3–2× slower on EfficientNet-B0's projection convs.
 *
 * Numerics: x·(w·s) instead of (x·s)·w, one rounding moved. With |s| ≤ 1 neither w·s nor x·s can
 * overflow, so ±Inf and NaN come out where the reference's do (a zero times an infinity is NaN in
 * both orders); scaleWeightsProblem therefore takes only scales from a gate bounded by 1.
 */
import type binaryen from 'binaryen';
import type { Graph, Node } from '../../ir/graph.js';
import { FnBuilder, Ops, i32, none, v128 } from './builder.js';

/** Activations whose outputs lie in [0, 1] (NaN aside). */
const BOUNDED_GATES = new Set(['sigmoid', 'hard_sigmoid']);

/** Whether `v` comes from a gate bounded by 1: a SqueezeExcitationGate, Sigmoid or HardSigmoid node. */
function boundedGate(g: Graph, v: string): boolean {
  const p = g.nodes.find((n) => n.outputs.includes(v));
  if (!p) return false;
  if (p.op === 'SqueezeExcitationGate') return BOUNDED_GATES.has(String(p.attrs.gate_activation ?? ''));
  return p.op === 'Sigmoid' || p.op === 'HardSigmoid';
}

/**
 * Why the wasm conv cannot take `n`'s input scale by scaling its weights, or undefined.
 * `weightsPerImage` = M·Cg·kh·kw, `map` = H·W·C of the input.
 */
export function scaleWeightsProblem(n: Node, g: Graph, depthwise: boolean, weightsPerImage: number, map: number): string | undefined {
  if (depthwise) return 'scales the input of a depthwise conv only through the separate Mul';
  if (!boundedGate(g, n.inputs[4])) return 'scales conv weights only by a gate bounded by 1 (Sigmoid, HardSigmoid): a larger scale could overflow where X · S does not';
  if (weightsPerImage > map) return `keeps the Mul: scaling the conv's ${weightsPerImage} weights per image costs more than the ${map}-value map it would spare`;
  return undefined;
}

export interface ScaleWeightsSpec {
  /** Packed weights ([block][k][c][MB lanes], conv.ts packConvWeights): address and length in floats (a multiple of 4). */
  W: number;
  len: number;
  /** Input channels per group and vectors per channel block (MB = 4·V lanes). */
  Cg: number;
  V: number;
  /** The scales of this image's group: Cg consecutive floats. */
  S: number;
  /** Where the scaled copy goes (len floats, then 4 zeros: the padding every weight slot has). */
  D: number;
}

/** `name()`: D = W · S[c] for each packed weight of input channel c, for every (image, group) spec in turn. */
export function emitScaleWeights(m: binaryen.Module, name: string, specs: ScaleWeightsSpec[]): void {
  const fb = new FnBuilder(m, 0), o = new Ops(m);
  const r = fb.local(i32), c = fb.local(i32), p = fb.local(i32), sv = fb.local(v128);
  const body = specs.flatMap((s) => {
    const MB = 4 * s.V, rows = s.len / (MB * s.Cg);
    return [
      fb.set(p, o.c(0)),
      fb.loop(r, o.c(0), rows, 1, [
        fb.loop(c, o.c(0), s.Cg, 1, [
          fb.set(sv, o.sload(m.i32.shl(fb.geti(c), o.c(2)), s.S)),
          ...Array.from({ length: s.V }, (_, v) => o.vstore(fb.geti(p), m.f32x4.mul(o.vload(fb.geti(p), s.W + v * 16), fb.getv(sv)), s.D + v * 16)),
          fb.set(p, o.addc(fb.geti(p), MB * 4)),
        ]),
      ]),
      o.vstore(o.c(s.D + s.len * 4), o.splat(0)),
    ];
  });
  m.addFunction(name, none, none, fb.vars, m.block(null, body));
}
