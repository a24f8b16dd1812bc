/**
 * "One Raft leader per term": samples every live node's own view of the
 * metadata quorum (leader id and epoch, from the internal `/internal/quorum`
 * route) while the run goes on, and reports every epoch for which two nodes
 * named different leaders. A sample, not a proof: two leaders of one term
 * that never overlap a sample go unseen.
 *
 * @module
 */

import { SECRET_HEADER } from "../../broker/security/cluster_secret.ts";
import type { ExtraCheck } from "./report.ts";
import type { ChaosNodes } from "./nodes.ts";

/** How often every node is sampled. */
export const LEADER_SAMPLE_EVERY_MS = 500;
/** Most epochs remembered (one run elects far fewer). */
export const EPOCHS_MAX = 100_000;

/** Samples the nodes' quorum views until stopped. */
export class LeaderTermSampler {
  readonly #leaders = new Map<number, Map<number, number>>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  samples = 0;

  constructor(readonly nodes: ChaosNodes, readonly secret: string) {}

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  /** Records that node `from` saw `leader` lead `epoch`. */
  note(from: number, epoch: number, leader: number): void {
    if (leader <= 0 || epoch <= 0) return;
    const seen = this.#leaders.get(epoch) ?? new Map<number, number>();
    if (!seen.has(leader)) seen.set(leader, from);
    if (this.#leaders.size < EPOCHS_MAX) this.#leaders.set(epoch, seen);
  }

  /** The check for the report. */
  check(): ExtraCheck {
    const examples: string[] = [];
    let violations = 0;
    for (const [epoch, leaders] of this.#leaders) {
      if (leaders.size < 2) continue;
      violations++;
      examples.push(
        `epoch ${epoch} had leaders ${
          [...leaders].map(([l, from]) => `${l} (seen by ${from})`).join(", ")
        }`,
      );
    }
    return { name: "raft leaders per term > 1", violations, examples: examples.slice(0, 10) };
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await Promise.all(this.nodes.ids.map(async (id) => {
        if (!this.nodes.alive(id)) return;
        try {
          const res = await fetch(`${this.nodes.node(id).internalUrl}/internal/quorum`, {
            headers: { [SECRET_HEADER]: this.secret },
            signal: AbortSignal.timeout(1_000),
          });
          const body = await res.json();
          this.samples++;
          if (res.ok) this.note(id, Number(body.epoch), Number(body.leaderId));
        } catch { /* down or paused */ }
      }));
      await new Promise((r) => setTimeout(r, LEADER_SAMPLE_EVERY_MS));
    }
  }
}
