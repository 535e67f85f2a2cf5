/**
 * MobileNetV2 (Sandler et al. 2018) and MobileNetV3-Small (Howard et al. 2019), as torchvision
 * builds them: inverted residuals 'features.i.conv.k' / 'features.i.block.k', ReLU6 as Clip(0, 6).
 */
import type { Graph } from '../ir/graph.js';
import { convBnAct, nn } from '../frontends/dsl/layers.js';
import { Model, type Act, type Value } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';

/** torchvision's _make_divisible: round to a multiple of 8, never more than 10% down. */
export function makeDivisible(v: number, divisor = 8): number {
  const n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return n < 0.9 * v ? n + divisor : n;
}

/** One MobileNetV2 inverted residual: 1×1 expand (t ≠ 1), 3×3 depthwise, 1×1 linear projection. */
function invertedResidualV2(m: Model, x: Value, out: number, stride: number, t: number): Value {
  const cin = m.channels(x);
  const hidden = Math.round(cin * t);
  const layers = [
    ...(t !== 1 ? [convBnAct(hidden, 1, { act: 'relu6' })] : []),
    convBnAct(hidden, 3, { stride, groups: hidden, act: 'relu6' }),
    nn.conv2d(out, 1, { bias: false }),
    nn.batchNorm2d(),
  ];
  const y = m.sequential(x, 'conv', layers);
  return stride === 1 && cin === out ? m.add(x, y) : y;
}

export function mobilenetV2(opts: ZooOptions = {}): Graph {
  const m = new Model('mobilenet_v2', opts);
  let x = m.input(inputShape(opts, 3, 224));
  const settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
  m.scope('features', () => {
    x = convBnAct(32, 3, { stride: 2, act: 'relu6' })(m, x, '0');
    let i = 1;
    for (const [t, c, n, s] of settings) {
      for (let j = 0; j < n; j++) {
        x = m.scope(i++, () => invertedResidualV2(m, x, c, j === 0 ? s : 1, t));
      }
    }
    x = convBnAct(1280, 1, { act: 'relu6' })(m, x, String(i));
  });
  x = m.flatten(m.adaptiveAvgPool2d(x, 1));
  x = m.sequential(x, 'classifier', [nn.dropout(0.2), nn.linear(1000)]);
  m.output(x);
  return m.build();
}

/** Squeeze-and-excitation: global pool, fc1 (1×1 conv) + act, fc2 + gate, channel-wise scale. */
export function squeezeExcite(m: Model, x: Value, squeeze: number, act: Act, gate: Act): Value {
  const c = m.channels(x);
  let s = m.adaptiveAvgPool2d(x, 1, { name: 'avgpool' });
  s = m.activation(m.conv2d(s, squeeze, 1, { name: 'fc1' }), act, { name: 'activation' });
  s = m.activation(m.conv2d(s, c, 1, { name: 'fc2' }), gate, { name: 'scale_activation' });
  return m.mul(s, x);
}

export function mobilenetV3Small(opts: ZooOptions = {}): Graph {
  const m = new Model('mobilenet_v3_small', opts);
  const eps = 0.001;
  let x = m.input(inputShape(opts, 3, 224));
  // input, kernel, expanded, out, SE, activation, stride
  const settings: [number, number, number, number, boolean, Act, number][] = [
    [16, 3, 16, 16, true, 'relu', 2], [16, 3, 72, 24, false, 'relu', 2], [24, 3, 88, 24, false, 'relu', 1],
    [24, 5, 96, 40, true, 'hardswish', 2], [40, 5, 240, 40, true, 'hardswish', 1], [40, 5, 240, 40, true, 'hardswish', 1],
    [40, 5, 120, 48, true, 'hardswish', 1], [48, 5, 144, 48, true, 'hardswish', 1], [48, 5, 288, 96, true, 'hardswish', 2],
    [96, 5, 576, 96, true, 'hardswish', 1], [96, 5, 576, 96, true, 'hardswish', 1],
  ];
  m.scope('features', () => {
    x = convBnAct(16, 3, { stride: 2, act: 'hardswish', eps })(m, x, '0');
    settings.forEach(([cin, k, exp, out, se, act, stride], i) => {
      x = m.scope(i + 1, () => {
        const layers = [
          ...(exp !== cin ? [convBnAct(exp, 1, { act, eps })] : []),
          convBnAct(exp, k, { stride, groups: exp, act, eps }),
          ...(se ? [nn.block((m, v) => squeezeExcite(m, v, makeDivisible(exp / 4), 'relu', 'hardsigmoid'))] : []),
          convBnAct(out, 1, { act: '', eps }),
        ];
        const y = m.sequential(x, 'block', layers);
        return stride === 1 && cin === out ? m.add(x, y) : y;
      });
    });
    x = convBnAct(576, 1, { act: 'hardswish', eps })(m, x, String(settings.length + 1));
  });
  x = m.flatten(m.adaptiveAvgPool2d(x, 1));
  x = m.sequential(x, 'classifier', [nn.linear(1024), nn.hardSwish(), nn.dropout(0.2), nn.linear(1000)]);
  m.output(x);
  return m.build();
}
