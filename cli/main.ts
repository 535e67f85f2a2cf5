/**
 * The cnnc command line: compile, run, summary, viz, opt, bench, zoo.
 * Errors print one line with a hint and exit non-zero; --verbose adds the stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { compile, loadModel, TARGETS, type Target } from '../index.js';
import { CnncError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { load } from '../runtime/index.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { formatSummary, summarize, formatFlops } from '../ir/summary.js';
import { zoo, ZOO_NAMES } from '../models/index.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { readTensorProto } from '../frontends/onnx/import.js';
import type { Graph } from '../ir/graph.js';
import { PASSES, pipelineFor, runPipeline } from '../passes/pipeline.js';
import { readNpy, writeNpy } from './npy.js';
import { checkOutputPath, writeOutput } from './output.js';
import { Progress } from './progress.js';
import { graphToSvg } from './viz.js';
import { benchModel } from './bench.js';
import { randomInput, topK } from './util.js';

type Level = 'O0' | 'O1' | 'O2' | 'O3';

function level(v: string): Level {
  const m = /^O?([0-3])$/.exec(v);
  if (!m) throw new CnncError('BAD_ATTRIBUTE', `unknown optimization level '${v}': use -O0, -O1, -O2 or -O3`);
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

/** The graph after one pass of the target's pipeline (its first run), or after a whole level. */
function graphAfter(g: Graph, target: string, after: string): Graph {
  if (/^O?[0-3]$/.test(after)) return runPipeline(g, target, { opt: level(after) }).graph;
  const list = pipelineFor(target, {});
  const at = list.indexOf(after);
  if (at < 0) throw new CnncError('BAD_ATTRIBUTE', `pass '${after}' is not in the ${target} pipeline (${list.join(', ')})`);
  return runPipeline(g, target, { passes: list.slice(0, at + 1) }).graph;
}

/** `--print-after` names passes (or 'all'): an unknown one is an error, as it is for --disable. */
function checkPassNames(list: string | undefined, flag: string): void {
  for (const p of list ? String(list).split(',') : []) {
    if (p !== 'all' && !PASSES[p]) throw new CnncError('BAD_ATTRIBUTE', `${flag}: unknown pass '${p}' (passes: ${Object.keys(PASSES).join(', ')})`);
  }
}

function readInput(path: string, spec: { name: string; dtype: Tensor['dtype']; shape: number[] }): Tensor {
  if (path === 'random') return randomInput(spec.dtype, spec.shape);
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch { throw new CnncError('IO_ERROR', `cannot read input file '${path}'`); }
  if (path.endsWith('.npy')) return readNpy(bytes, path);
  if (path.endsWith('.pb')) return readTensorProto(bytes);
  throw new CnncError('IO_ERROR', `input '${path}': use a .npy or .pb (ONNX TensorProto) file, or 'random'`);
}

