/**
 * FusedDwPw: a depthwise conv and its epilogue followed by a 1×1 conv and its epilogue, as one node
 * (inputs X, Wdw, Bdw?, Wpw, Bpw?, R?). Its meaning is exactly the unfused pair, and the reference
 * kernel runs that pair through the Conv kernel.
 */
import { CnncError } from '../../runtime/errors.js';
import { fromF64, toF64, type Tensor } from '../../runtime/tensor.js';
import type { AttrValue, Attrs, NodeInfo, OpDef } from '../op.js';
import { fail, input } from '../op.js';
import { EPILOGUE_ATTRS, applyEpilogueActivation } from './activation.js';
import { applyEpilogue, checkActivation, checkOperand, convMacs, convolve, paramCount } from './conv.js';
import { layoutOf, windowGeometry, type Place, type WindowGeometry } from './geometry.js';
import { isArithFloat, type TensorType } from '../types.js';

const FUSED_ATTRS: Record<string, AttrValue> = {
  strides: [], pads: [], dilations: [], dw_activation: '', dw_alpha: 0, dw_beta: 0, ...EPILOGUE_ATTRS, layout: 'NCHW',
};

/**
 * Both geometries of a FusedDwPw node: the depthwise conv (group = C) on x, then the 1×1 conv on
 * its output. Throws SHAPE_MISMATCH when Wpw is not a (M, C, 1, ..., 1) pointwise weight.
 */
export function fusedDwPwGeometry(attrs: Attrs, x: readonly number[], wdw: readonly number[], wpw: readonly number[], place: Place = { op: 'FusedDwPw' }): { dw: WindowGeometry; pw: WindowGeometry } {
  const dw = windowGeometry('FusedDwPw', attrs, x, wdw, place);
  if (wpw.length !== x.length || wpw.slice(2).some((k) => k !== 1)) {
    throw new CnncError('SHAPE_MISMATCH', `pointwise weight [${wpw}] must be (M, ${dw.C}${', 1'.repeat(x.length - 2)})`, place);
  }
  const pw = windowGeometry('Conv', { layout: layoutOf(attrs, place) }, dw.outShape, wpw, place);
  return { dw, pw };
}

function nodeFusedGeometry(node: NodeInfo) {
  return fusedDwPwGeometry(node.attrs, input(node, 0).type.shape, input(node, 1).type.shape, input(node, 3).type.shape, { node: node.name, op: node.op });
}

/** The dw epilogue's attributes in the shape applyEpilogueActivation reads. */
const dwEpilogue = (a: Attrs): Attrs => ({ activation: a.dw_activation, act_alpha: a.dw_alpha, act_beta: a.dw_beta });

export const FUSED_OPS: OpDef[] = [
  {
    name: 'FusedDwPw',
    traits: { category: 'conv', fp16: 'compute', layoutInputs: [0, 5] },
    doc: 'depthwise conv + dw_activation, then 1×1 conv + bias + R + activation, in one node',
    inputs: [4, 6],
    attrs: FUSED_ATTRS,
    infer(node): TensorType[] {
      const x = input(node, 0);
      if (!isArithFloat(x.type.dtype)) fail(node, 'DTYPE_MISMATCH', `expects a float input, got ${x.type.dtype}`, x.name);
      const { dw, pw } = nodeFusedGeometry(node);
      checkOperand(node, 1, 'depthwise weight');
      checkOperand(node, 2, 'depthwise bias', [dw.M]);
      checkOperand(node, 3, 'pointwise weight');
      checkOperand(node, 4, 'pointwise bias', [pw.M]);
      checkOperand(node, 5, 'residual', pw.outShape);
      checkActivation(node, 'dw_activation');
      checkActivation(node);
      return [{ dtype: x.type.dtype, shape: [...pw.outShape] }];
    },
    reference([x, wdw, bdw, wpw, bpw, r], attrs, [out]) {
      const { dw, pw } = fusedDwPwGeometry(attrs, x!.shape, wdw!.shape, wpw!.shape);
      const f64 = (t: Tensor | undefined) => (t ? toF64(t) : undefined);
      const mid = convolve(dw, toF64(x!), toF64(wdw!), f64(bdw));
      applyEpilogueActivation(mid, dwEpilogue(attrs));
      const y = convolve(pw, mid, toF64(wpw!), f64(bpw));
      applyEpilogue(y, r, attrs);
      return [fromF64(out.dtype, out.shape, y)];
    },
    cost(node) {
      const { dw, pw } = nodeFusedGeometry(node);
      return { flops: 2 * (convMacs(dw) + convMacs(pw)), params: paramCount(node, [1, 2, 3, 4]) };
    },
    window(node) {
      const { dw } = nodeFusedGeometry(node);
      return { kernel: [...dw.kernel], strides: [...dw.strides], dilations: [...dw.dilations] };
    },
  },
];
