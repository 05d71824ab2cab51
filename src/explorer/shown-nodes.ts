/**
 * A receipt's text as DOM nodes for the explorer page (shown-text.ts says which parts): ASCII
 * as text nodes, a non-ASCII run in a <mark class="non-ascii">, an escape in a
 * <span class="escape">, each titled with its code points. Only textContent and setAttribute,
 * never markup: what a receipt says stays text.
 */
import { toShownParts } from './shown-text.js';

const ESCAPE_TITLE = ', shown as an escape: it draws nothing, reorders or breaks the text';

/** `text` as a fragment to append (empty for ''); a line break in it is shown as an escape. */
export function shownText(text: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  for (const part of toShownParts(text)) {
    if (part.kind === 'text') {
      fragment.append(part.text);
      continue;
    }
    const node = document.createElement(part.kind === 'escape' ? 'span' : 'mark');
    node.className = part.kind;
    node.textContent = part.text;
    node.setAttribute('title', part.kind === 'escape' ? `${part.codePoints}${ESCAPE_TITLE}` : `non-ASCII: ${part.codePoints}`);
    fragment.append(node);
  }
  return fragment;
}

/**
 * Text of several lines (JSON, a signed note), each shown as shownText shows it, the line
 * breaks kept. A line starting with `ownPrefix` (a signed note's `— ` before each signature,
 * C2SP signed-note) has that prefix shown plain: it is the format's, not a character to mark.
 */
export function shownLines(text: string, ownPrefix?: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  text.split('\n').forEach((line, i) => {
    if (i > 0) fragment.append('\n');
    const own = ownPrefix !== undefined && line.startsWith(ownPrefix) ? ownPrefix : '';
    fragment.append(own, shownText(line.slice(own.length)));
  });
  return fragment;
}
