/**
 * Pad: grows (or, with negative pads, crops) every axis. pads = [x1_begin, x2_begin, ...,
 * x1_end, x2_end, ...] over all axes (the importer expands ONNX 18's `axes` input into this).
 */
import type { Tensor } from '../../runtime/tensor.js';
import type { NodeInfo, OpDef } from '../op.js';
import { attrFloat, attrString, fail, input } from '../op.js';
import { axisTables, checkSize, intsAttr, offsetMap, refInfo, stridesOf, take } from './broadcast.js';

const MODES = ['constant', 'reflect', 'edge', 'wrap'];

function padSpec(node: NodeInfo): { pads: number[]; mode: string; shape: number[] } {
  const x = input(node, 0);
  const s = x.type.shape;
  const pads = intsAttr(node, 'pads');
  const mode = attrString(node.attrs, 'mode', node);
  if (!MODES.includes(mode)) fail(node, 'UNSUPPORTED', `pad mode '${mode}' (supported: ${MODES.join(', ')})`);
  if (pads.length !== 2 * s.length || pads.some((p) => !Number.isInteger(p))) {
    fail(node, 'BAD_ATTRIBUTE', `pads [${pads}] must hold ${2 * s.length} integers for rank ${s.length}`);
  }
  const shape = s.map((d, a) => d + pads[a] + pads[a + s.length]);
  shape.forEach((d, a) => {
    if (d < 0) fail(node, 'SHAPE_MISMATCH', `pads crop axis ${a} of size ${s[a]} below zero`, x.name);
    const grows = pads[a] > 0 || pads[a + s.length] > 0;
    if (mode !== 'constant' && grows && s[a] === 0) fail(node, 'SHAPE_MISMATCH', `cannot ${mode}-pad empty axis ${a}`, x.name);
  });
  return { pads, mode, shape: checkSize(node, shape) };
}

/** Source coordinate of padded coordinate c (already shifted by the begin pad) in an axis of size d; -1 for the constant. */
function source(mode: string, c: number, d: number): number {
  if (c >= 0 && c < d) return c;
  switch (mode) {
    case 'edge': return c < 0 ? 0 : d - 1;
    case 'wrap': return ((c % d) + d) % d;
    case 'reflect': {
      // Mirror without repeating the edge: period 2(d−1), as numpy.pad(mode='reflect').
      if (d === 1) return 0;
      const p = 2 * (d - 1);
      const m = ((c % p) + p) % p;
      return m < d ? m : p - m;
    }
    default: return -1;
  }
}

const Pad: OpDef = {
  name: 'Pad',
  traits: { category: 'movement', fp16: 'follow' },
  doc: "pads every axis (mode 'constant' with value, 'reflect', 'edge', 'wrap'); negative pads crop",
  inputs: [1, 1],
  attrs: { pads: null, mode: 'constant', value: 0 },
  infer(node) {
    attrFloat(node.attrs, 'value', node);
    return [{ dtype: input(node, 0).type.dtype, shape: padSpec(node).shape }];
  },
  reference([x], attrs, [out]) {
    const t = x as Tensor;
    const { pads, mode } = padSpec(refInfo('Pad', attrs, [t]));
    const tables = axisTables(out.shape, stridesOf(t.shape), (a, i) => source(mode, i - pads[a], t.shape[a]));
    return [take(t, out.shape, offsetMap(out.shape, tables), attrFloat(attrs, 'value'))];
  },
  cost: () => ({ flops: 0 }),
};

export const PAD_OPS: OpDef[] = [Pad];
