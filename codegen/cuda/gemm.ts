/**
 * The tiled GEMM every matrix-shaped kernel instantiates: C[m][n] = Σ_k A(m,k)·B(k,n) per group,
 * with A and B tiles staged through shared memory as f32 (f16 operands are widened on load:
 * f32 accumulation), each thread holding a TM×TN register tile.
 *   conv (implicit GEMM): A = weights (M × C/g·kernel), B = im2col of the input computed on the fly;
 *   1×1 conv and Gemm/MatMul: the same with trivial index maps;
 *   FusedDwPw: B(c, pixel) is the depthwise conv + its activation, computed on the fly from the input.
 * The callers give the index maps as C snippets; the epilogue (bias, residual, activation, store) too.
 */
import { CnncError } from '../../runtime/errors.js';
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
  /** Every operand is f16: multiply on tensor cores (WMMA, f32 accumulation) when the shape suits. */
  f16?: boolean;
}

export interface Tile { BM: number; BN: number; BK: number; TM: number; TN: number }

/** Named SIMT tiles; CNNC_CUDA_TILE=large|medium|small forces one (tuning and tests). */
export const TILES: Record<string, Tile> = {
  large: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 },
  medium: { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 },
  small: { BM: 32, BN: 32, BK: 16, TM: 2, TN: 2 },
};

/** A tile that wastes little on small M or N and still fills the GPU with blocks. */
export function chooseTile(M: number, N: number, K: number, batch: number): Tile {
  const forced = process.env.CNNC_CUDA_TILE;
  if (forced) {
    if (!TILES[forced]) throw new CnncError('BAD_ATTRIBUTE', `CNNC_CUDA_TILE must be one of ${Object.keys(TILES).join(', ')}, got '${forced}'`);
    return TILES[forced];
  }
  const BK = K <= 8 ? 8 : 16;
  if (N <= 8) return { BM: 64, BN: 8, BK, TM: 2, TN: 1 };
  if (N <= 16) return { BM: 64, BN: 16, BK, TM: 4, TN: 1 };
  if (M <= 16) return { BM: 16, BN: 64, BK, TM: 1, TN: 4 };
  // 128×128 (8×8 per thread) when there are enough of them to cover a large GPU a few times over
  if (M >= 128 && N >= 128 && Math.ceil(M / 128) * Math.ceil(N / 128) * batch >= 256) return TILES.large;
  const big = Math.ceil(M / 64) * Math.ceil(N / 64) * batch;
  if (M <= 32 || big < 128) return { ...TILES.small, BK };
  return { ...TILES.medium, BK };
}

