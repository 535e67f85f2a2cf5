/**
 * Kernels per model before and after elementwise group fusion, squeeze-excitation fusion (gate and
 * scale on load) and channel-gather folding, per target: each model compiled with the target's default
 * pipeline, once with `fuse-elementwise`, `fuse-squeeze-excitation`, `fuse-scale-on-load` and
 * `fold-channel-gather` disabled and once as is, and
 * the kernel counts (compile stats) compared. Models: the six in ../shared/models and every zoo
 * model (at 64×64: kernel counts do not depend on the input size; LeNet-5, VGG and AlexNet at their own
 * sizes, which their adaptive pooling needs), and the test graphs of a ShuffleNetV2-style network and a
 * Keras-style (Gemm) squeeze-excitation block.
 *
 *   npx tsx scripts/kernel-counts.ts            # prints the markdown table
 *   npx tsx scripts/kernel-counts.ts --write    # and replaces it in docs/benchmarks.md
 *   npx tsx scripts/kernel-counts.ts --only resnet18,efficientnet_b0 --targets wasm
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, type TargetName } from '../index.js';
import { importOnnx, loadOnnxFile } from '../frontends/onnx/import.js';
import { opset13Bytes } from '../test/decomposed.js';
import { SE_CASES, seGemmGraph } from '../test/se-graph.js';
import { shuffleNetGraph } from '../test/shuffle-graph.js';
import type { Graph } from '../ir/graph.js';
import { zoo, ZOO_NAMES } from '../models/index.js';
import { fusionSummary } from '../passes/fuse-elementwise.js';

const ROOT = join(import.meta.dirname, '..');
const SHARED = join(ROOT, '..', 'shared', 'models');
const SHARED_MODELS = ['lenet5', 'resnet18', 'mobilenet_v2', 'efficientnet_b0', 'squeezenet1_1', 'unet_small'];
const DOC = join(ROOT, 'docs', 'benchmarks.md');
/** `n things` (or '' for none), singular for one. */
const count = (n: number, what: string, plural = 's', tail = '') => (n ? `${n} ${what}${n === 1 ? '' : plural}${tail}` : '');

const BEGIN = '<!-- kernel-counts:begin (scripts/kernel-counts.ts) -->', END = '<!-- kernel-counts:end -->';

const arg = (name: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const targets = (arg('--targets') ?? 'wasm,wgsl,cuda').split(',') as TargetName[];
const only = arg('--only')?.split(',');

/** ConvNeXt-Tiny as PyTorch exports it at opset 13 (LayerNorm and GELU written out as elementwise ops and reductions). */
const convnextOpset13 = () => importOnnx(opset13Bytes(zoo('convnext_tiny', { size: 64 }), false));

const models: { label: string; load: () => Graph; disable?: string[] }[] = [
  ...SHARED_MODELS.map((m) => ({ label: `${m} (ONNX)`, load: () => loadOnnxFile(join(SHARED, m, 'model.onnx')) })),
  ...ZOO_NAMES.map((m) => ({ label: `zoo:${m}`, load: () => zoo(m, /^(lenet|vgg|alexnet)/.test(m) ? {} : { size: 64 }) })),
  { label: 'convnext_tiny opset-13 export', load: convnextOpset13 },
  // without the pattern rules: what trait-based fusion alone does with the written-out forms
  { label: 'convnext_tiny opset-13 export, canonicalize disabled', load: convnextOpset13, disable: ['canonicalize'] },
  { label: 'ShuffleNetV2-style units (test/shuffle-graph.ts)', load: () => shuffleNetGraph(1) },
  { label: 'SE block with a Gemm gate (test/se-graph.ts)', load: () => seGemmGraph(SE_CASES[0], 1) },
].filter((m) => !only || only.some((o) => m.label.includes(o)));

/** "before → after (groups)" for one model on one target. */
async function counts(g: Graph, target: TargetName, disable: string[] = []): Promise<string> {
  try {
    const before = (await compile(g, target, { disable: [...disable, 'fuse-elementwise', 'fuse-squeeze-excitation', 'fuse-scale-on-load', 'fold-channel-gather'] })).stats.kernels;
    const c = await compile(g, target, { disable });
    const groups = fusionSummary(c.graph).groups.length;
    const gates = c.graph.nodes.filter((n) => n.op === 'SqueezeExcitationGate').length;
    const scaled = c.graph.nodes.filter((n) => n.op === 'Conv' && (n.inputs[4] ?? '') !== '').length;
    const gathers = c.graph.nodes.filter((n) => n.op === 'Gather').length;
    const formed = [count(groups, 'group'), count(gates, 'SE gate'), count(scaled, 'conv', 's', ' scaling on load'), count(gathers, 'channel gather', 's', ' left')].filter(Boolean).join(', ');
    return before === c.stats.kernels ? `${before}` : `${before} → **${c.stats.kernels}** (${formed})`;
  } catch (e) {
    return `— (${(e as Error).message.split(':')[0]})`;
  }
}

const rows: string[] = [];
for (const m of models) {
  if (m.label.endsWith('(ONNX)') && !existsSync(join(SHARED, m.label.split(' ')[0], 'model.onnx'))) continue;
  let g: Graph;
  try {
    g = m.load();
  } catch (e) {
    rows.push(`| ${m.label} | — | ${targets.map(() => `— (${(e as Error).message.split(':')[0]})`).join(' | ')} |`);
    continue;
  }
  const cells: string[] = [];
  for (const t of targets) cells.push(await counts(g, t, m.disable));
  const row = `| ${m.label} | ${g.nodes.length} | ${cells.join(' | ')} |`;
  console.error(row);
  rows.push(row);
}
const table = [
  `| model | nodes | ${targets.map((t) => `${t} kernels`).join(' | ')} |`,
  `|---|---:|${targets.map(() => '---').join('|')}|`,
  ...rows,
].join('\n');
console.log(table);

if (process.argv.includes('--write')) {
  const doc = readFileSync(DOC, 'utf8');
  const block = `${BEGIN}\n${table}\n${END}`;
  const at = doc.indexOf(BEGIN);
  const next = at >= 0 ? doc.slice(0, at) + block + doc.slice(doc.indexOf(END) + END.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(DOC, next);
  console.error(`wrote ${DOC}`);
}
