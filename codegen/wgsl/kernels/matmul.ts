/**
 * The GEMM template every matrix-shaped kernel uses (conv as implicit GEMM, 1×1 conv, FusedDwPw,
 * Gemm, MatMul): C[z][r][c] = Σ_k L(z, r, k) · R(z, k, c), with the caller's WGSL functions
 *   fn loadL(z: u32, r: u32, k: u32) -> f32
 *   fn loadR(z: u32, k: u32, c: u32) -> f32
 *   fn store(z: u32, r: u32, c: u32, v: f32)        (the fused epilogue)
 * Tiles of L and R are staged in workgroup memory; each thread accumulates a TR×TC block in f32.
 * When there are at most 4 rows (a batch-1 fully connected layer) a GEMV form is used instead:
 * one workgroup per output column, its threads splitting K and reducing in workgroup memory.
 */
import type { WgslLimits } from '../emit.js';
import { ceilDiv, u, type Kernel } from '../kernel.js';

export interface MatmulShape {
  rows: number;
  cols: number;
  depth: number;
  batch: number;
  /** loadR is expensive (FusedDwPw computes the depthwise conv in it): favour tall tiles, which call it less often. */
  costlyR?: boolean;
}

type Body = Pick<Kernel, 'decls' | 'body' | 'workgroupSize' | 'dispatch' | 'workgroupBytes'>;

/** Tile sizes for a GEMM shape under the limits: [wx, wy, TR, TC, BK]. */
function tiles(s: MatmulShape, lim: WgslLimits): [number, number, number, number, number] {
  const inv = 2 ** Math.floor(Math.log2(Math.min(128, lim.maxComputeInvocationsPerWorkgroup)));
  const wx = inv >= 128 ? 16 : 8;
  const wy = inv / wx;
  // Bigger register tiles where the problem fills them: 8×8 per thread ran ≈1.8× faster than 4×4
  // on llvmpipe (384³: 4.5 vs 2.5 GFLOP/s), fewer workgroup-memory loads per FMA.
  if (inv >= 128 && s.costlyR && s.rows >= 64) return [8, 16, 8, 4, 8];
  if (inv >= 128 && s.rows >= 64 && s.cols >= 128) return [16, 8, 8, 8, 8];
  if (inv >= 128 && s.rows >= 32 && s.cols >= 128) return [16, 8, 4, 8, 8];
  if (s.rows <= 8) return [inv / 2, 2, 4, 4, 8];
  if (s.rows <= 16) return [inv / 4, 4, 4, 4, 8];
  return [wx, wy, 4, 4, 16];
}

export function matmulBody(s: MatmulShape, fns: string, lim: WgslLimits): Body {
  if (s.rows <= 4 && s.cols > s.rows) return gemvBody(s, fns, lim);
  const [wx, wy, TR, TC, BK] = tiles(s, lim);
  const BR = wy * TR, BC = wx * TC, T = wx * wy;
  const decls = `
const ROWS = ${u(s.rows)};
const COLS = ${u(s.cols)};
const DEPTH = ${u(s.depth)};
const BR = ${u(BR)};
const BC = ${u(BC)};
const BK = ${u(BK)};
var<workgroup> Ls: array<f32, ${BK * BR}>;
var<workgroup> Rs: array<f32, ${BK * BC}>;
${fns}`;
  // Accumulators and operands as named scalars, fully unrolled: dynamically indexed private
  // arrays end up in memory on some compilers (llvmpipe among them).
  const R = [...Array(TR).keys()], C = [...Array(TC).keys()];
  const accDecl = R.flatMap((i) => C.map((j) => `var acc_${i}_${j} = 0.0;`)).join(' ');
  const inner = [
    ...R.map((i) => `let a${i} = Ls[kk * BR + lid.y + ${u(wy * i)}];`),
    ...C.map((j) => `let b${j} = Rs[kk * BC + lid.x + ${u(wx * j)}];`),
    ...R.flatMap((i) => C.map((j) => `acc_${i}_${j} = fma(a${i}, b${j}, acc_${i}_${j});`)),
  ].join('\n    ');
  const stores = R.map((i) => `{
  let r = r0 + lid.y + ${u(wy * i)};
  if (r < ROWS) {
${C.map((j) => `    { let c = c0 + lid.x + ${u(wx * j)}; if (c < COLS) { store(z, r, c, acc_${i}_${j}); } }`).join('\n')}
  }
}`).join('\n');
  const body = `
let z = wid.z;
let r0 = wid.y * BR;
let c0 = wid.x * BC;
${accDecl}
for (var k0 = 0u; k0 < DEPTH; k0 += BK) {
  for (var e = li; e < BK * BR; e += ${u(T)}) {
    let kk = e % BK; let rr = e / BK;
    let r = r0 + rr; let k = k0 + kk;
    var v = 0.0;
    if (r < ROWS && k < DEPTH) { v = loadL(z, r, k); }
    Ls[kk * BR + rr] = v;
  }
  for (var e = li; e < BK * BC; e += ${u(T)}) {
    let cc = e % BC; let kk = e / BC;
    let c = c0 + cc; let k = k0 + kk;
    var v = 0.0;
    if (c < COLS && k < DEPTH) { v = loadR(z, k, c); }
    Rs[kk * BC + cc] = v;
  }
  workgroupBarrier();
  for (var kk = 0u; kk < BK; kk++) {
    ${inner}
  }
  workgroupBarrier();
}
${stores}`;
  return {
    decls, body, workgroupSize: [wx, wy, 1],
    dispatch: [ceilDiv(s.cols, BC), ceilDiv(s.rows, BR), s.batch],
    workgroupBytes: 4 * BK * (BR + BC),
  };
}

/** At most 4 rows: one workgroup per column; threads split K, then a tree reduction. */
function gemvBody(s: MatmulShape, fns: string, lim: WgslLimits): Body {
  const T = 2 ** Math.floor(Math.log2(Math.min(64, lim.maxComputeInvocationsPerWorkgroup)));
  const R = s.rows;
  const split = s.cols > 65535;
  const decls = `
const ROWS = ${u(R)};
const COLS = ${u(s.cols)};
const DEPTH = ${u(s.depth)};
var<workgroup> red: array<f32, ${T * R}>;
${fns}`;
  const body = `
let z = wid.z;
let c = ${split ? 'wid.x + wid.y * 65535u' : 'wid.x'};
var acc: array<f32, ${R}>;
if (c < COLS) {
  for (var k = li; k < DEPTH; k += ${u(T)}) {
    let b = loadR(z, k, c);
    for (var r = 0u; r < ROWS; r++) { acc[r] = fma(loadL(z, r, k), b, acc[r]); }
  }
}
for (var r = 0u; r < ROWS; r++) { red[r * ${u(T)} + li] = acc[r]; }
workgroupBarrier();
for (var step = ${u(T / 2)}; step > 0u; step = step / 2u) {
  if (li < step) {
    for (var r = 0u; r < ROWS; r++) { red[r * ${u(T)} + li] += red[r * ${u(T)} + li + step]; }
  }
  workgroupBarrier();
}
if (li < ROWS && c < COLS) { store(z, li, c, red[li * ${u(T)}]); }`;
  return {
    decls, body, workgroupSize: [T, 1, 1],
    dispatch: split ? [65535, ceilDiv(s.cols, 65535), s.batch] : [s.cols, 1, s.batch],
    workgroupBytes: 4 * T * R,
  };
}
