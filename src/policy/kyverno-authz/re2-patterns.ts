/**
 * The patterns of `matches` (RE2, re2js) and what compiling them may cost. re2js compiles
 * synchronously and cannot be interrupted, and its time grows with what a pattern expands to,
 * not with its text: `a{1000}` repeated 100 times (700 characters, 100,002 instructions) took
 * 0.3 s warm and up to 0.95 s cold, and `(?i)[B-\x{1e942}]` (17 characters) 6 ms, each code
 * point of the range folded one by one. So:
 *
 *   - a pattern written as a literal in the policy (`x.matches("^/api/")`) is compiled when the
 *     policy loads, kept for as long as its policy set (addLiteral), and costs nothing at run time;
 *   - any other pattern (from a variable, a header, a list a comprehension ranges over) is
 *     charged, the first time a Check uses it, compileUnits(pattern), cached or not, so
 *     that a decision never depends on what an earlier Check left in the cache; past
 *     MAX_COMPILE_UNITS in one Check, all its CEL policies together (./check-budget.ts), it is
 *     a limit error, before compiling;
 *   - a Check keeps what it compiled until it ends, so a pattern it was charged for is never
 *     compiled a second time uncharged (cache eviction in between), whichever policy uses it.
 */
import { RE2JS } from 're2js';
import { CelLimitExceeded, chargeMatch } from './cel-bounds.js';
import { activeBudget, type CelCheckBudget } from './check-budget.js';
import { isHighSurrogate, isLowSurrogate } from '../../text.js';

/**
 * What compiling the patterns of one Check may cost, all its CEL policies together, in
 * compileUnits. A unit is about a microsecond of re2js at its slowest measured (Node 20, warm):
 * 0.4 to 3 µs a unit over ordinary and hostile patterns alike, so no Check compiles for more
 * than some 30 ms.
 * Ordinary patterns are 20 to 300 units: a list of a dozen tried on every header is well inside.
 */
export const MAX_COMPILE_UNITS = 10_000;

/** Each compile's own work (the program, its one-pass and prefilter forms): `^/q1$` took 30 µs. */
const COMPILE_OVERHEAD_UNITS = 32;
/** A Unicode class, `\pL` or `\P{Greek}`: its ranges are built and merged, 50 µs; case-folded 260 µs. */
const UNICODE_CLASS_UNITS = 320;
/** A class under (?i) with a range past ASCII: each code point in it, up to 125 K, is folded (6.3 ms). */
const FOLDED_RANGE_UNITS = 8_000;
/** A class or Perl class (\w, \W, …) under (?i): folded over its ASCII letters, up to 30 µs. */
const FOLDED_CLASS_UNITS = 32;

interface Compiled {
  re: RE2JS;
  instructions: number;
}

function compilePattern(pattern: string): Compiled {
  const re = RE2JS.compile(pattern);
  return { re, instructions: re.programSize() };
}

/** Patterns compiled for earlier evaluations, by source: a speed-up only, every use is charged. */
const cache = new Map<string, Compiled>();
const MAX_CACHED_PATTERNS = 256;

// Evaluation is synchronous, one policy at a time: one record serves, renewed with the Check's budget.
let compiledFor: CelCheckBudget | undefined;
const ofThisCheck = new Map<string, Compiled>();

const COMPILE_SPENT = new CelLimitExceeded(`matches compiled patterns costing more than ${MAX_COMPILE_UNITS} units in one Check`);

/** A pattern that is no literal of the policy: charged once per Check, then compiled or taken from the cache. */
function chargedPattern(pattern: string): Compiled {
  const budget = activeBudget();
  if (compiledFor !== budget) {
    compiledFor = budget;
    ofThisCheck.clear();
  }
  const known = ofThisCheck.get(pattern);
  if (known !== undefined) return known;
  // The text's length first: it bounds the estimate's own scan.
  if (budget.compileUnits + pattern.length > MAX_COMPILE_UNITS) throw COMPILE_SPENT;
  budget.compileUnits += compileUnits(pattern);
  if (budget.compileUnits > MAX_COMPILE_UNITS) throw COMPILE_SPENT;
  let compiled = cache.get(pattern);
  if (compiled === undefined) {
    compiled = compilePattern(pattern);
    if (cache.size >= MAX_CACHED_PATTERNS) cache.clear();
    cache.set(pattern, compiled);
  }
  ofThisCheck.set(pattern, compiled);
  return compiled;
}

/** The patterns of one policy set: its literals compiled at load, the rest charged. */
export class Re2Patterns {
  private readonly literals = new Map<string, Compiled>();

