/**
 * The cnnc command line: compile, run, summary, viz, opt, passes, bench, zoo.
 * Errors print one line with a hint and exit non-zero; --verbose adds the stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { compile, loadModel } from '../index.js';
import { ARTIFACT_TARGETS, TARGET_NAMES, TARGETS, type TargetName } from '../codegen/targets.js';
import { CnncError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { load } from '../runtime/index.js';
import { formatSummary, summarize, formatFlops } from '../ir/summary.js';
import { zoo, ZOO_NAMES } from '../models/index.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { readTensorProto } from '../frontends/onnx/import.js';
import type { Graph } from '../ir/graph.js';
import type { OnProgress } from '../ir/progress.js';
import { describePipeline, PASSES, pipelineFor, runPipeline } from '../passes/pipeline.js';
import { fusionSummary } from '../passes/fuse-elementwise.js';
import { readNpy, writeNpy } from './npy.js';
import { checkOutputPath, writeOutput } from './output.js';
import { Progress } from './progress.js';
import { graphToSvg } from './viz.js';
import { formatFusions, graphFusions, type Fusion } from '../codegen/fusion-report.js';
import { benchModel } from './bench.js';
import { addQuantizeCommand } from './quantize.js';
import { compareTensors, defaultOutput, randomInput, topK } from './util.js';

type Level = 'O0' | 'O1' | 'O2' | 'O3';

function level(v: string): Level {
  const m = /^O?([0-3])$/.exec(v);
  if (!m) throw new CnncError('BAD_ATTRIBUTE', `unknown optimization level '-O${v.replace(/^O/, '')}': use -O0, -O1, -O2 or -O3`);
  return `O${m[1]}` as Level;
}

function layout(v: string): 'NCHW' | 'NHWC' {
  const u = v.toUpperCase();
  if (u !== 'NCHW' && u !== 'NHWC') throw new CnncError('BAD_ATTRIBUTE', `unknown layout '${v}': use nchw or nhwc`);
  return u;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CnncError('BAD_ATTRIBUTE', `'${v}' is not a positive integer`);
  return n;
}

const fmtBytes = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

/** --batch binds a symbolic batch dimension; on a model whose batch is fixed it is an error, not a no-op. */
function checkBatch(g: Graph, model: string, batch: number | undefined): void {
  if (batch === undefined) return;
  for (const name of g.inputs) {
    const shape = g.type(name).shape;
    if (shape.length && shape[0] !== batch) {
      throw new CnncError('BAD_ATTRIBUTE', `--batch ${batch}: ${model} has a fixed batch of ${shape[0]} (input '${name}' is [${shape.join(', ')}]); --batch sets only a symbolic batch dimension (export the model with a dynamic batch axis)`, { value: name });
    }
  }
}

function progressOption(): Option {
  return new Option('--progress <mode>', 'progress on stderr: auto (a bar on a terminal, else lines for slow steps), plain (every step), none')
    .choices(['auto', 'plain', 'none']).default('auto');
}

/** The package version, from package.json next to cli/ (sources) or dist/cli/ (built). */
function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
      if (pkg.name === 'cnnc') return pkg.version;
    } catch { /* try the next */ }
  }
  return 'unknown';
}

/** The `--target` option of a command, its choices and help read from the target registry. */
function targetOption(names: readonly TargetName[], what = 'target'): Option {
  return new Option('-t, --target <target>', `${what}: ${names.map((t) => `${t} (${TARGETS[t].doc})`).join(', ')}`).choices(names).default('wasm');
}

/** The graph after one pass of the target's pipeline (its first run), or after a whole level. */
function graphAfter(g: Graph, name: TargetName, after: string): Graph {
  const target = TARGETS[name];
  if (/^O?[0-3]$/.test(after)) return runPipeline(g, target, { opt: level(after) }).graph;
  const list = pipelineFor(target, {});
  const at = list.indexOf(after);
  if (at < 0) throw new CnncError('BAD_ATTRIBUTE', `pass '${after}' is not in the ${name} pipeline (${list.join(', ')})`);
  return runPipeline(g, target, { passes: list.slice(0, at + 1) }).graph;
}

