import { describe, expect, it } from 'vitest';
import { queryPrinter, queryTypeParser, SqlNumber } from '../src/hactl-query-output.js';

/** Prints a whole result through a streaming printer, as `hactl query` does row by row. */
function print(fmt: string, columns: string[] | undefined, rows: unknown[][], delimiter = '\t'): string {
  const p = queryPrinter(fmt, delimiter);
  return p.header(columns) + rows.map((r) => p.row(r)).join('') + p.end();
}

// Expected texts are what patronictl 3.0.2 prints for the same psycopg2 values (checked against the
// real patronictl in hactl-query.int.test.ts).
const columns = ['a', 'b', 'c', 'd'];
const rows = [
  [new SqlNumber('1'), 'x y', null, true],
  [new SqlNumber('9007199254740993'), 'é', { k: [1, 2] }, false],
];

describe('query output, one row at a time', () => {
  it('reads booleans, numbers and JSON as psycopg does, everything else as text', () => {
    expect(queryTypeParser(16)('t')).toBe(true);
    expect(queryTypeParser(20)('9007199254740993')).toEqual(new SqlNumber('9007199254740993'));
    expect(queryTypeParser(3802)('{"k": [1, 2]}')).toEqual({ k: [1, 2] });
    expect(queryTypeParser(1184)('2024-01-01 00:00:00+00')).toBe('2024-01-01 00:00:00+00');
  });

  it('tsv: a header line, Python str() of each value, the chosen delimiter', () => {
    expect(print('tsv', columns, rows)).toBe("a\tb\tc\td\n1\tx y\tNone\tTrue\n9007199254740993\té\t{'k': [1, 2]}\tFalse\n");
    expect(print('tsv', ['g'], [], ',')).toBe('g\n');
    expect(print('tsv', undefined, [])).toBe('');
  });

  it('json: one array, Python spacing, big integers keep every digit', () => {
    expect(print('json', columns, rows)).toBe(
      '[{"a": 1, "b": "x y", "c": null, "d": true}, {"a": 9007199254740993, "b": "\\u00e9", "c": {"k": [1, 2]}, "d": false}]\n',
    );
    expect(print('json', ['g'], [])).toBe('[]\n');
    // An error row has no columns: patronictl prints empty objects.
    expect(print('json', undefined, [['2024-01-01 00:00:00', 'ERROR, SQLSTATE: 42P01']])).toBe('[{}]\n');
  });

  it('yaml: a list of mappings with sorted keys, and click’s extra newline', () => {
    expect(print('yaml', ['b', 'a'], [[new SqlNumber('2'), 'x']])).toBe('- a: x\n  b: 2\n\n');
    expect(print('yml', ['g'], [])).toBe('[]\n\n');
  });

  it('pretty: a table once the result is complete; Field 1, Field 2 for an error row', () => {
    expect(
      print(
        'pretty',
        ['g', 'name'],
        [
          [new SqlNumber('1'), 'pg1'],
          [new SqlNumber('10'), null],
        ],
      ),
    ).toBe(['+----+------+', '| g  | name |', '+----+------+', '| 1  | pg1  |', '| 10 | None |', '+----+------+', ''].join('\n'));
    expect(print('pretty', undefined, [['2024-01-01 00:00:00', 'ERROR, SQLSTATE: 42P01']])).toBe(
      [
        '+---------------------+------------------------+',
        '| Field 1             | Field 2                |',
        '+---------------------+------------------------+',
        '| 2024-01-01 00:00:00 | ERROR, SQLSTATE: 42P01 |',
        '+---------------------+------------------------+',
        '',
      ].join('\n'),
    );
  });
});
