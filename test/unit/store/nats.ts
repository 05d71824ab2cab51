/**
 * A real nats-server for one test file (test/support/nats.ts), connected, with Chio's
 * resources created: call once at the top of a file, read the fields inside tests.
 */
import { afterAll, beforeAll } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { startTestNats, type TestNats } from '../../support/nats.js';
import { ensureResources, type ChioResources } from '../../../src/store/resources.js';

export interface StoreContext {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  resources: ChioResources;
}

export function useTestStore(): StoreContext {
  const ctx = {} as StoreContext;
  let nats: TestNats | undefined;
  beforeAll(async () => {
    nats = await startTestNats();
    ctx.nc = await connect({ servers: nats.current.url });
    ctx.js = jetstream(ctx.nc);
    ctx.jsm = await jetstreamManager(ctx.nc);
    ctx.resources = await ensureResources(ctx.nc);
  });
  afterAll(async () => {
    await ctx.nc?.drain();
    await nats?.cleanup();
  });
  return ctx;
}