  /** Compile a literal pattern of the policy now; throws when it is not valid RE2. */
  addLiteral(pattern: string): void {
    if (!this.literals.has(pattern)) this.literals.set(pattern, compilePattern(pattern));
  }

  /** CEL's `text.matches(pattern)`, charged for the text it scans and, unless literal, the compile. */
  matches(text: string, pattern: string): boolean {
    const compiled = this.compiled(pattern);
    // Charged by the size of the pattern too: its time is the text's length times the states it keeps.
    chargeMatch(text.length, compiled.instructions);
    return compiled.re.matcher(text).find();
  }

  /** The Kubernetes regex library's `text.find(pattern)`: Go's FindString, the leftmost match or "". */
  find(text: string, pattern: string): string {
    return this.findAll(text, pattern, 1n)[0] ?? '';
  }

  /**
   * The Kubernetes regex library's `text.findAll(pattern[, limit])`: Go's FindAllString, the
   * successive non-overlapping matches, an empty one not right after a match (`[0-9]*` over
   * `"1 a"` finds "1", "", ""); at most `limit` unless it is negative. Each search is charged
   * from where it starts to the end of the text, what it may scan (`(.*X)?` scans to the end
   * from each position). So k searches, starting at k distinct positions, cost at least
   * k(k-1)/2: no Check finds more than some 725 matches (MAX_MATCHED_CHARS), and the list is
   * never longer than the cost estimate assumes (COMPREHENSION_RANGE_BOUND), as split's is not.
   */
  findAll(text: string, pattern: string, limit = -1n): string[] {
    const compiled = this.compiled(pattern);
    const most = limit < 0n ? Number.POSITIVE_INFINITY : Number(limit);
    const matcher = compiled.re.matcher(text);
    const found: string[] = [];
    for (let pos = 0, previousEnd = -1; found.length < most && pos <= text.length; ) {
      chargeMatch(text.length - pos, compiled.instructions);
      if (!matcher.find(pos)) break;
      const start = matcher.start();
      const end = matcher.end();
      // Go's allMatches: an empty match right where the previous one ended is skipped, and the search moves on one character.
      const accept = !(end === pos && start === previousEnd);
      pos = end === pos ? pos + characterWidthAt(text, pos) : end;
      previousEnd = end;
      if (!accept) continue;
      found.push(text.slice(start, end));
    }
    return found;
  }

  /** A literal of the policy, or else a pattern charged its compile. */
  private compiled(pattern: string): Compiled {
    return this.literals.get(pattern) ?? chargedPattern(pattern);
  }
}

/** Code units of the character at `pos` (a surrogate pair is one character); 1 at the end, past which the search stops. */
function characterWidthAt(text: string, pos: number): number {
  const c = text.charCodeAt(pos);
  return isHighSurrogate(c) && pos + 1 < text.length && isLowSurrogate(text.charCodeAt(pos + 1)) ? 2 : 1;
}

/**
 * What compiling `pattern` costs, from its text alone, never less than its length plus the
 * instructions re2js compiles it to: repetitions multiply what they repeat (`(a{10}){100}` is
 * 1,000 copies), with the costly parses of UNICODE_CLASS_UNITS and the case-folding units on
 * top. Read as re2js parses (Go's regexp/syntax): where this reading could part from re2js's
 * on a pattern re2js accepts, it reads more, never less (a class ends at its first unescaped `]`).
 */
export function compileUnits(pattern: string): number {
  const folds = /\(\?[A-Za-z]*i/.test(pattern);
  let extra = COMPILE_OVERHEAD_UNITS;
  // The group being read: alternatives done, the current sequence, and its last item (what a repetition repeats).
  let group = { done: 0, seq: 0, last: 0 };
  const outer: (typeof group)[] = [];
  const item = (size: number) => {
    group.seq += size;
    group.last = size;
  };
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === '\\') {
      const end = escapeEnd(pattern, i);
      extra += escapeUnits(pattern.slice(i, end), folds);
      if (pattern[i + 1] === 'Q') group.seq += end - i;
      item(1);
      i = end;
    } else if (c === '[') {
      const end = classEnd(pattern, i);
      extra += classUnits(pattern.slice(i + 1, end - 1), folds);
      item(1);
      i = end;
    } else if (c === '(') {
      const open = groupOpening(pattern, i);
      i = open.end;
      if (!open.flagsOnly) {
        outer.push(group);
        group = { done: 0, seq: 0, last: 0 };
      }
    } else if (c === ')' && outer.length > 0) {
      const size = group.done + group.seq + 2;
      group = outer.pop()!;
      item(size);
      i++;
    } else if (c === '|') {
      group.done += group.seq + 1;
      group.seq = 0;
      group.last = 0;
      i++;
    } else if (c === '*' || c === '+' || c === '?') {
      group.seq += 2;
      group.last += 2;
      i++;
    } else {
      REPEAT.lastIndex = i;
      const repeat = c === '{' ? REPEAT.exec(pattern) : null;
      if (repeat === null) {
        item(1);
        i++;
        continue;
      }
      // x{n,m} is n copies of x and m-n optional ones, nested, counted twice: a chain of them
      // compiled at 2.6 µs an instruction (a{0,1000} four times: 8 K instructions, 21 ms).
      // x{n,} is n copies and a star.
      const min = Number(repeat[1]);
      const copies = repeat[2] === undefined ? min : repeat[3] === '' ? min + 1 : Math.max(min, Number(repeat[3]));
      const size = (group.last + 1) * (2 * copies - min) + 2;
      group.seq += size - group.last;
      group.last = size;
      i += repeat[0].length;
    }
  }
  let instructions = group.done + group.seq;
  for (const g of outer) instructions += g.done + g.seq + 2;
  return pattern.length + instructions + 2 + extra;
}

