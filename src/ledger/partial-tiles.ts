/**
 * The partial tiles and entry bundles a ledger has stored at the right edge of its tree, by the
 * full tile that will one day supersede each (C2SP tlog-tiles: `<path>.p/<width>`). Once that full
 * one is committed, the partial ones are garbage: the integrator deletes them. Kept in memory
 * only: after a restart the right edge of the tree says which partial ones may exist.
 */
import type { Logger } from 'pino';
import { TILE_HEIGHT, entriesPath, tilePath } from '../tlog/index.js';
import { TILE_WIDTH, type TileStore } from '../store/tile-store.js';

const PARTIAL_SUFFIX = /\.p\/\d+$/;

export class PartialTiles {
  readonly #byFull = new Map<string, Set<string>>();

  /** Forget everything and start from the partial tiles a tree of `size` leaves has. */
  reset(size: number): void {
    this.#byFull.clear();
    this.#remember(rightEdgePartials(size));
  }

  /**
   * `written` (tile and bundle paths) are committed: remember the partial ones, and delete
   * every partial one that a full one among them supersedes. A failed delete leaves garbage,
   * never a wrong tile, so it is logged and not retried.
   */
  async committed(written: readonly string[], tiles: TileStore, log: Logger): Promise<void> {
    this.#remember(written.filter(isPartialPath));
    for (const full of written.filter((p) => !isPartialPath(p))) {
      const partials = this.#byFull.get(full);
      this.#byFull.delete(full);
      for (const path of partials ?? []) {
        await tiles.deletePartial(path).catch((err: unknown) => log.warn({ err: String(err), path }, 'partial tile not deleted'));
      }
    }
  }

  #remember(paths: readonly string[]): void {
    for (const path of paths) {
      const full = path.replace(PARTIAL_SUFFIX, '');
      const set = this.#byFull.get(full) ?? new Set<string>();
      set.add(path);
      this.#byFull.set(full, set);
    }
  }
}

function isPartialPath(path: string): boolean {
  return PARTIAL_SUFFIX.test(path);
}

/** The partial tiles and bundle a tree of `size` leaves has at its right edge. */
function rightEdgePartials(size: number): string[] {
  const paths: string[] = [];
  if (size % TILE_WIDTH !== 0) paths.push(entriesPath(Math.floor(size / TILE_WIDTH), size % TILE_WIDTH));
  for (let level = 0, width = size; width > 0; level++, width = Math.floor(width / TILE_WIDTH)) {
    if (width % TILE_WIDTH !== 0) paths.push(tilePath({ h: TILE_HEIGHT, level, n: Math.floor(width / TILE_WIDTH), width: width % TILE_WIDTH }));
  }
  return paths;
}
