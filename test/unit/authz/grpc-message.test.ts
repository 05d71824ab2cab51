/**
 * What a call keeps of the DATA it was handed. Node hands a stream's DATA as a view into the
 * buffer of the whole socket read (up to 64 KiB, other streams' bytes too); a call that kept
 * such a view held all of it while counted only its own bytes. Checked here on the buffers
 * themselves: the socket read's buffer must be collectable while the call still waits.
 */
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ServerHttp2Stream } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { readRequestMessage, type Call, type Reading } from '../../../src/authz/grpc-message.js';
import { frameMessage } from '../../../src/authz/grpc-protocol.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const reading: Reading = { announce: () => undefined, hold: () => undefined, refuse: () => undefined };

/** `bytes` as Node hands them: a view into a 64 KiB socket read that holds other bytes too. */
function inSocketRead(bytes: Uint8Array, freed: FinalizationRegistry<string>): Buffer {
  const read = new ArrayBuffer(64 * 1024);
  freed.register(read, 'socket read');
  const view = Buffer.from(read, 1000, bytes.length);
  view.set(bytes);
  return view;
}

/** Whether the socket read was collected while the call still waits (its stream not ended). */
async function socketReadFreed(first: Uint8Array): Promise<{ freed: boolean; stream: EventEmitter }> {
  let freed = false;
  const registry = new FinalizationRegistry<string>(() => (freed = true));
  const stream = new EventEmitter();
  const call: Call = { since: 0, reading: true, held: 0 };
  readRequestMessage(stream as unknown as ServerHttp2Stream, undefined, call, reading, () => undefined);
  stream.emit('data', inSocketRead(first, registry));
  for (let i = 0; i < 50 && !freed; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  return { freed, stream };
}

describe('a request message still arriving', () => {
  it.each([
    ['the first bytes of its prefix', Uint8Array.of(0, 0)],
    ['the whole message, its stream not ended', frameMessage(new TextEncoder().encode('tiny'))],
  ])('keeps its own bytes, not the socket read they came in: %s', async (_name, first) => {
    const { freed, stream } = await socketReadFreed(first);
    expect(freed).toBe(true);
    stream.emit('end');
  });

  it('hands over the message whole once the stream ends, after the copy', async () => {
    const stream = new EventEmitter();
    let got: Buffer | undefined;
    readRequestMessage(stream as unknown as ServerHttp2Stream, undefined, { since: 0, reading: true, held: 0 }, reading, (bytes) => (got = bytes));
    const frame = frameMessage(new TextEncoder().encode('hello'));
    stream.emit('data', Buffer.from(frame.subarray(0, 2)));
    stream.emit('data', Buffer.from(frame.subarray(2)));
    stream.emit('end');
    expect(got?.toString()).toBe('hello');
  });
});
