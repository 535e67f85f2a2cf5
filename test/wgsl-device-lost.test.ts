/**
 * A lost WebGPU device gives a typed error, not a hang, and the next load gets a fresh device.
 * Its own file (its own process): destroying the shared device would break other tests' models.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { zoo } from '../models/index.js';
import { CnncError } from '../runtime/errors.js';
import { tensor } from '../runtime/tensor.js';
import { gpuContext, WebGpuModel } from '../runtime/webgpu/index.js';

describe('wgsl: device loss', () => {
  it('run() after the device is lost → KERNEL_ERROR; a new load works on a new device', async () => {
    const bytes = (await compile(zoo('lenet5'), 'wgsl')).save();
    const x = tensor('f32', [1, 1, 32, 32], Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i)));
    const m = await WebGpuModel.load(bytes);
    const good = (await m.run({ input: x })).output.data as Float32Array;
    const ctx = await gpuContext();
    ctx.device.destroy();
    await ctx.device.lost;
    const err = await m.run({ input: x }).catch((e) => e);
    expect(err).toBeInstanceOf(CnncError);
    expect(err.code).toBe('KERNEL_ERROR');
    expect(err.message).toMatch(/lost/);
    const again = await WebGpuModel.load(bytes);
    expect((await gpuContext()).device).not.toBe(ctx.device);
    expect(Array.from((await again.run({ input: x })).output.data as Float32Array)).toEqual(Array.from(good));
  });
});
