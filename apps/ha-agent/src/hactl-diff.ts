type Opcode = ['equal' | 'replace' | 'delete' | 'insert', number, number, number, number];

function opcodes(a: readonly string[], b: readonly string[]): Opcode[] {
  // Longest common subsequence table; configurations are small.
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as Uint32Array;
    const next = lcs[i + 1] as Uint32Array;
    for (let j = m - 1; j >= 0; j--) row[j] = a[i] === b[j] ? (next[j + 1] as number) + 1 : Math.max(next[j] as number, row[j + 1] as number);
  }
  const codes: Opcode[] = [];
  const push = (tag: 'equal' | 'delete' | 'insert', i1: number, i2: number, j1: number, j2: number): void => {
    const last = codes[codes.length - 1];
    if (last && (last[0] === tag || (tag !== 'equal' && last[0] !== 'equal'))) {
      last[0] = last[0] === tag ? tag : 'replace';
      last[2] = i2;
      last[4] = j2;
    } else {
      codes.push([tag, i1, i2, j1, j2]);
    }
  };
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      push('equal', i, i + 1, j, j + 1);
      i++;
      j++;
    } else if (i < n && (j === m || (lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0))) {
      // Deletions first, so a changed line prints as "-old" then "+new", like difflib.
      push('delete', i, i + 1, j, j);
      i++;
    } else {
      push('insert', i, i, j, j + 1);
      j++;
    }
  }
  return codes;
}

function groups(codes: Opcode[], context: number): Opcode[][] {
  const c = codes.length > 0 ? codes.map((op) => [...op] as Opcode) : [['equal', 0, 1, 0, 1] as Opcode];
  const first = c[0] as Opcode;
  if (first[0] === 'equal') c[0] = ['equal', Math.max(first[1], first[2] - context), first[2], Math.max(first[3], first[4] - context), first[4]];
  const last = c[c.length - 1] as Opcode;
  if (last[0] === 'equal') c[c.length - 1] = ['equal', last[1], Math.min(last[2], last[1] + context), last[3], Math.min(last[4], last[3] + context)];
  const out: Opcode[][] = [];
  let group: Opcode[] = [];
  for (const op of c) {
    let [tag, i1, i2, j1, j2] = op;
    if (tag === 'equal' && i2 - i1 > context * 2) {
      group.push([tag, i1, Math.min(i2, i1 + context), j1, Math.min(j2, j1 + context)]);
      out.push(group);
      group = [];
      i1 = Math.max(i1, i2 - context);
      j1 = Math.max(j1, j2 - context);
    }
    group.push([tag, i1, i2, j1, j2]);
  }
  if (group.length > 0 && !(group.length === 1 && group[0]?.[0] === 'equal')) out.push(group);
  return out;
}

function range(start: number, stop: number): string {
  const length = stop - start;
  if (length === 1) return String(start + 1);
  return `${length === 0 ? start : start + 1},${length}`;
}

/**
 * A unified diff of two texts, line by line, in the layout of Python's `difflib.unified_diff`
 * (what patronictl `edit-config` prints on a non-terminal): `--- `, `+++ `, `@@ -a,b +c,d @@`,
 * three lines of context. Empty when the texts are equal.
 *
 * @example
 * ```ts
 * unifiedDiff('ttl: 30\n', 'ttl: 20\n'); // ['--- ', '+++ ', '@@ -1 +1 @@', '-ttl: 30', '+ttl: 20']
 * ```
 */
export function unifiedDiff(before: string, after: string, context = 3): string[] {
  const listify = (s: string): string[] => s.replace(/\n+$/, '').split('\n');
  const a = listify(before);
  const b = listify(after);
  const out: string[] = [];
  for (const group of groups(opcodes(a, b), context)) {
    if (out.length === 0) out.push('--- ', '+++ ');
    const first = group[0] as Opcode;
    const last = group[group.length - 1] as Opcode;
    out.push(`@@ -${range(first[1], last[2])} +${range(first[3], last[4])} @@`);
    for (const [tag, i1, i2, j1, j2] of group) {
      if (tag === 'equal') {
        for (const line of a.slice(i1, i2)) out.push(` ${line}`);
        continue;
      }
      if (tag === 'replace' || tag === 'delete') for (const line of a.slice(i1, i2)) out.push(`-${line}`);
      if (tag === 'replace' || tag === 'insert') for (const line of b.slice(j1, j2)) out.push(`+${line}`);
    }
  }
  return out;
}
