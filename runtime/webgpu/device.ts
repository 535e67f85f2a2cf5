/**
 * Finding a WebGPU device: `navigator.gpu` in browsers; in Node, the `webgpu` package (Dawn).
 * Dawn first tries its default backends (Vulkan, ...: on a CPU-only machine Mesa's lavapipe, a core
 * adapter with shader-f16 from Mesa 25 on); where none gives an adapter it uses its OpenGL ES backend,
 * which on Mesa's llvmpipe is a compatibility-mode adapter. CNNC_DAWN_FLAGS (comma-separated Dawn
 * toggles, e.g. backend=opengles) picks the backend instead.
 */
/// <reference types="@webgpu/types" />
import { CnncError } from '../errors.js';

export interface GpuContext {
  adapter: GPUAdapter;
  /** One device shared by every model loaded here (an adapter gives out only one). */
  device: GPUDevice;
  /** The adapter's description, for reports: vendor, architecture, device, description. */
  adapterName: string;
  /** Whether the device was created with shader-f16. */
  hasF16: boolean;
  /** Whether WGSL has the `packed_4x8_integer_dot_product` language feature here (dot4I8Packed). */
  packedDot: boolean;
}

let cached: Promise<GpuContext> | undefined;
/** Node only: the Dawn instance, held for the life of the process (see findAdapter). */
let dawnGpu: { gpu: GPU; opts: GPURequestAdapterOptions } | undefined;
/** The WGSL language features of the GPU object the adapter came from. */
let languageFeatures: ReadonlySet<string> = new Set();

/** The shared adapter and device (created once per process or page; again after a device loss). */
export function gpuContext(): Promise<GpuContext> {
  cached ??= open().catch((e) => { cached = undefined; throw e; });
  return cached;
}

async function open(): Promise<GpuContext> {
  const adapter = await findAdapter();
  const ctx = await openDevice(adapter);
  void ctx.device.lost.then(() => { cached = undefined; });
  return ctx;
}

async function findAdapter(): Promise<GPUAdapter> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    languageFeatures = nav.gpu.wgslLanguageFeatures ?? new Set();
    const adapter = await nav.gpu.requestAdapter() ?? await nav.gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    if (!adapter) throw new CnncError('NO_DEVICE', 'navigator.gpu gave no WebGPU adapter');
    return adapter;
  }
  const proc = (globalThis as { process?: { versions?: { node?: string }; env: Record<string, string | undefined> } }).process;
  if (!proc?.versions?.node) throw new CnncError('NO_DEVICE', 'WebGPU is not available here (no navigator.gpu)');
  // Mesa's EGL needs these before Dawn starts (headless, no display server).
  proc.env.XDG_RUNTIME_DIR ??= '/tmp';
  proc.env.EGL_PLATFORM ??= 'surfaceless';
  if (dawnGpu) {
    // after a device loss: a new adapter from the same Dawn instance (a second instance is not needed)
    const adapter = await dawnGpu.gpu.requestAdapter(dawnGpu.opts);
    if (adapter) return adapter;
  }
  let dawn: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    const name = 'webgpu'; // a variable, so that browser bundlers leave it alone
    dawn = await import(/* @vite-ignore */ name);
  } catch (e) {
    throw new CnncError('NO_DEVICE', `WebGPU in Node needs the 'webgpu' package (Dawn): install it with 'npm install webgpu' (an optional peer dependency of the runtime) (${(e as Error).message.split('\n')[0]})`);
  }
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ...
  const flags = proc.env.CNNC_DAWN_FLAGS?.split(',').filter(Boolean);
  const compat = { featureLevel: 'compatibility' } as GPURequestAdapterOptions;
  // flags given (CNNC_DAWN_FLAGS=backend=vulkan or backend=opengles): a core adapter of that backend, else a
  // compatibility-mode one (all that Dawn's OpenGL ES backend offers)
  const tries: [string[], GPURequestAdapterOptions][] = flags ? [[flags, {}], [flags, compat]] : [[[], {}], [['backend=opengles'], compat]];
  for (const [f, opts] of tries) {
    const gpu = dawn.create(f);
    const adapter = await gpu.requestAdapter(opts);
    // Dawn lives as long as its GPU object: dropping it mid-use crashes or hangs the process.
    if (adapter) { dawnGpu = { gpu, opts }; languageFeatures = gpu.wgslLanguageFeatures ?? new Set(); return adapter; }
  }
  throw new CnncError('NO_DEVICE', 'Dawn found no WebGPU adapter (tried its default backends and OpenGL ES)');
}

/** Limits cnnc's shaders and buffers depend on: the device asks for all the adapter has of them. */
const LIMITS = [
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize', 'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxBindingsPerBindGroup',
];

async function openDevice(adapter: GPUAdapter): Promise<GpuContext> {
  const i = adapter.info as GPUAdapterInfo | undefined;
  const parts = [i?.vendor, i?.architecture, i?.device, i?.description].filter((s) => s && s.length);
  const have = adapter.limits as unknown as Record<string, number>;
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMITS) if (typeof have[k] === 'number') requiredLimits[k] = have[k];
  const hasF16 = adapter.features.has('shader-f16');
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures: hasF16 ? ['shader-f16'] : [] });
  } catch (e) {
    throw new CnncError('NO_DEVICE', `the adapter refused a device: ${(e as Error).message}`);
  }
  const packedDot = languageFeatures.has('packed_4x8_integer_dot_product');
  return { adapter, device, adapterName: parts.join(' ') || 'unknown adapter', hasF16, packedDot };
}
