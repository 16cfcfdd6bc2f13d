#!/usr/bin/env node
// Structure rules of the house style, checked in `pnpm lint` (issue 15): no file under
// packages/*/src over 450 lines (small enough to hold in your head), and no import cycle between
// the files of a package (each file's relative imports, `import type` included: a cycle of types
// still means two files that cannot be understood apart).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const MAX_LINES = 450;
const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');

function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The files `file` imports by relative path (`./x.js` means `./x.ts`). */
function relativeImports(file, source) {
  const found = [];
  const pattern = /(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  // Comments are left out: doc examples show imports too.
  for (const m of source.replace(/\/\*[\s\S]*?\*\//g, '').matchAll(pattern)) {
    const spec = m[1] ?? m[2];
    found.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return found;
}

/** Every cycle reachable in `graph`, each reported once, by depth-first search. */
function findCycles(graph) {
  const cycles = [];
  const state = new Map(); // 1: on the stack, 2: done
  const stack = [];
  const visit = (node) => {
    state.set(node, 1);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 1) cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 2);
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

const problems = [];
for (const area of ['packages', 'apps', 'tools']) {
  for (const pkg of readdirSync(join(root, area))) {
    const src = join(root, area, pkg, 'src');
    let files;
    try {
      files = tsFiles(src);
    } catch {
      continue;
    }
    const graph = new Map();
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      const lines = source.split('\n').length - (source.endsWith('\n') ? 1 : 0);
      if (area === 'packages' && lines > MAX_LINES) problems.push(`${relative(root, file)}: ${lines} lines (at most ${MAX_LINES})`);
      graph.set(file, relativeImports(file, source));
    }
    for (const cycle of findCycles(graph)) problems.push(`import cycle: ${cycle.map((f) => relative(root, f)).join(' -> ')}`);
  }
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
