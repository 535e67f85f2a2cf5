/**
 * The standalone program: a directory that builds with nvcc alone (for devices without Node,
 * e.g. Jetson). kernels.cu is the module source; main.cu includes it and walks the plan;
 * weights.bin holds the packed weights; BUILD.txt gives the exact nvcc command and the usage.
 *
 *   ./model weights.bin input.bin output.bin [iterations]
 * input.bin: the graph inputs' raw little-endian bytes, concatenated in order (NCHW f32 for the
 * DSL/ONNX models, like ../shared/models/NAME/test_data_set_K/input_0.bin); output.bin likewise.
 * With iterations > 0 it also prints the median time of one inference in ms.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Graph } from '../../ir/graph.js';
import { CnncError } from '../../runtime/errors.js';
import { lowerCuda, type CudaModule, type CudaPlan } from './lower.js';
import { NVCC_FLAGS } from './nvcc.js';

export interface StandaloneFiles {
  dir: string;
  /** The nvcc command line (run in `dir`). */
  nvcc: string;
  files: string[];
}

/** nvcc command that builds the program for the given GPU architectures. */
export function standaloneCommand(archs: readonly number[] = [80, 90]): string {
  const gen = archs.map((a) => `-gencode arch=compute_${a},code=sm_${a}`).join(' ');
  return `nvcc ${NVCC_FLAGS.join(' ')} ${gen} -o model main.cu`;
}

/** Host code: one CNNC_LAUNCH per plan step, arguments as typed pointers into the arena or weights. */
export function hostProgram(plan: CudaPlan): string {
  const launches = plan.steps.map((s) => {
    const sig = plan.signatures[s.kernel];
    const args = s.args.map((a, i) => `(${sig[i]})(${a.region === 'arena' ? 'A' : 'W'} + ${a.offset})`);
    return `  CNNC_LAUNCH(${s.kernel}, ${s.grid.join(', ')}, ${s.block}, ${args.join(', ')});  // ${s.node.replace(/[^\x20-\x7e]/g, '?')}\n  CNNC_CHECK_LAUNCH();`;
  });
  const list = (xs: number[]) => `{${xs.join(', ')}}`;
  return `// cnnc standalone host program for '${plan.model}' (${plan.steps.length} launches).
#include <algorithm>
#include <chrono>
#include <stdio.h>
#include <stdlib.h>
#include <vector>
#ifndef CNNC_EMU
#include <cuda_runtime.h>
#define CNNC_LAUNCH(k, gx, gy, gz, b, ...) k<<<dim3(gx, gy, gz), dim3(b)>>>(__VA_ARGS__)
#endif
#include "kernels.cu"

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "CUDA error: %s (%s:%d)\\n", cudaGetErrorString(e_), __FILE__, __LINE__); exit(2); } } while (0)
#ifdef CNNC_DEBUG
#define CNNC_CHECK_LAUNCH() do { CK(cudaGetLastError()); CK(cudaDeviceSynchronize()); } while (0)
#else
#define CNNC_CHECK_LAUNCH() do { } while (0)
#endif

static const size_t ARENA_BYTES = ${plan.arenaBytes};
static const size_t WEIGHTS_BYTES = ${plan.weightsBytes};
static const int N_IN = ${plan.inputs.length}, N_OUT = ${plan.outputs.length};
static const size_t IN_OFF[] = ${list(plan.inputs.map((x) => x.offset))}, IN_BYTES[] = ${list(plan.inputs.map((x) => x.bytes))};
static const size_t OUT_OFF[] = ${list(plan.outputs.map((x) => x.offset))}, OUT_BYTES[] = ${list(plan.outputs.map((x) => x.bytes))};

static void run_plan(char* A, const char* W) {
${launches.join('\n')}
}

static std::vector<char> read_file(const char* path, size_t want) {
  FILE* f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "cannot open %s\\n", path); exit(1); }
  std::vector<char> buf(want + 1);
  size_t got = fread(buf.data(), 1, want + 1, f);
  fclose(f);
  if (got != want) { fprintf(stderr, "%s has %zu bytes, expected %zu\\n", path, got, want); exit(1); }
  buf.resize(want);
  return buf;
}

int main(int argc, char** argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s weights.bin input.bin output.bin [iterations]\\n", argv[0]); return 1; }
  size_t in_total = 0, out_total = 0;
  for (int i = 0; i < N_IN; ++i) in_total += IN_BYTES[i];
  for (int i = 0; i < N_OUT; ++i) out_total += OUT_BYTES[i];
  std::vector<char> weights = read_file(argv[1], WEIGHTS_BYTES), input = read_file(argv[2], in_total);
  char *A = nullptr, *W = nullptr;
  CK(cudaMalloc((void**)&A, ARENA_BYTES));
  CK(cudaMalloc((void**)&W, WEIGHTS_BYTES));
  CK(cudaMemcpy(W, weights.data(), WEIGHTS_BYTES, cudaMemcpyHostToDevice));
  for (int i = 0, off = 0; i < N_IN; off += (int)IN_BYTES[i], ++i) CK(cudaMemcpy(A + IN_OFF[i], input.data() + off, IN_BYTES[i], cudaMemcpyHostToDevice));
  run_plan(A, W);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<char> out(out_total);
  for (int i = 0, off = 0; i < N_OUT; off += (int)OUT_BYTES[i], ++i) CK(cudaMemcpy(out.data() + off, A + OUT_OFF[i], OUT_BYTES[i], cudaMemcpyDeviceToHost));
  FILE* f = fopen(argv[3], "wb");
  if (!f || fwrite(out.data(), 1, out_total, f) != out_total) { fprintf(stderr, "cannot write %s\\n", argv[3]); return 1; }
  fclose(f);
  const int iters = argc > 4 ? atoi(argv[4]) : 0;
  if (iters > 0) {
    // inputs stay in the arena: every iteration recomputes the same outputs
    std::vector<double> ms;
    for (int w = 0; w < 3; ++w) run_plan(A, W);
    CK(cudaDeviceSynchronize());
    for (int it = 0; it < iters; ++it) {
      for (int i = 0, off = 0; i < N_IN; off += (int)IN_BYTES[i], ++i) CK(cudaMemcpy(A + IN_OFF[i], input.data() + off, IN_BYTES[i], cudaMemcpyHostToDevice));
      auto t0 = std::chrono::steady_clock::now();
      run_plan(A, W);
      CK(cudaDeviceSynchronize());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    printf("median_ms %.4f iterations %d\\n", ms[ms.size() / 2], iters);
  }
  CK(cudaFree(A));
  CK(cudaFree(W));
  return 0;
}
`;
}

