/**
 * Cases after the W3C trace-context test suite (test/test.py in w3c/trace-context): valid
 * version-00 values, the reserved version ff, all-zero ids, upper-case hex, wrong lengths and
 * delimiters, repeated headers, and whitespace around the value.
 */
import { describe, expect, it } from 'vitest';
import { parseTraceparent } from '../../../src/decision/traceparent.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${PARENT}-01`;

describe('parseTraceparent', () => {
  describe('when the header is a valid version-00 traceparent', () => {
    it.each([
      VALID,
      `00-${TRACE}-${PARENT}-00`,
      `00-${TRACE}-${PARENT}-ff`, // flags other than sampled are kept as sent
      '00-12345678901234567890123456789012-1234567890123456-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    ])('records %s as is', (value) => {
      expect(parseTraceparent(value)).toBe(value);
    });

    it('drops whitespace around the value', () => {
      expect(parseTraceparent(` \t${VALID}\t `)).toBe(VALID);
    });
  });

  describe('when the header is absent or invalid, it records nothing', () => {
    it.each([
      ['absent', undefined],
      ['empty', ''],
      ['version ff (reserved)', `ff-${TRACE}-${PARENT}-01`],
      ['a future version', `01-${TRACE}-${PARENT}-01`],
      ['a future version with more fields', `cc-${TRACE}-${PARENT}-01-what-the-future-will-be-like`],
      ['version 00 with more fields', `00-${TRACE}-${PARENT}-01-extra`],
      ['a one-digit version', `0-${TRACE}-${PARENT}-01`],
      ['an all-zero trace-id', `00-${'0'.repeat(32)}-${PARENT}-01`],
      ['an all-zero parent-id', `00-${TRACE}-${'0'.repeat(16)}-01`],
      ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
      ['upper-case flags', `00-${TRACE}-${PARENT}-0A`],
      ['a short trace-id', `00-${TRACE.slice(1)}-${PARENT}-01`],
      ['a long parent-id', `00-${TRACE}-${PARENT}0-01`],
      ['a one-digit flags field', `00-${TRACE}-${PARENT}-1`],
      ['another delimiter', `00_${TRACE}_${PARENT}_01`],
      ['a non-hex character', `00-${TRACE.slice(0, 31)}g-${PARENT}-01`],
      ['a repeated header, joined', `${VALID},${VALID}`],
      ['a control character inside', `00-${TRACE}-${PARENT}\n-01`],
      ['a megabyte of spaces then a value', `${' '.repeat(1_000_000)}${VALID}`],
    ])('%s', (_, value) => {
      expect(parseTraceparent(value)).toBeUndefined();
    });
  });
});
