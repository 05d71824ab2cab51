/**
 * Each peer's share of the calls a gRPC server keeps open (grpc-unary.ts `maxOpenCallsPerPeer`).
 *
 * The server-wide bound on open calls keeps memory bounded, but alone it is one pool for all:
 * one meshed pod opening streams that send nothing but headers (a few connections of 1,024
 * streams each) held every call until the read timeout, and every other sidecar's Check was
 * refused (RESOURCE_EXHAUSTED, a deny in Envoy) meanwhile, again and again. A peer is its IP
 * address: in a mesh each pod has its own, and the sidecars a Check comes from are those pods.
 */
export class PeerCalls {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerPeer: number) {}

  /** Count a call of `peer`; false, counting nothing, when it has its share open already. */
  take(peer: string): boolean {
    const n = this.open.get(peer) ?? 0;
    if (n >= this.maxPerPeer) return false;
    this.open.set(peer, n + 1);
    return true;
  }

  /** A call `take` counted has closed. */
  give(peer: string): void {
    const n = this.open.get(peer) ?? 0;
    if (n <= 1) this.open.delete(peer);
    else this.open.set(peer, n - 1);
  }
}
