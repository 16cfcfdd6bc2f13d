import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The names `src/index.ts` exports, values and types apart (`export { a }`, `export type { B }`). */
function exportedNames(index: string): { values: string[]; types: string[] } {
  const values: string[] = [];
  const types: string[] = [];
  for (const m of index.matchAll(/export (type )?\{([^}]*)\}/g)) {
    const names = (m[2] ?? '')
      .split(',')
      .map(
        (s) =>
          s
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)
            .pop() ?? '',
      )
      .filter(Boolean);
    (m[1] ? types : values).push(...names);
  }
  return { values, types };
}

describe('the public surface of @pgtools/repack', () => {
  const index = readFileSync(new URL('../src/index.ts', import.meta.url), 'utf8');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const api = readme.slice(readme.indexOf('## API'));
  const { values, types } = exportedNames(index);

  it('exports only through explicit lists', () => {
    expect(index).not.toMatch(/export \*/);
    expect(values.length).toBeGreaterThan(10);
  });

  it.each([...values, ...types])('the README API section lists %s', (name) => {
    expect(api).toContain(`\`${name}`);
  });

  it('lists nothing in the README API section that is not exported', () => {
    const listed = [...api.matchAll(/^- Types: (.*)$/gm)].flatMap((m) => [...(m[1] ?? '').matchAll(/`(\w+)`/g)].map((n) => n[1]));
    expect(listed.filter((n) => n !== undefined && !types.includes(n))).toEqual([]);
  });
});
