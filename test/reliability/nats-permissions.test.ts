/**
 * deploy/nats/chio-users.conf, as shipped, on a real nats-server: every service runs under its
 * own user and does all it does (Checks allowed on stored receipts, integrated, checkpointed,
 * proven, exported, a capability revoked) without one permission violation; and what each user
 * must not do (docs/transport-security.md, "Who may publish") the server refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USERS, envOf, startNatsWithUsers, type User, type UsersNats } from '../support/nats-users.js';
import type { EmbeddedNats } from '../../src/nats/server.js';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, natsSettings } from '../../src/nats/connection.js';
import { loadConfig } from '../../src/config.js';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from '../support/chio-process.js';
import { loadKey, loadVerifierKey } from '../../src/keys.js';
import { loadKernelTrust } from '../../src/kernel-keys.js';
import { createLogger } from '../../src/log.js';
import { startAuthz, type RunningAuthz } from '../../src/authz/service.js';
import { startLedger, type RunningLedger } from '../../src/ledger/service.js';
import { startVerifier, type RunningVerifier } from '../../src/verifier/service.js';
import { sendCheck } from '../../src/cli/check.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { demoToken } from '../../src/up.js';
import { fromBase64Url } from '../../src/encoding.js';
import { CHECKPOINTS_STREAM, QUARANTINE_STREAM, RECEIPTS_STREAM, REVOCATIONS_BUCKET, ensureResources, openRevocationsBucket, receiptSubject } from '../../src/store/resources.js';
import { revokeCapability } from '../../src/store/revocations.js';
import { exportBundle } from '../../src/export/exporter.js';
import type { ChioConfig } from '../../src/config.js';

let users: UsersNats;
let dir: string;
let nats: EmbeddedNats;
let config: ChioConfig;
const connections: NatsConnection[] = [];
/** Every error status a connection reported (a permission violation is one). */
const violations: Array<{ user: User; error: string }> = [];

/** Connect as a service does under a user of chio-users.conf, collecting the errors the server reports to it. */
async function connectAs(user: User): Promise<NatsConnection> {
  const nc = await connectNats(natsSettings(loadConfig({ env: envOf(user) }), [nats.url], `chio-${user}`));
  connections.push(nc);
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') violations.push({ user, error: String((s as { error?: unknown }).error) });
  })();
  return nc;
}

beforeAll(async () => {
  users = await startNatsWithUsers('chio-nats-permissions-');
  ({ dir, nats, config } = users);
});

afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => undefined);
  await users?.stop();
});

