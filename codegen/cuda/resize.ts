/**
 * Resize linear and cubic (every coordinate transformation mode, antialias, exclude_outside,
 * tf_crop_and_resize's extrapolation): the taps and weights of each axis come from the op's own
 * definition (ir/ops/resize.ts `resizeTaps`), so the kernel sums exactly what the reference sums:
 * y = Σ over the taps of every axis of (∏ weights) · x, accumulated in double. Every tap is kept,
 * zero weights too, so a NaN or ±Inf neighbour propagates as in the reference.
 */
import { resizeTaps } from '../../ir/ops/resize.js';
import { CnncError } from '../../runtime/errors.js';
import { tensor } from '../../runtime/tensor.js';
import { Code, coord, fl, load, store, strides } from './emit.js';
import { blocksFor, type Launch, type LowerCtx } from './kernel.js';
import { gather } from './movement.js';

const T = 256;

/** Why the interpolating Resize kernel cannot take this node, or undefined. */
export function resizeReason(dtype: string): string | undefined {
  return dtype === 'f32' || dtype === 'f16' ? undefined : `Resize linear/cubic on ${dtype} has no CUDA kernel (f32 and f16)`;
}

/** Resize: nearest is a gather (movement.ts), linear and cubic interpolate. */
export function resize(ctx: LowerCtx): Launch | Launch[] {
  return ctx.node.attrs.mode === 'nearest' ? gather(ctx) : resizeInterp(ctx);
}

function resizeInterp(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn);
  const why = resizeReason(yt.dtype);
  if (why) throw new CnncError('UNSUPPORTED', why, { node: node.name, op: node.op });
  const taps = resizeTaps({ name: node.name, op: node.op, attrs: node.attrs, inputs: [{ name: xn, type: xt }] }).map((a) => a.taps);
  // one table of (index, weight) per axis, packed: axis a starts at base[a], K[a] taps per output index
  const K = taps.map((ax) => ax[0]?.idx.length ?? 1);
  const base: number[] = [];
  const idx: number[] = [], w: number[] = [];
  taps.forEach((ax, a) => {
    base.push(idx.length);
    for (const t of ax) {
      for (let k = 0; k < K[a]; k++) {
        idx.push(t.outside ? -1 : t.idx[k] ?? 0);
        w.push(t.outside ? 0 : t.w[k] ?? 0);
      }
    }
  });
  const idxName = ctx.addConstant(`${node.name}_taps`, tensor('i32', [idx.length], Int32Array.from(idx)));
  const wName = ctx.addConstant(`${node.name}_weights`, tensor('f64', [w.length], Float64Array.from(w)));
  const total = yt.shape.reduce((p, q) => p * q, 1);
  const xs = strides(xt.shape);
  const outside = taps.map((ax) => ax.some((t) => t.outside));
  const extrap = Number(node.attrs.extrapolation_value ?? 0);
  const r = yt.shape.length;
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  for (let a = 0; a < r; a++) {
    c.line(`const int o${a} = ${coord('i', yt.shape, a)};`);
    if (outside[a]) c.line(`if (idx[${base[a]} + o${a} * ${K[a]}] < 0) { ${store(yt.dtype, 'y', 'i', fl(extrap))} return; }`);
  }
  c.line('double acc = 0.0;');
  const open = (a: number, prod: string, off: string): void => {
    if (a === r) { c.line(`acc += ${prod} * (double)${load(xt.dtype, 'x', off)};`); return; }
    c.block(`for (int t${a} = 0; t${a} < ${K[a]}; t${a}++)`, () => {
      c.line(`const int j${a} = ${base[a]} + o${a} * ${K[a]} + t${a};`);
      open(a + 1, a === 0 ? `(double)wt[j0]` : `${prod} * (double)wt[j${a}]`, `${off}${off ? ' + ' : ''}idx[j${a}] * ${xs[a]}`);
    });
  };
  open(0, '1.0', '');
  c.line(store(yt.dtype, 'y', 'i', '(float)acc'));
  return {
    kind: 'resize_interp',
    args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'idx', value: idxName, dtype: 'i32' }, { param: 'wt', value: wName, dtype: 'f64' }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [blocksFor(total, T), 1, 1],
  };
}
