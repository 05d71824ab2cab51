/**
 * Text a receipt carries (host, path, principal, reason, guard), as the explorer page shows it:
 * in parts, so that nothing in it can pass for something else, while it stays readable.
 *
 * - `escape`: a character that draws nothing, reorders the text or breaks the line (the
 *   categories `chio` escapes before printing, cli/terminal.ts), written as its `\u{…}` escape.
 *   The page styles it apart, so a reason that *types* the eight characters `\u{202e}` is not
 *   read as an escape the page made.
 * - `non-ascii`: a run of other characters outside ASCII. Drawn as they are (a reason may be
 *   written in any language), but marked, with their code points: the Cyrillic `а` of
 *   `аdmin.example.com` (U+0430), a fullwidth `ａ` or a no-break space then cannot pass for ASCII.
 * - `text`: ASCII, shown plain.
 *
 * The parts are the text, joined: `toShownParts(t).map((p) => p.text).join('')` is what
 * `forTerminal(t)` prints. Pure and DOM-free; the page turns the parts into text nodes and
 * elements (never markup).
 */
import { forTerminal } from '../cli/terminal.js';

export type ShownPart =
  | { kind: 'text'; text: string }
  | { kind: 'escape'; text: string; codePoints: string }
  | { kind: 'non-ascii'; text: string; codePoints: string };

/** Code points a part's description lists before it says `…`: a long run (a reason in Chinese) stays a short title. */
export const LISTED_CODE_POINTS = 8;

/** `text` in parts (see the module comment); '' has none. */
export function toShownParts(text: string): ShownPart[] {
  const parts: ShownPart[] = [];
  let run: { kind: ShownPart['kind']; chars: string[] } | undefined;
  const close = () => {
    if (run === undefined) return;
    parts.push(toPart(run.kind, run.chars));
    run = undefined;
  };
  // for…of walks code points; a lone surrogate comes as itself and is escaped.
  for (const char of text) {
    const kind = forTerminal(char) !== char ? 'escape' : char > '\u007f' ? 'non-ascii' : 'text';
    if (run?.kind !== kind) {
      close();
      run = { kind, chars: [] };
    }
    run.chars.push(char);
  }
  close();
  return parts;
}

function toPart(kind: ShownPart['kind'], chars: string[]): ShownPart {
  if (kind === 'text') return { kind, text: chars.join('') };
  const text = kind === 'escape' ? chars.map(forTerminal).join('') : chars.join('');
  return { kind, text, codePoints: listCodePoints(chars) };
}

/** `U+0430 U+0441`, at most LISTED_CODE_POINTS of them, then `… (12 in all)`. */
export function listCodePoints(chars: readonly string[]): string {
  const listed = chars.slice(0, LISTED_CODE_POINTS).map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
  return chars.length > LISTED_CODE_POINTS ? `${listed.join(' ')} … (${chars.length} in all)` : listed.join(' ');
}

/** A `host[:port]` with no URL delimiter, space or escape in its name: the only form whose ASCII form is asked of the URL parser. */
const HOST_AND_PORT = /^([^\s/?#@\\:[\]%]+)(:[0-9]{1,5})?$/u;

/**
 * The ASCII (IDNA, punycode) form of a host that holds non-ASCII characters, as a browser
 * would look the name up: `аdmin.example.com` (Cyrillic а) is `xn--dmin-43d.example.com`, a
 * fullwidth `ａｄｍｉｎ.example.com` is `admin.example.com`. Undefined for an ASCII host (it is
 * its own form; chio records every host so, decision/host.ts) and for one that is no host
 * name: a receipt that does not verify may say anything, and what the parser would make of
 * `a/@b` is another host, not this one's form.
 */
export function asciiHostForm(host: string): string | undefined {
  if (!/[^\u0000-\u007f]/u.test(host)) return undefined;
  const parsed = HOST_AND_PORT.exec(host);
  if (!parsed) return undefined;
  let hostname: string;
  try {
    hostname = new URL(`http://${parsed[1]!}/`).hostname;
  } catch {
    return undefined;
  }
  return `${hostname}${parsed[2] ?? ''}`;
}
