/**
 * The CUDA driver API through koffi: the dozen calls runtime/cuda needs, loaded from libcuda.so.1
 * (or $CNNC_LIBCUDA). No library, no device or a failing cuInit all become CnncError NO_DEVICE,
 * never a crash; a failing call afterwards is KERNEL_ERROR with the driver's error name.
 */
import { CnncError } from '../errors.js';

type Fn = (...args: unknown[]) => number;

export interface Driver {
  readonly path: string;
  readonly deviceName: string;
  /** Device memory allocation → device address. */
  alloc(bytes: number): bigint;
  free(ptr: bigint): void;
  htod(dst: bigint, src: Uint8Array): void;
  dtoh(dst: Uint8Array, src: bigint): void;
  /** Loads PTX text; returns the module handle. */
  loadModule(ptx: string): bigint;
  getFunction(mod: bigint, name: string): bigint;
  /**
   * Host memory holding a kernel's parameter block for cuLaunchKernel (the argument values, then
   * the void*[] pointing at them). Made once per plan step: the addresses never change.
   */
  params(args: readonly bigint[]): bigint;
  /** Launches with a parameter block from params(). */
  launch(fn: bigint, grid: readonly [number, number, number], block: number, params: bigint): void;
  synchronize(): void;
  attribute(attr: number): number;
}

let cached: Driver | undefined;

/** The driver, initialised once per process. */
export async function cudaDriver(): Promise<Driver> {
  cached ??= await openDriver(process.env.CNNC_LIBCUDA || 'libcuda.so.1');
  return cached;
}

async function openDriver(path: string): Promise<Driver> {
  let koffi: typeof import('koffi');
  try {
    // a computed specifier: browser bundles of cnnc/runtime must not try to include the native module
    const specifier = 'koffi';
    koffi = (await import(specifier)).default as typeof import('koffi');
  } catch (e) {
    throw new CnncError('NO_DEVICE', `the CUDA runtime needs the 'koffi' package to call the driver: install it with 'npm install koffi' (an optional peer dependency of the runtime) (${(e as Error).message.split('\n')[0]})`);
  }
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (e) {
    throw new CnncError('NO_DEVICE', `no CUDA driver on this machine: cannot load ${path} (${(e as Error).message.split('\n')[0]})`);
  }
  const fn = (proto: string): Fn => {
    try {
      return lib.func(proto) as unknown as Fn;
    } catch (e) {
      throw new CnncError('NO_DEVICE', `${path} lacks a driver function (${proto}): ${(e as Error).message}`);
    }
  };
  const cu = {
    init: fn('int cuInit(unsigned int flags)'),
    deviceCount: fn('int cuDeviceGetCount(_Out_ int *count)'),
    deviceGet: fn('int cuDeviceGet(_Out_ int *dev, int ordinal)'),
    deviceName: fn('int cuDeviceGetName(_Out_ uint8_t *name, int len, int dev)'),
    deviceAttr: fn('int cuDeviceGetAttribute(_Out_ int *value, int attrib, int dev)'),
    ctxRetain: fn('int cuDevicePrimaryCtxRetain(_Out_ void **ctx, int dev)'),
    ctxSet: fn('int cuCtxSetCurrent(void *ctx)'),
    moduleLoad: fn('int cuModuleLoadData(_Out_ void **mod, const char *image)'),
    getFunction: fn('int cuModuleGetFunction(_Out_ void **fn, void *mod, const char *name)'),
    memAlloc: fn('int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytes)'),
    memFree: fn('int cuMemFree_v2(uint64_t dptr)'),
    htod: fn('int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)'),
    dtoh: fn('int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes)'),
    launch: fn('int cuLaunchKernel(void *f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int smem, void *stream, void *params, void *extra)'),
    sync: fn('int cuCtxSynchronize()'),
    errorName: fn('int cuGetErrorName(int err, _Out_ const char **name)'),
  };
  const errName = (rc: number): string => {
    const out: (string | null)[] = [null];
    try { return cu.errorName(rc, out) === 0 && out[0] ? `${out[0]} (${rc})` : `error ${rc}`; } catch { return `error ${rc}`; }
  };
  const ok = (rc: number, what: string, code: 'NO_DEVICE' | 'KERNEL_ERROR' = 'KERNEL_ERROR'): void => {
    if (rc !== 0) throw new CnncError(code, `${what} failed: ${errName(rc)}`);
  };

  ok(cu.init(0), 'cuInit', 'NO_DEVICE');
  const count = [0];
  ok(cu.deviceCount(count), 'cuDeviceGetCount', 'NO_DEVICE');
  if (count[0] < 1) throw new CnncError('NO_DEVICE', 'the CUDA driver sees no GPU');
  const dev = [0];
  ok(cu.deviceGet(dev, 0), 'cuDeviceGet', 'NO_DEVICE');
  const nameBuf = new Uint8Array(256);
  ok(cu.deviceName(nameBuf, 256, dev[0]), 'cuDeviceGetName', 'NO_DEVICE');
  const deviceName = new TextDecoder().decode(nameBuf.subarray(0, Math.max(0, nameBuf.indexOf(0))));
  const ctx: unknown[] = [null];
  ok(cu.ctxRetain(ctx, dev[0]), 'cuDevicePrimaryCtxRetain', 'NO_DEVICE');
  ok(cu.ctxSet(ctx[0]), 'cuCtxSetCurrent', 'NO_DEVICE');

  return {
    path,
    deviceName,
    alloc(bytes) {
      const p: (number | bigint)[] = [0];
      ok(cu.memAlloc(p, Math.max(bytes, 1)), `cuMemAlloc(${bytes})`);
      return BigInt(p[0]);
    },
    free(ptr) { ok(cu.memFree(ptr), 'cuMemFree'); },
    htod(dst, src) { ok(cu.htod(dst, src, src.byteLength), 'cuMemcpyHtoD'); },
    dtoh(dst, src) { ok(cu.dtoh(dst, src, dst.byteLength), 'cuMemcpyDtoH'); },
    loadModule(ptx) {
      const m: unknown[] = [null];
      ok(cu.moduleLoad(m, ptx), 'cuModuleLoadData (PTX JIT)');
      return BigInt(m[0] as bigint);
    },
    getFunction(mod, name) {
      const f: unknown[] = [null];
      ok(cu.getFunction(f, mod, name), `cuModuleGetFunction('${name}')`);
      return BigInt(f[0] as bigint);
    },
    params(args) {
      // layout: n argument values, then n pointers to them (kept for the life of the process)
      const n = args.length;
      const base = koffi.alloc('uint64_t', Math.max(2 * n, 1)) as bigint;
      args.forEach((a, i) => {
        koffi.encode(base, 8 * i, 'uint64_t', a);
        koffi.encode(base, 8 * (n + i), 'uint64_t', base + BigInt(8 * i));
      });
      return base + BigInt(8 * n);
    },
    launch(f, grid, block, params) {
      ok(cu.launch(f, grid[0], grid[1], grid[2], block, 1, 1, 0, null, params, null), 'cuLaunchKernel');
    },
    synchronize() { ok(cu.sync(), 'cuCtxSynchronize'); },
    attribute(attr) {
      const v = [0];
      ok(cu.deviceAttr(v, attr, dev[0]), 'cuDeviceGetAttribute');
      return v[0];
    },
  };
}
