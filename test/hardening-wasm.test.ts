/**
 * Findings 3, 6, 7 on the wasm target: thousands of inputs to an n-ary elementwise op, a Gemm with
 * inner dimension 0, and memory over WebAssembly's 4 GiB: typed compile-time errors naming the node
 * and the figures, with nothing printed to stderr by binaryen.
 */
import { describe, expect, it, vi } from 'vitest';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { tensor } from '../runtime/tensor.js';
import { WASM_MAX_ELEMENTWISE_INPUTS } from '../codegen/wasm/index.js';

const codeAndMessage = (p: Promise<unknown>) => p.then(() => ['ok', ''], (e) => [e?.code ?? `untyped ${e}`, String(e?.message)]);

describe('wasm limits are typed compile-time errors', () => {
  for (const op of ['Sum', 'Mean', 'Max', 'Min']) {
    it(`${op} with 4,000 inputs → UNSUPPORTED naming node and count (finding 3); ${WASM_MAX_ELEMENTWISE_INPUTS} still compile`, async () => {
      const build = (n: number) => {
        const g = new Graph('nary');
        const x = g.addInput('x', { dtype: 'f32', shape: [1, 4] });
        const xs = Array.from({ length: n }, () => g.add('Relu', [x]));
        g.setOutputs([g.add(op, xs, {}, { name: 'big' })]);
        return g;
      };
      const [code, msg] = await codeAndMessage(compile(build(4000), 'wasm'));
      expect(code).toBe('UNSUPPORTED');
      expect(msg).toContain(`${op} has 4000 inputs; the wasm target takes at most ${WASM_MAX_ELEMENTWISE_INPUTS}`);
      expect(msg).toContain("node 'big'");
      if (op === 'Sum') {
        const m = await compile(build(WASM_MAX_ELEMENTWISE_INPUTS), 'wasm');
        const y = await m.run({ x: tensor('f32', [1, 4], [1, -2, 3, 0.5]) });
        expect(Array.from(y[m.outputs[0].name].data as Float32Array)).toEqual([1, 0, 3, 0.5].map((v) => v * WASM_MAX_ELEMENTWISE_INPUTS));
      }
    });
  }

  it('Gemm with inner dimension 0 → UNSUPPORTED at compile time (finding 6); an empty output still compiles and runs', async () => {
    const gemm = (M: number, K: number) => {
      const g = new Graph('k0');
      const x = g.addInput('x', { dtype: 'f32', shape: [M, K] });
      g.setOutputs([g.add('Gemm', [x, g.addConstant('w', tensor('f32', [K, 3])), g.addConstant('b', tensor('f32', [3], [1, 2, 3]))], {}, { name: 'gemm' })]);
      return g;
    };
    const [code, msg] = await codeAndMessage(compile(gemm(2, 0), 'wasm'));
    expect(code).toBe('UNSUPPORTED');
    expect(msg).toMatch(/input 'x' is empty \(f32\[2,0\]\) but output 'gemm' is f32\[2,3\]/);
    const m = await compile(gemm(0, 3), 'wasm');
    expect((await m.run({ x: tensor('f32', [0, 3]) })).gemm.shape).toEqual([0, 3]);
  });

  it('memory over 4 GiB → TOO_LARGE with the figure and the limit, nothing on stderr (finding 7)', async () => {
    const g = new Graph('big');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 1, 32768, 40000] });
    g.setOutputs([g.add('Sigmoid', [g.add('Relu', [x])])]);
    const write = vi.spyOn(process.stderr, 'write');
    const [code, msg] = await codeAndMessage(compile(g, 'wasm'));
    expect(write).not.toHaveBeenCalled();
    write.mockRestore();
    expect(code).toBe('TOO_LARGE');
    expect(msg).toMatch(/needs 10485760448 bytes of memory .* over WebAssembly's limit of 4294967296 bytes/);
  });
});