describe('every service under its own NATS user', () => {
  let authz: RunningAuthz;
  let ledger: RunningLedger;
  let verifier: RunningVerifier;
  afterAll(async () => {
    await authz?.stop();
    await ledger?.stop();
    await verifier?.stop();
  });

  it('answers, stores, integrates, proves, exports and revokes, with no permission violation', async () => {
    const log = createLogger('silent');
    const configOf = (user: User) => ({ ...config, natsInboxPrefix: envOf(user).NATS_INBOX_PREFIX });
    ledger = await startLedger(configOf('ledger'), await connectAs('ledger'), log);
    verifier = await startVerifier(configOf('verifier'), await connectAs('verifier'), log);
    authz = await startAuthz(configOf('authz'), await connectAs('authz'), log);
    const token = demoToken(config);
    let checks = 0;
    const check = (headers: Record<string, string>) => (checks++, sendCheck(`127.0.0.1:${authz.grpcPort}`, buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools', headers })));

    // More than one entry bundle (256 leaves): the ledger then deletes the partial bundles.
    const allowed = [];
    for (let i = 0; i < 10; i++) allowed.push(...(await Promise.all(Array.from({ length: 30 }, () => check({ 'x-chio-capability-token': token })))));
    const denied = await check({});
    expect(allowed.map((a) => a.verdict)).toEqual(Array(300).fill('allow'));
    expect(denied.verdict).toBe('deny');
    await waitFor(async () => (ledger.ledger.treeSize >= checks ? true : undefined), 30_000, 'every receipt integrated');

    const verifierUrl = `http://127.0.0.1:${verifier.httpPort}`;
    for (const answer of [allowed[0]!, allowed.at(-1)!, denied]) {
      await waitFor(async () => ((await fetch(`${verifierUrl}/v1/receipts/${answer.receiptId}/proof`)).status === 200 ? true : undefined), 10_000, `a proof of ${answer.receiptId}`);
    }
    expect((await fetch(`${verifierUrl}/checkpoint`)).status).toBe(200);
    expect((await fetch(`${verifierUrl}/v1/policies/${authz.policyHash}`)).status).toBe(200);

    // A message on a receipts subject that is no receipt: the ledger quarantines it.
    await jetstream(await connectAs('authz')).publish(receiptSubject('forged'), '{"not":"a receipt"}');
    const watcher = await jetstreamManager(await connectAs('verifier'));
    await waitFor(async () => ((await watcher.streams.info(QUARANTINE_STREAM)).state.messages > 0 ? true : undefined), 10_000, 'the message quarantined');

    const operator = await connectAs('operator');
    const capabilityId = (JSON.parse(new TextDecoder().decode(fromBase64Url(token))) as { id: string }).id;
    await revokeCapability(await openRevocationsBucket(operator), capabilityId, 'test');
    await waitFor(async () => ((await check({ 'x-chio-capability-token': token })).verdict === 'deny' ? true : undefined), 5_000, 'the revocation to reach authz');

    // `chio export` runs as the verifier's user: it only reads.
    await waitFor(async () => (ledger.ledger.treeSize >= checks ? true : undefined), 10_000, 'the last receipts integrated');
    const reader = await connectAs('verifier'); // with NATS_INBOX_PREFIX as `chio export` runs
    await waitFor(async () => {
      const { manifest } = await exportBundle({
        jsm: await jetstreamManager(reader), resources: await ensureResources(reader), outDir: join(dir, `bundle-${Date.now()}`), filter: {},
        exportKey: loadKey(config.keyDir, 'export'), logKey: loadVerifierKey(join(config.keyDir, 'log.pub')), kernelKeys: loadKernelTrust(config.keyDir, 'verifier').keys,
      });
      return manifest.count === checks ? true : undefined;
    }, 10_000, 'an export of every receipt');
    expect(violations).toEqual([]);
  });
});

describe('what a user must not do, the server refuses', () => {
  const refused = { message: expect.stringMatching(/permission|timeout/i) };
  const quick = { timeout: 1_500 };

  it.each<[User]>([['ledger'], ['verifier'], ['operator']])('only authz publishes receipts: not %s', async (user) => {
    const js = jetstream(await connectAs(user), quick);
    await expect(js.publish(receiptSubject('test-chain-0'), '{"forged":true}', quick)).rejects.toMatchObject(refused);
  });

  it.each<[User]>([['authz'], ['verifier'], ['operator']])('only the ledger writes checkpoints and index entries: not %s', async (user) => {
    const js = jetstream(await connectAs(user), quick);
    await expect(js.publish('chio.checkpoints', 'forged', quick)).rejects.toMatchObject(refused);
    await expect(js.publish('$KV.chio-index.forged', '{"index":0,"seq":1}', quick)).rejects.toMatchObject(refused);
  });

  it.each<[User]>([['authz'], ['ledger'], ['verifier'], ['operator']])('no one deletes, purges or edits a stream: not %s', async (user) => {
    const jsm = await jetstreamManager(await connectAs(user), quick);
    const { config: receipts } = await jsm.streams.info(RECEIPTS_STREAM);
    await expect(jsm.streams.delete(RECEIPTS_STREAM)).rejects.toMatchObject(refused);
    await expect(jsm.streams.purge(RECEIPTS_STREAM)).rejects.toMatchObject(refused);
    await expect(jsm.streams.update(RECEIPTS_STREAM, { ...receipts, max_age: 60e9 })).rejects.toMatchObject(refused);
    await expect(jsm.streams.deleteMessage(CHECKPOINTS_STREAM, 1)).rejects.toMatchObject(refused);
    expect((await jsm.streams.info(RECEIPTS_STREAM)).config.max_age).toBe(0);
  });

  it('no one reads another service\'s replies', async () => {
    for (const user of ['verifier', 'operator', 'ledger'] as User[]) {
      const nc = await connectAs(user);
      const seen: string[] = [];
      // A refused subscription is told so through its callback, with an error and no message.
      const callback = (err: Error | null, msg: { subject: string }) => void (err ? undefined : seen.push(msg.subject));
      nc.subscribe('_INBOX_chio_authz.>', { callback });
      nc.subscribe('_INBOX.>', { callback });
      await nc.flush();
      await jetstreamManager(await connectAs('authz')).then((jsm) => jsm.streams.info(RECEIPTS_STREAM));
      await new Promise((r) => setTimeout(r, 100));
      expect({ user, seen }).toEqual({ user, seen: [] });
    }
    expect(violations.filter((v) => v.error.includes('Subscription to "_INBOX_chio_authz.>"')).map((v) => v.user).sort()).toEqual(['ledger', 'operator', 'verifier']);
  });

  it.each<[User, string]>([['verifier', CHECKPOINTS_STREAM], ['operator', RECEIPTS_STREAM], ['authz', RECEIPTS_STREAM], ['ledger', `KV_${REVOCATIONS_BUCKET}`]])('%s makes no consumer on %s, which it does not read', async (user, stream) => {
    const jsm = await jetstreamManager(await connectAs(user), quick);
    await expect(jsm.consumers.add(stream, { name: `probe-${user}`, ack_policy: AckPolicy.None })).rejects.toMatchObject(refused);
  });

  it('no one answers on a reply inbox: a PubAck cannot be forged', async () => {
    const listener = await connectAs('ledger');
    const seen: string[] = [];
    listener.subscribe('_INBOX_chio_ledger.forged.>', { callback: (_err, msg) => void seen.push(msg.subject) });
    await listener.flush();
    for (const user of Object.keys(USERS) as User[]) {
      const nc = await connectAs(user);
      nc.publish('_INBOX_chio_ledger.forged.ack', JSON.stringify({ stream: RECEIPTS_STREAM, seq: 1 }));
      await nc.flush();
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
    expect(violations.filter((v) => v.error.includes('_INBOX_chio_ledger.forged')).map((v) => v.user).sort()).toEqual(['authz', 'ledger', 'operator', 'verifier']);
  });
});