/**
 * The graph after a pass or level and the fusions it carries. After the whole pipeline the model is
 * compiled, so the target's concat plan (producers writing Concat slices in place) is drawn too.
 */
async function fusedAfter(g: Graph, name: TargetName, after: string): Promise<{ graph: Graph; fusions: Fusion[] }> {
  const list = pipelineFor(TARGETS[name], {});
  const isLevel = /^O?[0-3]$/.test(after);
  if (isLevel || after === list[list.length - 1]) {
    try {
      const cm = await compile(g, name, isLevel ? { opt: level(after) } : {});
      return { graph: cm.graph, fusions: cm.fusions };
    } catch (e) {
      if (!(e instanceof CnncError) || e.code !== 'UNSUPPORTED') throw e; // the target cannot lower it: draw the passes' result alone
    }
  }
  const graph = graphAfter(g, name, after);
  return { graph, fusions: graphFusions(graph) };
}

/** `--print-after` names passes (or 'all'): an unknown one is an error, as it is for --disable. */
function checkPassNames(list: string | undefined, flag: string): void {
  for (const p of list ? String(list).split(',') : []) {
    if (p !== 'all' && !PASSES[p]) throw new CnncError('BAD_ATTRIBUTE', `${flag}: unknown pass '${p}' (passes: ${Object.keys(PASSES).join(', ')})`);
  }
}

function readInput(path: string, spec: { name: string; dtype: Tensor['dtype']; shape: number[] }): Tensor {
  if (path === 'random') return randomInput(spec.dtype, spec.shape);
  return readTensorFile(path, 'input');
}

/** A tensor from a .npy or .pb (ONNX TensorProto) file; IO_ERROR names the file. */
function readTensorFile(path: string, what: string): Tensor {
  if (!path.endsWith('.npy') && !path.endsWith('.pb')) throw new CnncError('IO_ERROR', `${what} '${path}': use a .npy or .pb (ONNX TensorProto) file${what === 'input' ? ", or 'random'" : ''}`);
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch { throw new CnncError('IO_ERROR', `cannot read ${what} file '${path}'`); }
  return path.endsWith('.npy') ? readNpy(bytes, path) : readTensorProto(bytes);
}

function nonNegative(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new CnncError('BAD_ATTRIBUTE', `'${v}' is not a non-negative number`);
  return n;
}

/** A check the user asked for (run --expect) that did not pass: exit 1 with its message, no error code. */
class CheckFailed extends Error {}

/**
 * Draws compile()'s events: the code generator loaded, each pass, each kernel of each build (with the
 * build's name) and the code generator's own stages (lowering, a module build, the encoding), each
 * with the time the library measured for it.
 */
