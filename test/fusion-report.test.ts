/**
 * The fusion report (codegen/fusion-report.ts): `CompiledModel.fusions` lists every fusion a compile
 * formed — conv epilogues, dw+pw, elementwise groups, concats written in place — the compile report
 * names them, and `cnnc viz --after` frames each fused kernel (a dagre cluster around a Concat and
 * its in-place producers).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile, type TargetName } from '../index.js';
import { formatFusions, graphFusions, registerFusedOp } from '../codegen/fusion-report.js';
import { graphToSvg } from '../cli/viz.js';
import { Model } from '../frontends/dsl/model.js';
import { zoo } from '../models/index.js';
import type { Graph } from '../ir/graph.js';

/** One of each: a conv with a fused ReLU, depthwise + pointwise, an elementwise group, a concat of two convs. */
function sampler(): Graph {
  const m = new Model('sampler', { seed: 3 });
  const x = m.relu(m.conv2d(m.input([1, 4, 8, 8]), 8, 3, { padding: 1, name: 'stem' }), { name: 'stem_relu' });
  const dw = m.conv2d(m.relu(m.conv2d(x, 8, 3, { padding: 1, groups: 8, name: 'dw' })), 6, 1, { name: 'pw' });
  const a = m.conv2d(x, 3, 1, { name: 'branch_a' }), b = m.conv2d(x, 5, 1, { name: 'branch_b' });
  const cat = m.cat([a, b], 1, { name: 'joined' });
  const p = m.conv2d(x, 6, 1, { name: 'p' }), q = m.conv2d(x, 6, 1, { name: 'q' });
  const gate = m.node('Sub', [m.node('Mul', [p, q], {}, 'mul'), m.node('Div', [p, m.node('Abs', [q], {}, 'abs')], {}, 'div')], {}, 'sub');
  m.output(cat, 'cat');
  m.output(m.add(dw, gate), 'mixed');
  return m.build();
}

describe('CompiledModel.fusions', () => {
  for (const target of ['wasm', 'wgsl', 'cuda'] as TargetName[]) {
    it(`${target}: lists the epilogue, dw+pw, elementwise and concat-in-place fusions`, async () => {
      const cm = await compile(sampler(), target);
      const kinds = new Set(cm.fusions.map((f) => f.kind));
      expect([...kinds].sort()).toEqual(['concat-in-place', 'dw+pw', 'elementwise', 'epilogue']);
      expect(cm.fusions.find((f) => f.kind === 'epilogue' && f.ops.includes('relu'))).toBeDefined();
      const cat = cm.fusions.find((f) => f.kind === 'concat-in-place')!;
      expect(cat.elided).toBe(true);
      expect(cat.ops).toEqual(['Conv', 'Conv', 'Concat']);
      expect(cat.members!.length).toBe(2);
      const group = cm.fusions.find((f) => f.kind === 'elementwise')!;
      expect(group.ops.length).toBeGreaterThanOrEqual(3);
      // the fusions are the graph's plus the target's concat plan
      expect(cm.fusions.filter((f) => f.kind !== 'concat-in-place')).toEqual(graphFusions(cm.graph));
      const report = formatFusions(cm.fusions).join('\n');
      expect(report).toMatch(/^fusions: .*\d+ epilogue/);
      expect(report).toContain(`concat-in-place Conv ${cat.members![0]}, Conv ${cat.members![1]} write their slices of ${cat.node} (no Concat kernel)`);
      expect(report).toContain(`elementwise ${group.node}: ${group.ops.join(' + ')}`);
    });
  }

  it('zoo:mobilenet_v3_small on wasm: its 9 squeeze-excitation gates are reported, hidden and gate activations named', async () => {
    const cm = await compile(zoo('mobilenet_v3_small', { size: 32 }), 'wasm');
    const se = cm.fusions.filter((f) => f.kind === 'squeeze-excitation');
    expect(se.length).toBe(9);
    expect(se.length).toBe(cm.graph.nodes.filter((n) => n.op === 'SqueezeExcitationGate').length);
    expect(se[0].ops).toEqual(['Conv (1×1)', 'relu', 'Conv (1×1)', 'hard_sigmoid']);
  });

  it('a fused op made elsewhere reports through registerFusedOp', () => {
    registerFusedOp('TestFusedSE', (n) => ({ kind: 'squeeze-excitation', node: n.name, ops: ['GlobalAveragePool', 'Conv', 'Conv', 'Mul'] }));
    const fake = { nodes: [{ name: 'se1', op: 'TestFusedSE', inputs: [], outputs: ['y'], attrs: {} }] } as unknown as Graph;
    expect(graphFusions(fake)).toEqual([{ kind: 'squeeze-excitation', node: 'se1', ops: ['GlobalAveragePool', 'Conv', 'Conv', 'Mul'] }]);
  });
});

/** x, y, width, height of the first <rect> after `marker` in the SVG. */
function rectAfter(svg: string, marker: string): number[] {
  const at = svg.indexOf(marker);
  expect(at, marker).toBeGreaterThanOrEqual(0);
  const m = /<rect x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(svg.slice(at))!;
  return m.slice(1).map(Number);
}

describe('the fused groups in the picture', () => {
  it('frames each fused kernel; the concat cluster encloses the Concat and its producers', async () => {
    const cm = await compile(sampler(), 'cuda');
    const svg = graphToSvg(cm.graph, 'sampler', cm.fusions);
    for (const f of cm.fusions) expect(svg).toContain(`class="fusion" data-kind="${f.kind}" data-node="${f.node}"`);
    const cat = cm.fusions.find((f) => f.kind === 'concat-in-place')!;
    const [cx, cy, cw, ch] = rectAfter(svg, `data-kind="concat-in-place" data-node="${cat.node}"`);
    for (const name of [...cat.members!, cat.node]) {
      const [x, y, w, h] = rectAfter(svg, `<title>${name}</title>`);
      expect(x >= cx && y >= cy && x + w <= cx + cw && y + h <= cy + ch, name).toBe(true);
    }
    expect(graphToSvg(cm.graph)).not.toContain('class="fusion"'); // without fusions: the plain picture
  });
});

describe('cnnc viz --after and cnnc compile name the fusions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cnnc-fusion-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cnnc = (...args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin/cnnc.js'), ...args], { encoding: 'utf8', timeout: 300_000 });

  it('zoo:squeezenet1_1: the SVG after O3 has a concat-in-place cluster per fire module; the report names them', () => {
    const svg = join(dir, 'sq.svg');
    const v = cnnc('viz', 'zoo:squeezenet1_1', '--after', 'O3', '-t', 'wgsl', '-o', svg);
    expect(v.status, v.stderr).toBe(0);
    const text = readFileSync(svg, 'utf8');
    expect(text.match(/data-kind="concat-in-place"/g)?.length).toBe(8);
    expect(text).toMatch(/data-kind="epilogue" data-node="[^"]+"><title>epilogue: Conv \+ relu/);
    const c = cnnc('compile', 'zoo:squeezenet1_1', '-t', 'wgsl', '-o', join(dir, 'sq.cnnc'));
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/fusions: \d+ epilogue, 8 concat-in-place/);
    expect(c.stdout).toMatch(/concat-in-place Conv \S+, Conv \S+ write their slices of \S+ \(no Concat kernel\)/);
  }, 300_000);
});
