/**
 * Runs a wasm-target artifact: instantiates its module, copies the packed weights into the module's
 * memory once, then per run copies inputs to their planned addresses, calls `run`, and copies the
 * outputs out. Imports only from runtime/, so an app bundles it without the compiler.
 */
import { CnncError } from '../errors.js';
import type { Artifact, IOSpec } from '../artifact.js';
import { sizeOf, type Tensor } from '../tensor.js';

export interface WasmPlan {
  memoryBytes: number;
  weightsOffset: number;
  /** Bytes of the weights section (a shorter section would run with zeros). */
  weightsBytes: number;
  arenaOffset: number;
  arenaBytes: number;
  inputs: { name: string; offset: number }[];
  outputs: { name: string; offset: number }[];
  /** One entry per exported step function, in run order. */
  steps: { fn: string; node: string; op: string; flops: number }[];
}

function bad(msg: string): never {
  throw new CnncError('BAD_ARTIFACT', msg);
}

const WASM_MAX_MEMORY = 2 ** 32; // 65536 pages of 64 KiB

/**
 * The plan against the artifact: integer, 4-byte aligned offsets; weights below the arena; the arena
 * inside the memory; every input and output inside the arena, inputs not overlapping each other; a
 * memory no larger than the cap (TOO_LARGE, checked before the module is instantiated).
 */
function checkPlan(p: unknown, a: Artifact, maxMemoryBytes: number): WasmPlan {
  const plan = p as WasmPlan;
  const int = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!plan || typeof plan !== 'object' || !int(plan.memoryBytes) || !int(plan.weightsOffset) || !int(plan.arenaOffset) || !int(plan.arenaBytes)
    || !Array.isArray(plan.steps) || !Array.isArray(plan.inputs) || !Array.isArray(plan.outputs)) bad('wasm plan is missing or malformed');
  if (plan.memoryBytes > Math.min(maxMemoryBytes, WASM_MAX_MEMORY)) {
    throw new CnncError('TOO_LARGE', `the wasm plan needs ${plan.memoryBytes} bytes of memory, over the limit of ${Math.min(maxMemoryBytes, WASM_MAX_MEMORY)} bytes`);
  }
  if (!a.sections.module || !a.sections.weights) bad("wasm artifact lacks its 'module' or 'weights' section");
  if (a.sections.weights.length !== plan.weightsBytes) bad(`the weights section is ${a.sections.weights.length} bytes, the plan says ${plan.weightsBytes}`);
  if (plan.weightsOffset + a.sections.weights.length > plan.arenaOffset) bad('weights overlap the arena in the plan');
  if (plan.arenaOffset + plan.arenaBytes > plan.memoryBytes) bad('the arena does not fit the planned memory');
  if (!plan.steps.every((s) => s && typeof s === 'object' && typeof s.fn === 'string')) bad('wasm plan steps are malformed');
  const ios = (specs: IOSpec[], placed: { name: string; offset: number }[]) => {
    if (specs.length !== placed.length) bad('plan and header disagree on inputs/outputs');
    return specs.map((s, i) => {
      const at = placed[i];
      const size = sizeOf(s.shape) * 4;
      if (!at || typeof at !== 'object' || at.name !== s.name || !int(at.offset) || at.offset % 4 !== 0 || s.dtype !== 'f32'
        || at.offset < plan.arenaOffset || at.offset + size > plan.arenaOffset + plan.arenaBytes) {
        bad(`input/output '${s.name}' is misplaced in the plan (f32, 4-byte aligned, inside the arena)`);
      }
      return { name: s.name, start: at.offset, end: at.offset + size };
    });
  };
  const ins = ios(a.header.inputs, plan.inputs).sort((x, y) => x.start - y.start);
  ios(a.header.outputs, plan.outputs);
  ins.forEach((x, i) => { if (i > 0 && x.start < ins[i - 1].end) bad(`inputs '${ins[i - 1].name}' and '${x.name}' overlap in the plan`); });
  return plan;
}

