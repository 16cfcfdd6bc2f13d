import { describe, expect, it } from 'vitest';
import { patroniJson } from '../src/index.js';

describe('patroniJson', () => {
  it('is compact like json.dumps(separators=(",", ":"))', () => {
    expect(patroniJson({ optime: 50331968, slots: { node2: 1 } })).toBe('{"optime":50331968,"slots":{"node2":1}}');
    expect(patroniJson([[1, 2, 'no recovery target specified']])).toBe('[[1,2,"no recovery target specified"]]');
  });

  it('escapes non-ASCII like Python ensure_ascii, astral characters as surrogate pairs', () => {
    expect(patroniJson({ leader: 'nœud' })).toBe('{"leader":"n\\u0153ud"}');
    expect(patroniJson('é😀')).toBe('"\\u00e9\\ud83d\\ude00"');
    expect(JSON.parse(patroniJson('é😀'))).toBe('é😀');
  });

  it('refuses a value JSON cannot represent', () => {
    expect(() => patroniJson(undefined)).toThrow(TypeError);
  });
});
