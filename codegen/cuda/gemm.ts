/**
 * The tiled GEMM every matrix-shaped kernel instantiates: C[m][n] = Σ_k A(m,k)·B(k,n) per group,
 * with A and B tiles staged through shared memory as f32 (f16 operands are widened on load:
 * f32 accumulation), each thread holding a TM×TN register tile.
 *   conv (implicit GEMM): A = weights (M × C/g·kernel), B = im2col of the input computed on the fly;
 *   1×1 conv and Gemm/MatMul: the same with trivial index maps;
 *   FusedDwPw: B(c, pixel) is the depthwise conv + its activation, computed on the fly from the input.
 * The callers give the index maps as C snippets; the epilogue (bias, residual, activation, store) too.
 */
import { Code, sum } from './emit.js';
import { blocksFor, type Arg, type Launch } from './kernel.js';

export interface GemmSpec {
  kind: string;
  args: Arg[];
  M: number;
  N: number;
  K: number;
  /** Independent problems (conv groups, matmul batches): blockIdx.z, named `g` in the snippets. */
  batch: number;
  /** Float expression of A(m, k); `m`, `k` are in range. */
  loadA(m: string, k: string): string;
  /** Statements that set the float variable `out` to B(k, n); `k`, `n` are in range. */
  loadB(c: Code, k: string, n: string, out: string): void;
  /** Statements that finish and store C(m, n) held in the float variable `acc`. */
  epilogue(c: Code, m: string, n: string, acc: string): void;
}

export interface Tile { BM: number; BN: number; BK: number; TM: number; TN: number }

/** A tile that wastes little on small M or N and still fills the GPU with blocks. */
export function chooseTile(M: number, N: number, K: number, batch: number): Tile {
  const BK = K <= 8 ? 8 : 16;
  if (N <= 8) return { BM: 64, BN: 8, BK, TM: 2, TN: 1 };
  if (N <= 16) return { BM: 64, BN: 16, BK, TM: 4, TN: 1 };
  if (M <= 16) return { BM: 16, BN: 64, BK, TM: 1, TN: 4 };
  const big = Math.ceil(M / 64) * Math.ceil(N / 64) * batch;
  if (M <= 32 || big < 128) return { BM: 32, BN: 32, BK, TM: 2, TN: 2 };
  return { BM: 64, BN: 64, BK, TM: 4, TN: 4 };
}

export function gemmLaunch(s: GemmSpec, tile: Tile = chooseTile(s.M, s.N, s.K, s.batch)): Launch {
  const { BM, BN, BK, TM, TN } = tile;
  const TX = BN / TN, TY = BM / TM, T = TX * TY;
  const c = new Code();
  c.line(`// C[${s.M}][${s.N}] = A[${s.M}][${s.K}] · B[${s.K}][${s.N}]${s.batch > 1 ? ` × ${s.batch}` : ''}; tile ${BM}×${BN}×${BK}, ${TM}×${TN} per thread`);
  c.line(`__shared__ float As[${BK}][${BM}];`);
  c.line(`__shared__ float Bs[${BK}][${BN}];`);
  c.line('const int tid = threadIdx.x;');
  c.line(`const int tx = tid % ${TX};`);
  c.line(`const int ty = tid / ${TX};`);
  c.line(`const int m0 = blockIdx.y * ${BM};`);
  c.line(`const int n0 = blockIdx.x * ${BN};`);
  if (s.batch > 1) c.line('const int g = blockIdx.z;');
  c.line(`float acc[${TM}][${TN}];`);
  c.line('#pragma unroll');
  c.block(`for (int i = 0; i < ${TM}; ++i)`, () => {
    c.line('#pragma unroll');
    c.line(`for (int j = 0; j < ${TN}; ++j) acc[i][j] = 0.f;`);
  });
  const kFull = s.K % BK === 0, mFull = s.M % BM === 0, nFull = s.N % BN === 0;
  c.block(`for (int k0 = 0; k0 < ${s.K}; k0 += ${BK})`, () => {
    // A tile: consecutive threads walk k (weights are contiguous along k).
    c.line('#pragma unroll');
    c.block(`for (int e = tid; e < ${BK * BM}; e += ${T})`, () => {
      c.line(`const int kk = e % ${BK};`);
      c.line(`const int mm = e / ${BK};`);
      c.line('const int m = m0 + mm;');
      c.line('const int k = k0 + kk;');
      const cond = [mFull ? '' : `m < ${s.M}`, kFull ? '' : `k < ${s.K}`].filter(Boolean).join(' && ');
      c.line(`As[kk][mm] = ${cond ? `(${cond}) ? ${s.loadA('m', 'k')} : 0.f` : s.loadA('m', 'k')};`);
    });
    // B tile: consecutive threads walk n (pixels are contiguous in NCHW).
    c.line('#pragma unroll');
    c.block(`for (int e = tid; e < ${BK * BN}; e += ${T})`, () => {
      c.line(`const int kk = e / ${BN};`);
      c.line(`const int nn = e % ${BN};`);
      c.line('const int n = n0 + nn;');
      c.line('const int k = k0 + kk;');
      c.line('float bv = 0.f;');
      const cond = [nFull ? '' : `n < ${s.N}`, kFull ? '' : `k < ${s.K}`].filter(Boolean).join(' && ');
      if (cond) c.block(`if (${cond})`, () => s.loadB(c, 'k', 'n', 'bv'));
      else s.loadB(c, 'k', 'n', 'bv');
      c.line('Bs[kk][nn] = bv;');
    });
    c.line('__syncthreads();');
    c.line('#pragma unroll');
    c.block(`for (int kk = 0; kk < ${BK}; ++kk)`, () => {
      c.line(`float a[${TM}], b[${TN}];`);
      c.line('#pragma unroll');
      c.line(`for (int i = 0; i < ${TM}; ++i) a[i] = As[kk][${sum('ty', TY === 1 ? 'i' : `i * ${TY}`)}];`);
      c.line('#pragma unroll');
      c.line(`for (int j = 0; j < ${TN}; ++j) b[j] = Bs[kk][${sum('tx', TX === 1 ? 'j' : `j * ${TX}`)}];`);
      c.line('#pragma unroll');
      c.block(`for (int i = 0; i < ${TM}; ++i)`, () => {
        c.line('#pragma unroll');
        c.line(`for (int j = 0; j < ${TN}; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);`);
      });
    });
    c.line('__syncthreads();');
  });
  c.line('#pragma unroll');
  c.block(`for (int i = 0; i < ${TM}; ++i)`, () => {
    c.line('#pragma unroll');
    c.block(`for (int j = 0; j < ${TN}; ++j)`, () => {
      c.line(`const int m = m0 + ty + i * ${TY};`);
      c.line(`const int n = n0 + tx + j * ${TX};`);
      const cond = [mFull ? '' : `m < ${s.M}`, nFull ? '' : `n < ${s.N}`].filter(Boolean).join(' && ');
      const store = () => { c.line('float v = acc[i][j];'); s.epilogue(c, 'm', 'n', 'v'); };
      if (cond) c.block(`if (${cond})`, store); else store();
    });
  });
  return {
    kind: s.kind,
    args: s.args,
    body: c.toString(),
    threads: T,
    grid: [blocksFor(s.N, BN), blocksFor(s.M, BM), s.batch],
  };
}