export function buildProgram(): Command {
  const program = new Command('cnnc')
    .description('cnnc: a compiler for convolutional neural networks (ONNX or TS DSL → WASM-SIMD, WGSL, CUDA)')
    .option('--verbose', 'print stack traces on errors')
    .showSuggestionAfterError()
    .showHelpAfterError('(run with --help for usage)');

  program.command('compile')
    .description('compile a model for a target into a .cnnc artifact')
    .argument('<model>', 'an .onnx file or zoo:NAME')
    .addOption(new Option('-t, --target <target>', 'wasm | wgsl | cuda').choices(TARGETS.filter((t) => t !== 'reference')).default('wasm'))
    .option('-O, --opt <level>', 'optimization level 0..3', 'O3')
    .option('--fp16', 'cast eligible ops to f16')
    .option('--layout <layout>', 'activation layout: nchw | nhwc')
    .option('--batch <n>', 'batch size for a symbolic batch dimension', positiveInt)
    .option('--disable <passes>', 'comma-separated pass names to skip')
    .option('--print-after <passes>', "print the graph to stderr after these passes (comma-separated, or 'all')")
    .requiredOption('-o, --output <file>', 'artifact to write (.cnnc)')
    .action(async (model: string, o) => {
      checkOutputPath(o.output);
      checkPassNames(o.printAfter, '--print-after');
      const t0 = performance.now();
      const progress = new Progress();
      progress.update(`loading ${model}`, 0.05);
      const g = loadModel(model, { batch: o.batch });
      const nodesIn = g.nodes.length;
      progress.update(`optimizing and generating ${o.target} kernels`, 0.3);
      const cm = await compile(g, o.target as Target, {
        opt: level(o.opt), fp16: Boolean(o.fp16), layout: o.layout ? layout(o.layout) : undefined, batch: o.batch,
        disable: o.disable ? String(o.disable).split(',') : undefined,
        printAfter: o.printAfter ? String(o.printAfter).split(',') : undefined,
      });
      progress.update('writing artifact', 0.9);
      const bytes = cm.save();
      writeOutput(o.output, bytes);
      progress.update('done', 1);
      progress.done();
      const ms = performance.now() - t0;
      const lines = [`cnnc compile ${model} → ${o.output} (target ${o.target}, ${level(o.opt)}${o.fp16 ? ', fp16' : ''})`, 'passes:'];
      for (const p of cm.passes) lines.push(`  ${p.name.padEnd(28)} ${String(p.nodesBefore).padStart(5)} → ${String(p.nodesAfter).padEnd(5)} nodes  ${p.ms.toFixed(1).padStart(8)} ms`);
      lines.push(`nodes: ${nodesIn} → ${cm.graph.nodes.length}`);
      lines.push(`arena: ${fmtBytes(cm.stats.arenaBytes)}   weights: ${fmtBytes(cm.stats.weightBytes)}   kernels: ${cm.stats.kernels}   artifact: ${fmtBytes(bytes.length)}`);
      lines.push(`compile time: ${(ms / 1000).toFixed(2)} s`);
      console.log(lines.join('\n'));
    });

  program.command('run')
    .description('run a compiled artifact and print output shapes (and top-k for classifiers)')
    .argument('<artifact>', 'a .cnnc file')
    .option('-i, --input <file>', 'input: .npy, .pb (ONNX TensorProto) or random', 'random')
    .option('--output <file>', 'write the first output as .npy')
    .option('--backend <backend>', 'runtime backend (defaults to the artifact target)')
    .option('-k, --top <k>', 'how many top classes to print', positiveInt, 5)
    .action(async (file: string, o) => {
      if (o.output) checkOutputPath(o.output);
      let bytes: Uint8Array;
      try { bytes = readFileSync(file); } catch { throw new CnncError('IO_ERROR', `cannot read artifact '${file}'`); }
      const session = await load(bytes, o.backend ? { backend: o.backend } : {});
      const { header } = decodeArtifact(bytes);
      const inputs: Record<string, Tensor> = {};
      for (const spec of header.inputs) inputs[spec.name] = readInput(o.input, spec);
      const t0 = performance.now();
      const outputs = await session.run(inputs);
      const ms = performance.now() - t0;
      console.log(`target: ${header.target}   run: ${ms.toFixed(1)} ms`);
      for (const [name, t] of Object.entries(outputs)) {
        console.log(`output ${name}: ${t.dtype}[${t.shape.join(', ')}]`);
        const classes = t.shape.length === 2 && t.shape[0] === 1 ? t.shape[1] : t.shape.length === 1 ? t.shape[0] : 0;
        if (classes >= 2) {
          console.log(`top-${Math.min(o.top, classes)}:`);
          for (const [i, v] of topK(t, o.top)) console.log(`  class ${String(i).padStart(4)}  ${v.toFixed(6)}`);
        }
      }
      if (o.output) writeOutput(o.output, writeNpy(Object.values(outputs)[0]));
    });

  program.command('summary')
    .description('per-layer table: output shape, params, FLOPs, receptive field (like torchinfo)')
    .argument('<model>', 'an .onnx file or zoo:NAME')
    .option('--json', 'print JSON')
    .option('--batch <n>', 'batch size for a symbolic batch dimension', positiveInt)
    .action((model: string, o) => {
      const s = summarize(loadModel(model, { batch: o.batch }));
      console.log(o.json ? JSON.stringify(s, null, 2) : formatSummary(s));
    });

  program.command('viz')
    .description('draw the graph as SVG, before or after the optimization passes')
    .argument('<model>', 'an .onnx file or zoo:NAME')
    .option('--after <pass>', "draw the graph after this pass of the target's pipeline, or after a whole level (O0..O3)")
    .addOption(new Option('-t, --target <target>', 'target whose pipeline to run').choices([...TARGETS]).default('wasm'))
    .requiredOption('-o, --output <file>', 'SVG file to write')
    .action((model: string, o) => {
      checkOutputPath(o.output);
      let g = loadModel(model);
      if (o.after) g = graphAfter(g, o.target, o.after);
      writeOutput(o.output, graphToSvg(g));
      console.log(`wrote ${o.output}: ${g.nodes.length} nodes`);
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

  program.command('bench')
    .description('median latency of a compiled model, compared with onnxruntime-node where installed')
    .argument('<model>', 'an .onnx file or zoo:NAME')
    .addOption(new Option('-t, --target <target>', 'wasm | wgsl | cuda').choices(TARGETS.filter((t) => t !== 'reference')).default('wasm'))
    .option('-n, --runs <n>', 'timed runs', positiveInt, 20)
    .option('--warmup <n>', 'untimed runs first', positiveInt, 5)
    .action(async (model: string, o) => {
      console.log(await benchModel(model, o.target as Target, o.runs, o.warmup));
    });

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
    if (e instanceof CnncError) {
      console.error(`cnnc: ${e.message}`);
    } else {
      console.error(`cnnc: internal error: ${err.message ?? String(e)} (please report it; --verbose shows the stack)`);
    }
    if (verbose && err.stack) console.error(err.stack);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
