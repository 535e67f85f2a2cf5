/** Pooling: windowed max/average (one thread per output) and global pooling (one block per (n, c)). */
import { splitShape, to3d, windowGeometry, layoutOf } from '../../ir/ops/geometry.js';
import { CnncError } from '../../runtime/errors.js';
import { Code, checkFloat, fl, load, mul, store, sum } from './emit.js';
import { outCoords, tapLoops } from './conv.js';
import { blocksFor, type Launch, type LowerCtx } from './kernel.js';

export function pool(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  if (node.outputs.length > 1 && node.outputs[1] !== '') throw new CnncError('UNSUPPORTED', 'MaxPool Indices output is not supported by the CUDA target', { node: node.name, op: node.op });
  const xt = graph.type(xn), yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const g = windowGeometry(node.op, node.attrs, xt.shape, undefined, { node: node.name, op: node.op });
  const k = to3d(g.kernel, 1), s = to3d(g.strides, 1), d = to3d(g.dilations, 1), p = to3d(g.padBegin, 0);
  const pe = to3d(g.padEnd, 0), inSz = to3d(g.inSize, 1);
  const isMax = node.op === 'MaxPool';
  const includePad = !isMax && Number(node.attrs.count_include_pad ?? 0) !== 0;
  const [D, H, W] = inSz;
  const st = g.layout === 'NHWC'
    ? { sN: D * H * W * g.C, sD: H * W * g.C, sH: W * g.C, sW: g.C, sC: 1 }
    : { sN: g.C * D * H * W, sC: D * H * W, sD: H * W, sH: W, sW: 1 };
  const total = g.outShape.reduce((a, b) => a * b, 1);
  const c = new Code();
  c.line('const int i = blockIdx.x * blockDim.x + threadIdx.x;');
  c.line(`if (i >= ${total}) return;`);
  const [b, ch, oz, oy, ox] = outCoords(c, g.outShape, g.layout);
  c.line(isMax ? 'float v = -INFINITY;' : 'float v = 0.f;');
  if (!isMax) c.line('int cnt = 0;');
  tapLoops(c, { k }, (kz, ky, kx) => {
    const pos = [oz, oy, ox].map((o, a) => sum(mul(o, s[a]), p[a] ? `${-p[a]}` : '0', mul([kz, ky, kx][a], d[a])).replace('+ -', '- '));
    const names = ['iz', 'iy', 'ix'].map((nm, a) => {
      if (pos[a] === '0') return '0';
      c.line(`const int ${nm} = ${pos[a]};`);
      return nm;
    });
    const inside = names.map((v, a) => (v === '0' ? '' : `(unsigned)${v} < ${inSz[a]}u`)).filter(Boolean).join(' && ');
    const xv = load(xt.dtype, 'x', sum(mul(b, st.sN), mul(ch, st.sC), mul(names[0], st.sD), mul(names[1], st.sH), mul(names[2], st.sW)));
    const upd = isMax ? `v = cnnc_max(v, ${xv});` : `{ v += ${xv}; ++cnt; }`;
    c.line(inside ? `if (${inside}) ${upd}` : upd);
    if (includePad) {
      // padding counts in the divisor; positions past the end padding (ceil_mode) do not
      const inPad = names.map((v, a) => (v === '0' ? '' : `${v} >= ${-p[a]} && ${v} < ${inSz[a] + pe[a]}`)).filter(Boolean).join(' && ');
      const pad = inside ? `else${inPad ? ` if (${inPad})` : ''} ++cnt;` : '';
      if (pad) c.line(pad);
    }
  });
  if (!isMax) c.line('v = cnt > 0 ? v / (float)cnt : 0.f;');
  c.line(store(yt.dtype, 'y', ctx.outIndex(yn, 'i'), 'v'));
  return {
    kind: isMax ? 'maxpool' : 'avgpool',
    args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: 256, grid: [blocksFor(total, 256), 1, 1],
  };
}

/** GlobalAveragePool / GlobalMaxPool: one block of 128 threads per (n, c), a shared-memory tree reduction. */
export function globalPool(ctx: LowerCtx): Launch {
  const { node, graph } = ctx;
  const xn = node.inputs[0], yn = node.outputs[0];
  const xt = graph.type(xn), yt = graph.type(yn);
  checkFloat(yt.dtype, node.name, node.op);
  const layout = layoutOf(node.attrs, { node: node.name, op: node.op });
  const { N, C, spatial } = splitShape(xt.shape, layout);
  const P = spatial.reduce((a, b) => a * b, 1);
  const isMax = node.op === 'GlobalMaxPool';
  const T = 128;
  const c = new Code();
  c.line(`__shared__ float red[${T}];`);
  c.line('const int nc = blockIdx.x;');
  c.line(`const int n = nc / ${C};`);
  c.line(`const int ch = nc % ${C};`);
  const base = layout === 'NHWC' ? sum(mul('n', P * C), 'ch') : sum(mul('n', P * C), mul('ch', P));
  const step = layout === 'NHWC' ? C : 1;
  c.line(isMax ? 'float v = -INFINITY;' : 'float v = 0.f;');
  c.line(`for (int p = threadIdx.x; p < ${P}; p += ${T}) ${isMax ? 'v = cnnc_max(v, ' : 'v += '}${load(xt.dtype, 'x', sum(base, mul('p', step)))}${isMax ? ')' : ''};`);
  c.line('red[threadIdx.x] = v;');
  c.line('__syncthreads();');
  c.block(`for (int h = ${T / 2}; h > 0; h >>= 1)`, () => {
    c.line(`if ((int)threadIdx.x < h) red[threadIdx.x] = ${isMax ? 'cnnc_max(red[threadIdx.x], red[threadIdx.x + h])' : 'red[threadIdx.x] + red[threadIdx.x + h]'};`);
    c.line('__syncthreads();');
  });
  // the output (N, C, 1, …) or (N, 1, …, C) has the flat index n·C + c either way
  c.line(`if (threadIdx.x == 0) ${store(yt.dtype, 'y', sum(mul('n', C), 'ch'), isMax ? 'red[0]' : `red[0] * ${fl(1 / P)}`)}`);
  return {
    kind: isMax ? 'global_maxpool' : 'global_avgpool',
    args: [{ param: 'x', value: xn, dtype: xt.dtype }, { param: 'y', value: yn, dtype: yt.dtype, out: true }],
    body: c.toString(), threads: T, grid: [N * C, 1, 1],
  };
}