export function gemmLaunch(s: GemmSpec, tile?: Tile): Launch {
  if (s.f16 && !tile && s.M >= 16 && s.N >= 16 && s.K >= 16) return wmmaLaunch(s);
  const { BM, BN, BK, TM, TN } = tile ?? chooseTile(s.M, s.N, s.K, s.batch);
  const TX = BN / TN, TY = BM / TM, T = TX * TY;
  const c = new Code();
  c.line(`// C[${s.M}][${s.N}] = A[${s.M}][${s.K}] · B[${s.K}][${s.N}]${s.batch > 1 ? ` × ${s.batch}` : ''}; tile ${BM}×${BN}×${BK}, ${TM}×${TN} per thread`);
  // +1 column: the A tile is written k-fastest (stride BM), which would put a warp's stores in one bank
  c.line(`__shared__ float As[${BK}][${BM + 1}];`);
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

/**
 * The f16 GEMM on tensor cores: a 64×64 block tile of 4 warps, each warp 2×2 WMMA 16×16×16
 * fragments (f16 operands from shared memory, f32 accumulators); the accumulators go through
 * shared memory so that the epilogue (bias, residual, activation, f16 store) runs per element.
 */
function wmmaLaunch(s: GemmSpec): Launch {
  const BM = 64, BN = 64, BK = 16, T = 128, LA = BK + 8, LB = BN + 8, LC = BN + 4;
  const W = 'nvcuda::wmma';
  const c = new Code();
  c.line(`// C[${s.M}][${s.N}] = A[${s.M}][${s.K}] · B[${s.K}][${s.N}]${s.batch > 1 ? ` × ${s.batch}` : ''}; WMMA f16 tensor cores, tile ${BM}×${BN}×${BK}, f32 accumulation`);
  c.line(`__shared__ __align__(32) __half As[${BM}][${LA}];`);
  c.line(`__shared__ __align__(32) __half Bs[${BK}][${LB}];`);
  c.line(`__shared__ __align__(32) float Cs[${BM}][${LC}];`);
  c.line('const int tid = threadIdx.x;');
  c.line('const int wm = (tid / 32) / 2 * 32;');
  c.line('const int wn = (tid / 32) % 2 * 32;');
  c.line(`const int m0 = blockIdx.y * ${BM};`);
  c.line(`const int n0 = blockIdx.x * ${BN};`);
  if (s.batch > 1) c.line('const int g = blockIdx.z;');
  c.line(`${W}::fragment<${W}::accumulator, 16, 16, 16, float> acc[2][2];`);
  c.line('#pragma unroll');
  c.line('for (int i = 0; i < 2; ++i) for (int j = 0; j < 2; ++j) ' + `${W}::fill_fragment(acc[i][j], 0.f);`);
  const kFull = s.K % BK === 0, mFull = s.M % BM === 0, nFull = s.N % BN === 0;
  c.block(`for (int k0 = 0; k0 < ${s.K}; k0 += ${BK})`, () => {
    c.line('#pragma unroll');
    c.block(`for (int e = tid; e < ${BK * BM}; e += ${T})`, () => {
      c.line(`const int kk = e % ${BK};`);
      c.line(`const int mm = e / ${BK};`);
      c.line('const int m = m0 + mm;');
      c.line('const int k = k0 + kk;');
      const cond = [mFull ? '' : `m < ${s.M}`, kFull ? '' : `k < ${s.K}`].filter(Boolean).join(' && ');
      c.line(`As[mm][kk] = __float2half(${cond ? `(${cond}) ? ${s.loadA('m', 'k')} : 0.f` : s.loadA('m', 'k')});`);
    });
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
      c.line('Bs[kk][nn] = __float2half(bv);');
    });
    c.line('__syncthreads();');
    c.line(`${W}::fragment<${W}::matrix_a, 16, 16, 16, __half, ${W}::row_major> a[2];`);
    c.line(`${W}::fragment<${W}::matrix_b, 16, 16, 16, __half, ${W}::row_major> b[2];`);
    c.line('#pragma unroll');
    c.line(`for (int i = 0; i < 2; ++i) ${W}::load_matrix_sync(a[i], &As[wm + 16 * i][0], ${LA});`);
    c.line('#pragma unroll');
    c.line(`for (int j = 0; j < 2; ++j) ${W}::load_matrix_sync(b[j], &Bs[0][wn + 16 * j], ${LB});`);
    c.line('#pragma unroll');
    c.line(`for (int i = 0; i < 2; ++i) for (int j = 0; j < 2; ++j) ${W}::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);`);
    c.line('__syncthreads();');
  });
  c.line('#pragma unroll');
  c.line(`for (int i = 0; i < 2; ++i) for (int j = 0; j < 2; ++j) ${W}::store_matrix_sync(&Cs[wm + 16 * i][wn + 16 * j], acc[i][j], ${LC}, ${W}::mem_row_major);`);
  c.line('__syncthreads();');
  // epilogue: consecutive threads take consecutive columns (pixels: coalesced NCHW stores)
  c.block(`for (int e = tid; e < ${BM * BN}; e += ${T})`, () => {
    c.line(`const int m = m0 + e / ${BN};`);
    c.line(`const int n = n0 + e % ${BN};`);
    const cond = [mFull ? '' : `m < ${s.M}`, nFull ? '' : `n < ${s.N}`].filter(Boolean).join(' && ');
    const store = () => { c.line(`float v = Cs[e / ${BN}][e % ${BN}];`); s.epilogue(c, 'm', 'n', 'v'); };
    if (cond) c.block(`if (${cond})`, store); else store();
  });
  return { kind: s.kind + '_wmma', args: s.args, body: c.toString(), threads: T, grid: [blocksFor(s.N, BN), blocksFor(s.M, BM), s.batch] };
}
