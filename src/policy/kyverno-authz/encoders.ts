/**
 * cel-go's encoders extension, which kyverno-authz enables: `base64.encode(bytes) → string` and
 * `base64.decode(string) → bytes`, as cel-go answers them. decode takes standard base64
 * (RFC 4648 §4) with its `=` padding or without it, and skips CR and LF as Go's decoder does;
 * anything else (URL-safe `-` and `_`, spaces, a stray `=`) is an evaluation error, where
 * Node's own decoder would quietly drop it. Each call is one node of the cost estimate whatever
 * its text, so it charges what it reads and builds to the Check's string budget (chargeScan):
 * a policy decoding a 90 KB header in a comprehension stops at the bound, as `contains` does.
 */
import { EvaluationError } from '@marcbachmann/cel-js';
import { chargeScan } from './cel-bounds.js';

/** Standard base64, padded (length a multiple of 4) or not (never 1 past a multiple of 4). */
const PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UNPADDED = /^[A-Za-z0-9+/]*$/;

export function base64Encode(data: Uint8Array): string {
  chargeScan(data.length);
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('base64');
  chargeScan(text.length);
  return text;
}

export function base64Decode(text: string): Uint8Array {
  chargeScan(text.length);
  const compact = text.includes('\r') || text.includes('\n') ? text.replace(/[\r\n]/g, '') : text;
  if (!PADDED.test(compact) && !(UNPADDED.test(compact) && compact.length % 4 !== 1)) {
    throw new EvaluationError({ code: 'invalid_base64', message: 'base64.decode: not standard base64' } as never);
  }
  const bytes = new Uint8Array(Buffer.from(compact, 'base64'));
  chargeScan(bytes.length);
  return bytes;
}