/** A counted repetition, `{n}`, `{n,}` or `{n,m}`, read where it stands (sticky). */
const REPEAT = /\{(\d+)(,(\d*))?\}/y;

/** Where the escape at `i` ends: `\Q…\E`, `\p{…}`, `\x{…}` and octal digits run on; others are two characters. */
function escapeEnd(pattern: string, i: number): number {
  const next = pattern[i + 1];
  if (next === 'Q') {
    const end = pattern.indexOf('\\E', i + 2);
    return end < 0 ? pattern.length : end + 2;
  }
  if ((next === 'p' || next === 'P' || next === 'x') && pattern[i + 2] === '{') {
    const end = pattern.indexOf('}', i + 3);
    return end < 0 ? pattern.length : end + 1;
  }
  if (next === 'p' || next === 'P') return Math.min(pattern.length, i + 3);
  if (next === 'x') return Math.min(pattern.length, i + 4);
  let end = i + 2;
  if (next !== undefined && next >= '0' && next <= '7') while (end < i + 4 && pattern[end]! >= '0' && pattern[end]! <= '7') end++;
  return Math.min(pattern.length, end);
}

/** The parse cost of one escape beyond its characters. */
function escapeUnits(escape: string, folds: boolean): number {
  const kind = escape[1];
  if (kind === 'p' || kind === 'P') return UNICODE_CLASS_UNITS;
  return folds && kind !== undefined && 'dDsSwW'.includes(kind) ? FOLDED_CLASS_UNITS : 0;
}

/** Where the class opened at `i` ends (after its `]`): a `]` right after `[` or `[^` is a member. */
function classEnd(pattern: string, i: number): number {
  let j = i + 1;
  if (pattern[j] === '^') j++;
  if (pattern[j] === ']') j++;
  while (j < pattern.length) {
    if (pattern[j] === ']') return j + 1;
    if (pattern[j] === '\\') j = escapeEnd(pattern, j);
    else if (pattern.startsWith('[:', j) && pattern.indexOf(':]', j + 2) >= 0) j = pattern.indexOf(':]', j + 2) + 2;
    else j++;
  }
  return pattern.length;
}

/** The parse cost of a class's members beyond their characters. */
function classUnits(members: string, folds: boolean): number {
  let units = 0;
  for (let j = 0; j < members.length; ) {
    if (members[j] !== '\\') {
      j++;
      continue;
    }
    const end = escapeEnd(members, j);
    units += escapeUnits(members.slice(j, end), folds);
    j = end;
  }
  if (!folds) return units;
  // Under (?i) a range is folded a code point at a time: past ASCII, or written as an escape, it may be 125 K wide.
  return units + (/[^\x00-\x7f]|\\[x0-7]/.test(members) ? FOLDED_RANGE_UNITS : FOLDED_CLASS_UNITS);
}

/** The `(` at `i`: where what follows its opening begins, and whether it only sets flags (`(?i)`). */
function groupOpening(pattern: string, i: number): { end: number; flagsOnly: boolean } {
  if (pattern[i + 1] !== '?') return { end: i + 1, flagsOnly: false };
  const named = /^\(\?P?<[A-Za-z0-9_]*>/.exec(pattern.slice(i, i + 256));
  if (named !== null) return { end: i + named[0].length, flagsOnly: false };
  const flags = /^\(\?[A-Za-z-]*([:)])/.exec(pattern.slice(i, i + 64));
  if (flags === null) return { end: i + 2, flagsOnly: false };
  return { end: i + flags[0].length, flagsOnly: flags[1] === ')' };
}
