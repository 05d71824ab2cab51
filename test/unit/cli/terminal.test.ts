import { describe, expect, it } from 'vitest';
import { forTerminal } from '../../../src/cli/terminal.js';

describe('forTerminal', () => {
  it('escapes what could move the cursor, restyle the terminal or reorder the text, and nothing else', () => {
    expect(forTerminal('a\rb\nc\td\u001b[31me\u007f\u009b')).toBe('a\\u{d}b\\u{a}c\\u{9}d\\u{1b}[31me\\u{7f}\\u{9b}');
    expect(forTerminal('x\u202eyz\u2066\u2028')).toBe('x\\u{202e}yz\\u{2066}\\u{2028}');
    expect(forTerminal('\u200f\u05d0\u05d1: OK\u200b\u061c\ufeff')).toBe('\\u{200f}\u05d0\u05d1: OK\\u{200b}\\u{61c}\\u{feff}');
    expect(forTerminal('policies/ab.json: OK — ünïcödé, 中文, emoji 🙂')).toBe('policies/ab.json: OK — ünïcödé, 中文, emoji 🙂');
  });

  it('escapes every format character and lone surrogate, not only the bidi and zero-width ones: each draws nothing', () => {
    // Drawn, the first reads "admin".
    expect(forTerminal('a\u2060d\u00adm\u{e0061}i\u180en\u2062')).toBe('a\\u{2060}d\\u{ad}m\\u{e0061}i\\u{180e}n\\u{2062}');
    expect(forTerminal('x\u206ay\ufff9z\ud800')).toBe('x\\u{206a}y\\u{fff9}z\\u{d800}');
  });
});
