/** How the explorer shows a receipt's text: non-ASCII runs marked, characters that draw nothing escaped, a host's ASCII form. */
import { describe, expect, it } from 'vitest';
import { forTerminal } from '../../../src/cli/terminal.js';
import { asciiHostForm, listCodePoints, toShownParts } from '../../../src/explorer/shown-text.js';

describe('toShownParts', () => {
  describe('when text holds a letter that passes for an ASCII one', () => {
    it('marks it as a non-ASCII run with its code point', () => {
      expect(toShownParts('\u0430dmin.example.com')).toEqual([
        { kind: 'non-ascii', text: '\u0430', codePoints: 'U+0430' },
        { kind: 'text', text: 'dmin.example.com' },
      ]);
      // Fullwidth letters and a no-break space: each reads as ASCII when drawn.
      expect(toShownParts('sa/\uff41dmin\u00a0x')).toEqual([
        { kind: 'text', text: 'sa/' },
        { kind: 'non-ascii', text: '\uff41', codePoints: 'U+FF41' },
        { kind: 'text', text: 'dmin' },
        { kind: 'non-ascii', text: '\u00a0', codePoints: 'U+00A0' },
        { kind: 'text', text: 'x' },
      ]);
    });
  });

  describe('when text holds characters that draw nothing or reorder it', () => {
    it('writes them as escapes, a part of their own apart from the text around them', () => {
      expect(toShownParts('sa/\u202enimda')).toEqual([
        { kind: 'text', text: 'sa/' },
        { kind: 'escape', text: '\\u{202e}', codePoints: 'U+202E' },
        { kind: 'text', text: 'nimda' },
      ]);
      expect(toShownParts('a\u2060\u00ad\u{e0061}\r')).toEqual([
        { kind: 'text', text: 'a' },
        { kind: 'escape', text: '\\u{2060}\\u{ad}\\u{e0061}\\u{d}', codePoints: 'U+2060 U+00AD U+E0061 U+000D' },
      ]);
    });

    it('keeps an escape typed as text plain, so the page can tell it from one it made', () => {
      expect(toShownParts('x\\u{202e}y')).toEqual([{ kind: 'text', text: 'x\\u{202e}y' }]);
    });

    it('escapes a lone surrogate', () => {
      expect(toShownParts('a\ud800b')).toEqual([
        { kind: 'text', text: 'a' },
        { kind: 'escape', text: '\\u{d800}', codePoints: 'U+D800' },
        { kind: 'text', text: 'b' },
      ]);
    });
  });

  describe('when text is in another language', () => {
    it('keeps it whole, as one marked run per stretch between ASCII characters', () => {
      expect(toShownParts('Zugriff für 中文 🙂')).toEqual([
        { kind: 'text', text: 'Zugriff f' },
        { kind: 'non-ascii', text: 'ü', codePoints: 'U+00FC' },
        { kind: 'text', text: 'r ' },
        { kind: 'non-ascii', text: '中文', codePoints: 'U+4E2D U+6587' },
        { kind: 'text', text: ' ' },
        { kind: 'non-ascii', text: '🙂', codePoints: 'U+1F642' },
      ]);
    });
  });

  it('joins back to what chio prints for the same text', () => {
    for (const text of ['', 'plain', '\u0430\u202e\u05d0\u200f: OK\ud800 中文\u2028x', '\u{e0061}\u{1f642}\u0000']) {
      expect(toShownParts(text).map((p) => p.text).join('')).toBe(forTerminal(text));
    }
  });
});

describe('listCodePoints', () => {
  it('lists at most eight code points, then says how many there are', () => {
    expect(listCodePoints([...'\u0430\u0431'])).toBe('U+0430 U+0431');
    expect(listCodePoints([...'一二三四五六七八九十'])).toBe('U+4E00 U+4E8C U+4E09 U+56DB U+4E94 U+516D U+4E03 U+516B … (10 in all)');
  });
});

describe('asciiHostForm', () => {
  it('gives a host with non-ASCII characters in its ASCII (punycode) form, with its port', () => {
    expect(asciiHostForm('\u0430dmin.example.com')).toBe('xn--dmin-43d.example.com');
    expect(asciiHostForm('b\u00fccher.example:8443')).toBe('xn--bcher-kva.example:8443');
    // IDNA maps fullwidth letters to ASCII ones: the name is admin.example.com.
    expect(asciiHostForm('\uff41\uff44\uff4d\uff49\uff4e.example.com')).toBe('admin.example.com');
  });

  it('gives nothing for an ASCII host: it is its own form', () => {
    expect(asciiHostForm('admin.example.com')).toBeUndefined();
    expect(asciiHostForm('xn--dmin-43d.example.com:443')).toBeUndefined();
  });

  it('gives nothing for what is no host name, rather than the other host a URL parser would read in it', () => {
    for (const host of ['\u0430dmin.example.com/@evil.example', 'x@\u0430dmin.example', '\u0430 b', '[::1\u0430]', '\u0430dmin:99999x', '\u0430%41', '\u0430\u0000']) {
      expect(asciiHostForm(host)).toBeUndefined();
    }
  });
});