export class WasmSession {
  readonly inputNames: string[];
  readonly outputNames: string[];

  private constructor(
    readonly header: Artifact['header'],
    readonly plan: WasmPlan,
    public exports: Record<string, unknown>,
    private memory: WebAssembly.Memory,
  ) {
    this.inputNames = header.inputs.map((i) => i.name);
    this.outputNames = header.outputs.map((o) => o.name);
  }

  static async create(a: Artifact, opts: { maxMemoryBytes?: number } = {}): Promise<WasmSession> {
    const plan = checkPlan(a.header.plan, a, opts.maxMemoryBytes ?? 2 ** 31);
    let instance: WebAssembly.Instance;
    try {
      const mod = await WebAssembly.compile(a.sections.module as Uint8Array<ArrayBuffer>);
      instance = await WebAssembly.instantiate(mod, {});
    } catch (e) {
      bad(`the wasm module does not compile: ${(e as Error).message}`);
    }
    const memory = instance.exports.memory as WebAssembly.Memory;
    if (!(memory instanceof WebAssembly.Memory) || memory.buffer.byteLength < plan.memoryBytes || typeof instance.exports.run !== 'function') {
      bad('the wasm module lacks its memory or run export');
    }
    if (memory.buffer.byteLength > Math.min(opts.maxMemoryBytes ?? 2 ** 31, WASM_MAX_MEMORY) + 65536) {
      throw new CnncError('TOO_LARGE', `the wasm module declares ${memory.buffer.byteLength} bytes of memory, over the cap of ${opts.maxMemoryBytes ?? 2 ** 31} bytes`);
    }
    new Uint8Array(memory.buffer).set(a.sections.weights, plan.weightsOffset);
    return new WasmSession(a.header, plan, instance.exports as Record<string, unknown>, memory);
  }

  /** Checks and copies inputs in; BAD_INPUT names the input at fault. */
  setInputs(inputs: Record<string, Tensor>): void {
    for (const name of Object.keys(inputs)) {
      if (!this.inputNames.includes(name)) throw new CnncError('BAD_INPUT', `'${name}' is not an input of the model (inputs: ${this.inputNames.join(', ')})`, { value: name });
    }
    this.header.inputs.forEach((spec, i) => {
      const t = inputs[spec.name];
      if (!t) throw new CnncError('BAD_INPUT', `missing input '${spec.name}' (f32[${spec.shape}])`, { value: spec.name });
      const same = t.shape.length === spec.shape.length && t.shape.every((d, k) => d === spec.shape[k]);
      if (t.dtype !== spec.dtype || !same || !(t.data instanceof Float32Array) || t.data.length !== sizeOf(spec.shape)) {
        throw new CnncError('BAD_INPUT', `input '${spec.name}' is ${t.dtype}[${t.shape}], the model takes ${spec.dtype}[${spec.shape}]`, { value: spec.name });
      }
      new Float32Array(this.memory.buffer, this.plan.inputs[i].offset, t.data.length).set(t.data as Float32Array);
    });
  }

  /** Drops the module's instance and memory (the engine frees them); later runs are BAD_INPUT. */
  dispose(): void {
    this.exports = {};
    this.memory = undefined as unknown as WebAssembly.Memory;
  }

  getOutputs(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    this.header.outputs.forEach((spec, i) => {
      const n = sizeOf(spec.shape);
      out[spec.name] = { dtype: 'f32', shape: [...spec.shape], data: new Float32Array(this.memory.buffer, this.plan.outputs[i].offset, n).slice() };
    });
    return out;
  }

  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.runSync(inputs);
  }

  runSync(inputs: Record<string, Tensor>): Record<string, Tensor> {
    if (!this.memory) throw new CnncError('BAD_INPUT', 'run() on a disposed session: load the artifact again');
    this.setInputs(inputs);
    try {
      (this.exports.run as () => void)();
    } catch (e) {
      throw new CnncError('KERNEL_ERROR', `the wasm module trapped: ${(e as Error).message}`);
    }
    return this.getOutputs();
  }
}
