/**
 * What is wrong with text given as a receipt id, in words, for a person who pasted it: `chio
 * prove` says it before asking a verifier, which would only answer "malformed". Pure.
 */
import { RECEIPT_ID_PATTERN } from './receipt.js';

/** What a receipt id is, for messages. */
export const RECEIPT_ID_FORM = "a receipt id is 64 lower-case hex digits, as in the x-chio-receipt-id header of a Check's answer";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Undefined for a receipt id, else what is wrong with `text` ("is 63 hex digits, not 64").
 * The text is not quoted whole: it may be anything pasted, a token too.
 */
export function receiptIdProblem(text: string): string | undefined {
  if (RECEIPT_ID_PATTERN.test(text)) return undefined;
  if (text === '') return 'is empty';
  if (UUID.test(text)) return 'is a UUID (a capability or request id?), not a receipt id';
  const notHex = [...text].findIndex((c) => !/[0-9a-fA-F]/.test(c));
  if (notHex >= 0) return `has ${JSON.stringify([...text][notHex])} at character ${notHex + 1}, which is no hex digit`;
  if (text.length !== 64) return `is ${text.length} hex digits, not 64 (cut short, or run together, when copied?)`;
  // All hex digits, 64 of them: only the case is wrong, and the id it stands for is safe to show.
  return `has upper-case letters; receipt ids are lower case: ${text.toLowerCase()}`;
}
