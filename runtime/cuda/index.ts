/**
 * runtime/cuda: runs a CUDA artifact in Node on an NVIDIA GPU through the driver API (driver.ts).
 * The artifact carries PTX (built by nvcc at compile time), the packed weights and the plan; the
 * session uploads the weights once, then each run copies the inputs into the arena, launches the
 * plan's kernels in order and copies the outputs back. No GPU: CnncError NO_DEVICE.
 */
import type { Artifact } from '../artifact.js';
import { CnncError } from '../errors.js';
import { BYTES_PER_ELEMENT, tensor, type Tensor } from '../tensor.js';
import { cudaDriver, type Driver } from './driver.js';
import { CUDA_SECTIONS, type CudaIO, type CudaPlan } from './plan.js';

/** Checks named inputs against the plan (name, dtype, shape, element count). */
export function checkCudaInputs(plan: CudaPlan, inputs: Record<string, Tensor>): void {
  for (const x of plan.inputs) {
    const t = inputs[x.name];
    if (!t) throw new CnncError('BAD_INPUT', `missing input '${x.name}' (${x.dtype}[${x.shape}])`, { value: x.name });
    if (t.dtype !== x.dtype || t.shape.length !== x.shape.length || t.shape.some((d, i) => d !== x.shape[i])) {
      throw new CnncError('BAD_INPUT', `input '${x.name}' is ${t.dtype}[${t.shape}], the model takes ${x.dtype}[${x.shape}]`, { value: x.name });
    }
    if (t.data.byteLength !== x.bytes) throw new CnncError('BAD_INPUT', `input '${x.name}' has ${t.data.byteLength} bytes, expected ${x.bytes}`, { value: x.name });
  }
  for (const name of Object.keys(inputs)) {
    if (!plan.inputs.some((x) => x.name === name)) throw new CnncError('BAD_INPUT', `'${name}' is not an input of the model (inputs: ${plan.inputs.map((x) => x.name).join(', ')})`, { value: name });
  }
}

const bytesOf = (t: Tensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

export class CudaSession {
  private constructor(
    readonly plan: CudaPlan,
    readonly device: string,
    private readonly drv: Driver,
    private readonly arena: bigint,
    private readonly weights: bigint,
    private readonly launches: { fn: bigint; grid: [number, number, number]; block: number; params: bigint }[],
  ) {}

  /** Opens the device (NO_DEVICE without one), uploads the weights and loads the PTX. */
  static async create(a: Artifact): Promise<CudaSession> {
    if (a.header.target !== 'cuda') throw new CnncError('BAD_ARTIFACT', `artifact target is '${a.header.target}', not 'cuda'`);
    const plan = a.header.plan as CudaPlan;
    if (!plan || !Array.isArray(plan.steps) || !Array.isArray(plan.kernels)) throw new CnncError('BAD_ARTIFACT', 'CUDA artifact has no plan');
    const w = a.sections[CUDA_SECTIONS.weights];
    if (!w || w.length !== plan.weightsBytes) throw new CnncError('BAD_ARTIFACT', `CUDA artifact weights are ${w?.length ?? 0} bytes, the plan says ${plan.weightsBytes}`);
    const drv = await cudaDriver();
    const ptx = a.sections[CUDA_SECTIONS.ptx];
    if (!ptx || ptx.length === 0) throw new CnncError('BAD_ARTIFACT', 'CUDA artifact has no PTX (was nvcc missing when it was compiled?)');
    const mod = drv.loadModule(new TextDecoder().decode(ptx));
    const fns = new Map(plan.kernels.map((k) => [k, drv.getFunction(mod, k)]));
    const arena = drv.alloc(plan.arenaBytes);
    const weights = drv.alloc(plan.weightsBytes);
    drv.htod(weights, w);
    // every step's parameter block is fixed (arena and weights do not move): build them once
    const launches = plan.steps.map((s) => ({
      fn: fns.get(s.kernel)!,
      grid: s.grid,
      block: s.block,
      params: drv.params(s.args.map((r) => (r.region === 'arena' ? arena : weights) + BigInt(r.offset))),
    }));
    return new CudaSession(plan, drv.deviceName, drv, arena, weights, launches);
  }

  /** Launches every step (inputs already in the arena); `sync` waits for the GPU. */
  launchAll(sync = true): void {
    for (const l of this.launches) this.drv.launch(l.fn, l.grid, l.block, l.params);
    if (sync) this.drv.synchronize();
  }

  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    checkCudaInputs(this.plan, inputs);
    for (const x of this.plan.inputs) this.drv.htod(this.arena + BigInt(x.offset), bytesOf(inputs[x.name]));
    this.launchAll(true);
    const out: Record<string, Tensor> = {};
    for (const o of this.plan.outputs) out[o.name] = this.read(o);
    return out;
  }

  private read(o: CudaIO): Tensor {
    const t = tensor(o.dtype, o.shape);
    if (t.data.byteLength !== o.bytes || o.bytes !== t.data.length * BYTES_PER_ELEMENT[o.dtype]) throw new CnncError('BAD_ARTIFACT', `output '${o.name}' size disagrees with its shape`);
    this.drv.dtoh(bytesOf(t), this.arena + BigInt(o.offset));
    return t;
  }

  /** Time per step (ms, median of `reps`): each kernel launched alone and waited for, after one full run. */
  async profile(inputs: Record<string, Tensor>, reps = 5): Promise<{ kernel: string; node: string; op: string; ms: number }[]> {
    await this.run(inputs);
    return this.plan.steps.map((step, i) => {
      const l = this.launches[i];
      const ts: number[] = [];
      for (let r = 0; r < reps + 1; r++) {
        const t0 = performance.now();
        this.drv.launch(l.fn, l.grid, l.block, l.params);
        this.drv.synchronize();
        if (r > 0) ts.push(performance.now() - t0); // the first may include the module's lazy load
      }
      ts.sort((a, b) => a - b);
      return { kernel: step.kernel, node: step.node, op: '', ms: ts[ts.length >> 1] }; // the CUDA plan records no op names
    });
  }

  /** Frees the arena and weights (the session is unusable afterwards). */
  dispose(): void {
    this.drv.free(this.arena);
    this.drv.free(this.weights);
  }
}