/**
 * Writes kernels.cu, main.cu, weights.bin and BUILD.txt into `dir`, from a model compiled for
 * 'cuda' (compile(graph, 'cuda')) or a lowered module.
 */
export function writeStandalone(compiled: CudaModule | { target: string; graph: Graph }, dir: string, archs: readonly number[] = [80, 90]): StandaloneFiles {
  let mod: CudaModule;
  if ('plan' in compiled) mod = compiled;
  else if (compiled.target === 'cuda') mod = lowerCuda(compiled.graph);
  else throw new CnncError('UNSUPPORTED', `writeStandalone needs a model compiled for 'cuda', not '${compiled.target}'`);
  mkdirSync(dir, { recursive: true });
  const nvcc = standaloneCommand(archs);
  writeFileSync(join(dir, 'kernels.cu'), mod.source);
  writeFileSync(join(dir, 'main.cu'), hostProgram(mod.plan));
  writeFileSync(join(dir, 'weights.bin'), mod.weights);
  const io = (xs: CudaPlan['inputs']) => xs.map((x) => `  ${x.name}: ${x.dtype}[${x.shape.join(',')}] (${x.bytes} bytes)`).join('\n');
  writeFileSync(join(dir, 'BUILD.txt'), `cnnc standalone CUDA program for '${mod.plan.model}'

Build (CUDA 12+; add -gencode lines for other GPUs, e.g. arch=compute_87,code=sm_87 for Jetson Orin):
  ${nvcc}

Run:
  ./model weights.bin input.bin output.bin [iterations]

input.bin is the inputs' raw little-endian bytes concatenated in this order:
${io(mod.plan.inputs)}
output.bin receives the outputs the same way:
${io(mod.plan.outputs)}

Debug: add -DCNNC_DEBUG to check every launch. Without a GPU, the same sources run on the CPU
(slowly) with cnnc's emulation header:
  g++ -std=c++17 -O1 -DCNNC_EMU -include cuda_emu.h -I/usr/local/cuda/include -x c++ main.cu -o model_emu
`);
  return { dir, nvcc, files: ['kernels.cu', 'main.cu', 'weights.bin', 'BUILD.txt'] };
}
