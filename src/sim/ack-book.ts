/** One answer a client got: its request's uuid and where the node said it is. */
export interface AckedCommand {
  uuid: string;
  /** The command kind, or the extrinsic's call. */
  what: string;
  /** An off-chain command: the seq of its (last) event. */
  seq?: number;
  /** An extrinsic: the block that holds it. */
  block?: number;
  /** A subaccount creation: the entity, the id it got and the subaccount's uuid. */
  subaccount?: { entity: string; id: number; uuid: string };
}

/**
 * What the simulated clients were told, as they would remember it: every acknowledged request by
 * its Epistula uuid, with the seq or block and the subaccount id the answer named. Seqs must only
 * grow (checked as answers arrive); the log is checked against the book after every restart.
 */
export class AckBook {
  readonly acked = new Map<string, AckedCommand>();
  /** Problems seen as answers arrived. */
  readonly problems: string[] = [];
  #maxSeq = 0;
  /** The log head when the current life opened: what it answers must lie beyond it. */
  #floor = 0;

  /** The highest seq any answer named. */
  get maxSeq(): number {
    return this.#maxSeq;
  }

  /** A node opened with this head. */
  opened(head: number): void {
    this.#floor = head;
  }

  offChain(uuid: string, what: string, seq: number, subaccount?: AckedCommand["subaccount"]): void {
    if (this.acked.has(uuid)) this.problems.push(`request ${uuid} (${what}) acknowledged twice`);
    if (seq <= this.#floor) this.problems.push(`${what} ${uuid} acknowledged at seq ${seq}, not beyond the head ${this.#floor} its node opened with: seqs must only grow`);
    this.#maxSeq = Math.max(this.#maxSeq, seq);
    this.acked.set(uuid, { uuid, what, seq, subaccount });
  }

  extrinsic(uuid: string, call: string, block: number): void {
    if (this.acked.has(uuid)) this.problems.push(`request ${uuid} (${call}) acknowledged twice`);
    this.acked.set(uuid, { uuid, what: call, block });
  }

  /** Each entity's acknowledged subaccounts, in seq order. */
  subaccountsBySeq(): Map<string, Array<{ seq: number; id: number; uuid: string }>> {
    const out = new Map<string, Array<{ seq: number; id: number; uuid: string }>>();
    for (const a of this.acked.values()) {
      if (!a.subaccount || a.seq === undefined) continue;
      const list = out.get(a.subaccount.entity) ?? [];
      list.push({ seq: a.seq, id: a.subaccount.id, uuid: a.subaccount.uuid });
      out.set(a.subaccount.entity, list);
    }
    for (const list of out.values()) list.sort((a, b) => a.seq - b.seq);
    return out;
  }
}