function compileProgress(progress: Progress, target: string, passes: number): OnProgress {
  const generating = () => progress.phase(`generating ${target} kernels`, 0.4, 0.95);
  const build = (b: string | undefined) => (b ? ` [${b}]` : '');
  return (e) => {
    if (e.kind === 'pass') {
      progress.step(`${e.name} (${e.nodes} nodes)`, e.done, e.total, e.ms);
      if (e.done === e.total) generating();
    } else if (e.kind === 'kernel') {
      progress.step(`${e.name}${build(e.build)}`, e.done, e.total, e.ms);
    } else if (e.name === 'target') {
      if (passes) progress.phase(`optimizing (${passes} passes)`, 0.05, 0.4);
      else generating();
    } else if (!['import', 'passes', 'codegen'].includes(e.name)) {
      progress.note(`${e.name}${build(e.build)}`, e.ms);
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('cnnc')
    .description('cnnc: a compiler for convolutional neural networks (ONNX or TS DSL → WASM-SIMD, WGSL, CUDA)')
    .version(version(), '-V, --version', 'print the cnnc version')
    .option('--verbose', 'print stack traces on errors')
    .showSuggestionAfterError()
    .showHelpAfterError('(run with --help for usage)');

  program.command('compile')
    .description('compile a model for a target into a .cnnc artifact')
    .argument('<model>', 'an .onnx file or zoo:NAME')
    .addOption(targetOption(ARTIFACT_TARGETS))
    .option('-O, --opt <level>', "optimization level 0..3 (default: the target's, see cnnc passes)", level)
    .option('--fp16', 'f16: eligible ops compute in f16 (cuda; wgsl where the adapter has shader-f16); wasm stores the weights in f16 and computes in f32')
    .option('--layout <layout>', 'activation layout: nchw | nhwc', layout)
    .option('--batch <n>', 'batch size for a symbolic batch dimension', positiveInt)
    .option('--disable <passes>', 'comma-separated pass names to skip')
    .option('--print-after <passes>', "print the graph to stderr after these passes (comma-separated, or 'all')")
    .option('-o, --output <file>', 'artifact to write (default: <model>.<target>.cnnc in the current folder)')
    .addOption(progressOption())
    .action(async (model: string, o) => {
      const output: string = o.output ?? defaultOutput(model, o.target);
      checkOutputPath(output);
      checkPassNames(o.printAfter, '--print-after');
      const t0 = performance.now();
      const progress = new Progress(o.progress);
      progress.phase(`loading ${model}`, 0.02);
      const g = loadModel(model, { batch: o.batch });
      checkBatch(g, model, o.batch);
      const nodesIn = g.nodes.length;
      const printAfter = o.printAfter ? String(o.printAfter).split(',') : undefined;
      const options = {
        opt: o.opt as Level | undefined, fp16: o.fp16 ? true : undefined, layout: o.layout, batch: o.batch,
        disable: o.disable ? String(o.disable).split(',') : undefined,
      };
      const target = TARGETS[o.target as TargetName];
      const passes = pipelineFor(target, options);
      progress.phase(`loading the ${o.target} code generator`, 0.04);
      const cm = await compile(g, o.target as TargetName, { ...options, printAfter, onProgress: compileProgress(progress, o.target, passes.length) });
      progress.phase(`writing ${output}`, 0.95);
      const bytes = cm.save();
      writeOutput(output, bytes);
      progress.phase('done', 1);
      progress.done();
      const ms = performance.now() - t0;
      const opt = o.opt ?? target.defaults.opt;
      const fp16 = !o.fp16 ? '' : target.defaults.fp16Mode === 'storage' ? ', fp16 weights' : ', fp16';
      const lines = [`cnnc compile ${model} → ${output} (target ${o.target}, ${opt}${fp16})`, 'passes:'];
      for (const p of cm.passes) lines.push(`  ${p.name.padEnd(28)} ${String(p.nodesBefore).padStart(5)} → ${String(p.nodesAfter).padEnd(5)} nodes  ${p.ms.toFixed(1).padStart(8)} ms`);
      lines.push(`nodes: ${nodesIn} → ${cm.graph.nodes.length}`);
      lines.push(...fusionReport(cm.graph, cm.stats.kernels), ...formatFusions(cm.fusions));
      lines.push(`arena: ${fmtBytes(cm.stats.arenaBytes)}   weights: ${fmtBytes(cm.stats.weightBytes)}   kernels: ${cm.stats.kernels}   artifact: ${fmtBytes(bytes.length)}`);
      lines.push(`compile time: ${(ms / 1000).toFixed(2)} s`);
      console.log(lines.join('\n'));
    });

  program.command('run')
    .description('run a compiled artifact and print output shapes (and top-k for classifiers)')
    .argument('<artifact>', 'a .cnnc file')
    .option('-i, --input <file>', 'input: .npy, .pb (ONNX TensorProto) or random', 'random')
    .option('--output <file>', 'write the first output as .npy')
    .option('--expect <file>', 'compare the first output with this tensor (.npy or .pb): prints the max errors, fails over --tolerance')
    .option('--tolerance <x>', 'largest max |error| / max |expected| that --expect accepts', nonNegative, 1e-4)
    .option('--backend <backend>', 'runtime backend (defaults to the artifact target)')
    .option('-k, --top <k>', 'how many top classes to print', positiveInt, 5)
    .option('--threads <n>', 'wasm: threads sharing each layer (default: one per core, at most 4)', positiveInt)
    .addOption(progressOption())
    .action(async (file: string, o) => {
      if (o.output) checkOutputPath(o.output);
      const expected = o.expect ? readTensorFile(o.expect, 'expected output') : undefined; // a bad --expect file fails before the run
      const progress = new Progress(o.progress);
      progress.phase(`loading ${file}`, 0.1);
      const session = await load(file, {
        ...(o.backend ? { backend: o.backend } : {}),
        ...(o.threads ? { threads: o.threads } : {}),
        onProgress: (e) => {
          if (e.phase === 'pipelines') progress.step(e.message ?? '', e.done ?? 0, e.total ?? 0);
          else if (e.phase === 'open') progress.phase(`building the ${e.backend} session`, 0.3);
        },
      });
      const inputs: Record<string, Tensor> = {};
      for (const spec of session.inputs) inputs[spec.name] = readInput(o.input, spec);
      progress.phase('running', 0.9);
      const t0 = performance.now();
      const outputs = await session.run(inputs);
      const ms = performance.now() - t0;
      progress.done();
      const threads = session.backend === 'wasm' ? `   threads: ${session.threads}${session.threadsNote ? ` (${session.threadsNote})` : ''}` : '';
      console.log(`target: ${session.target}   run: ${ms.toFixed(1)} ms${threads}`);
      for (const [name, t] of Object.entries(outputs)) {
        console.log(`output ${name}: ${t.dtype}[${t.shape.join(', ')}]`);
        const classes = t.shape.length === 2 && t.shape[0] === 1 ? t.shape[1] : t.shape.length === 1 ? t.shape[0] : 0;
        if (classes >= 2) {
          console.log(`top-${Math.min(o.top, classes)}:`);
          for (const [i, v] of topK(t, o.top)) console.log(`  class ${String(i).padStart(4)}  ${v.toFixed(6)}`);
        }
      }
      if (o.output) writeOutput(o.output, writeNpy(Object.values(outputs)[0]));
      if (expected) {
        const [name, got] = Object.entries(outputs)[0];
        const c = compareTensors(got, expected, name, o.expect);
        console.log(`expect ${o.expect}: max abs error ${c.maxAbs.toExponential(3)}, max |expected| ${c.scale.toPrecision(4)}, relative ${c.rel.toExponential(3)} (tolerance ${o.tolerance})`);
        if (!(c.rel <= o.tolerance)) {
          throw new CheckFailed(`output '${name}' differs from ${o.expect}: relative error ${c.rel.toExponential(3)} is over the tolerance ${o.tolerance} (worst at index ${c.worst})`);
        }
      }
    });

  program.command('summary')
    .description('per-layer table: output shape, params, FLOPs, receptive field (like torchinfo)')
    .argument('<model>', 'an .onnx file or zoo:NAME')
    .option('--json', 'print JSON')
    .option('--batch <n>', 'batch size for a symbolic batch dimension', positiveInt)
    .action((model: string, o) => {
      const g = loadModel(model, { batch: o.batch });
      checkBatch(g, model, o.batch);
      // titled by what the user named (an ONNX file's graph name is often just 'torch_jit')
      const s = { ...summarize(g), model: model.startsWith('zoo:') ? g.name : model };
      console.log(o.json ? JSON.stringify(s, null, 2) : formatSummary(s));
    });

  program.command('viz')
    .description('draw the graph as SVG, before or after the optimization passes')
    .argument('<model>', 'an .onnx file or zoo:NAME')
    .option('--after <pass>', "draw the graph after this pass of the target's pipeline, or after a whole level (O0..O3)")
    .addOption(targetOption(TARGET_NAMES, 'target whose pipeline to run'))
    .requiredOption('-o, --output <file>', 'SVG file to write')
    .action(async (model: string, o) => {
      checkOutputPath(o.output);
      let g = loadModel(model);
      let fusions: Fusion[] = [];
      if (o.after) ({ graph: g, fusions } = await fusedAfter(g, o.target, o.after));
      writeOutput(o.output, graphToSvg(g, g.name, fusions));
      console.log(`wrote ${o.output}: ${g.nodes.length} nodes${fusions.length ? `, ${fusions.length} fusions framed` : ''}`);
    });

  program.command('opt')
    .description('optimize a model and write it back as ONNX (for Netron or onnxruntime)')
    .argument('<model>', 'an .onnx file or zoo:NAME')
    .option('-O, --opt <level>', 'optimization level 0..3', 'O3')
    .requiredOption('-o, --output <file>', 'ONNX file to write')
    .action(async (model: string, o) => {
      checkOutputPath(o.output);
      const g = loadModel(model);
      const cm = await compile(g, 'reference', { opt: level(o.opt), layout: 'NCHW' });
      writeOutput(o.output, exportOnnx(cm.graph));
      console.log(`wrote ${o.output}: ${g.nodes.length} → ${cm.graph.nodes.length} nodes`);
    });

  program.command('passes')
    .description("print the pass pipeline a compile runs: the target's defaults, or the level, layout and fp16 given")
    .addOption(targetOption(TARGET_NAMES))
    .option('-O, --opt <level>', "optimization level 0..3 (default: the target's)")
    .option('--fp16', "f16 (compute or, on wasm, weights only: the target's fp16 mode)")
    .option('--layout <layout>', 'activation layout: nchw | nhwc')
    .option('--disable <passes>', 'comma-separated pass names to skip')
    .action((o) => {
      console.log(describePipeline(TARGETS[o.target as TargetName], {
        opt: o.opt ? level(o.opt) : undefined, fp16: o.fp16 ? true : undefined, layout: o.layout ? layout(o.layout) : undefined,
        disable: o.disable ? String(o.disable).split(',') : undefined,
      }));
    });

  program.command('bench')
    .description('median latency of a compiled model, compared with onnxruntime-node where installed')
    .argument('<model>', 'an .onnx file or zoo:NAME')
    .addOption(targetOption(ARTIFACT_TARGETS))
    .option('-n, --runs <n>', 'timed runs', positiveInt, 20)
    .option('--warmup <n>', 'untimed runs first', positiveInt, 5)
    .option('--threads <n>', 'threads for cnnc (wasm) and for onnxruntime-node alike', positiveInt, 1)
    .action(async (model: string, o) => {
      console.log(await benchModel(model, o.target as TargetName, o.runs, o.warmup, o.threads));
    });

  addQuantizeCommand(program);

  program.command('zoo')
    .description('list the embedded DSL models')
    .action(() => {
      const rows = ZOO_NAMES.map((name) => {
        const s = summarize(zoo(name, { weights: 'zeros' }));
        return `${`zoo:${name}`.padEnd(24)} ${s.totalParams.toLocaleString('en-US').padStart(13)} params  ${formatFlops(s.totalFlops / 2).padStart(10)}MACs`;
      });
      console.log(rows.join('\n'));
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string; stack?: string };
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) return err.exitCode ?? 1; // commander printed it
    const verbose = argv.includes('--verbose');
    if (e instanceof CnncError || e instanceof CheckFailed) {
      console.error(`cnnc: ${e.message}`);
    } else {
      console.error(`cnnc: internal error: ${err.message ?? String(e)} (please report it; --verbose shows the stack)`);
    }
    if (verbose && err.stack) console.error(err.stack);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));

/**
 * The compile report's fusion lines: kernels without and with elementwise group fusion (each op it
 * fused was one kernel of its own) and the groups it formed, the first few by name.
 */
function fusionReport(g: Graph, kernels: number, show = 8): string[] {
  const { groups, ops } = fusionSummary(g);
  if (!groups.length) return ['fusion: no elementwise groups formed'];
  const lines = [`fusion: ${ops} elementwise ops in ${groups.length} kernels; kernels ${kernels + ops - groups.length} → ${kernels}`];
  for (const x of groups.slice(0, show)) lines.push(`  ${x.name}: ${x.ops.join(', ')} (${x.inputs} in, ${x.outputs} out)`);
  if (groups.length > show) lines.push(`  … ${groups.length - show} more groups`);
  return lines;
}
