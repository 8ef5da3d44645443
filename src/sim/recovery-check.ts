import { IDEMPOTENCY_TTL_MS } from "../core/machine/idempotency.ts";
import { createState, stateHash } from "../core/machine/state.ts";
import { replay } from "../node/replay.ts";
import { GENESIS_HASH } from "../store/stored-event.ts";
import type { AckBook } from "./ack-book.ts";
import type { AckedBatch } from "./faulty-store.ts";
import type { NodeLife } from "./node-life.ts";

export interface RecoveryVerdict {
  problems: string[];
  /** Acknowledged requests found where their answers said. */
  checked: number;
  /** Events the log holds. */
  head: number;
  /** Events by type, and the verdicts prices and orders caused (`verdict:<reason>`). */
  types: Record<string, number>;
}

interface Found {
  seqs: number[];
  blocks: number[];
}

/** The signer of a trader's orders: the entity of a subaccount (`<entity>_<id>`), else the miner itself. */
function orderSigner(trader: string): string {
  const at = trader.lastIndexOf("_");
  return at < 0 ? trader : trader.slice(0, at);
}

/**
 * After a restart, before anything new is written: the recovered node must hold everything its
 * clients were told. Replays the whole log from genesis into a fresh strict state and checks that
 * - every acknowledged request is in the log exactly once, where its answer said (seq or block),
 *   and no request, Idempotency-Key (within its 24 hours) or order_uuid was committed twice;
 * - the state replayed to the last acknowledged seq hashes as the node's state did when it
 *   acknowledged it, and the recovered state (snapshot + tail) as the state replayed to the head;
 * - no invariant fired: no violation recorded or replayed, no execution fault, no problem at start;
 * - subaccount ids are dense and only grow, every acknowledged subaccount is there with its uuid,
 *   the head is not behind any acknowledged seq, and recorded time never goes back.
 */
export async function checkRecovered(life: NodeLife, book: AckBook, lastAcked: AckedBatch | null): Promise<RecoveryVerdict> {
  const problems: string[] = [];
  const { node } = life;
  await node.audit;
  for (const p of node.problems) problems.push(`the recovered node reports: ${p}`);
  for (const f of life.faults) problems.push(`execution fault: ${f}`);
  const head = node.head.seq;
  if (lastAcked && head < lastAcked.seq) problems.push(`the log ends at seq ${head}, before the last acknowledged batch (seq ${lastAcked.seq})`);
  if (head < book.maxSeq) problems.push(`the log ends at seq ${head}, before seq ${book.maxSeq} that an answer named`);

  const replayed = createState({ strict: true });
  const uuids = new Map<string, Found>();
  const keys = new Map<string, number[]>();
  const orders = new Map<string, number>();
  const created = new Map<string, number[]>();
  const types: Record<string, number> = {};
  let hashAtAcked: string | null = null;
  let lastTs = Number.NEGATIVE_INFINITY;
  const found = (uuid: string, seq: number, block: number) => {
    const f = uuids.get(uuid) ?? { seqs: [], blocks: [] };
    f.seqs.push(seq);
    f.blocks.push(block);
    uuids.set(uuid, f);
  };
  try {
    await replay(replayed, node.store, { seq: 0, hash: GENESIS_HASH }, {
      afterEvent: (row) => {
        if (row.seq === lastAcked?.seq) hashAtAcked = stateHash(replayed);
        if (row.ts < lastTs) problems.push(`recorded time goes back at seq ${row.seq}: ${row.ts} after ${lastTs}`);
        lastTs = Math.max(lastTs, row.ts);
        const type = row.type.slice(0, row.type.indexOf("@"));
        const p = JSON.parse(row.payload) as Record<string, unknown>;
        types[type] = (types[type] ?? 0) + 1;
        for (const v of Array.isArray(p.verdicts) ? (p.verdicts as unknown[][]) : []) types[`verdict:${String(v[1])}`] = (types[`verdict:${String(v[1])}`] ?? 0) + 1;
        if (typeof p.verdict === "string") types[`verdict:${p.verdict}`] = (types[`verdict:${p.verdict}`] ?? 0) + 1;
        const request = p.request as { uuid?: string; signer?: string; idempotency_key?: string } | undefined;
        if (typeof request?.uuid === "string") found(request.uuid, row.seq, row.block);
        if (typeof request?.idempotency_key === "string") {
          const k = `${request.signer}|${request.idempotency_key}`;
          keys.set(k, [...(keys.get(k) ?? []), p.ts as number]);
        }
        if (type === "BlockProduced") {
          for (const e of p.effects as Array<Record<string, unknown>>) {
            if (e.k !== "request") continue;
            found(e.uuid as string, row.seq, p.n as number);
            if (typeof e.key === "string") {
              const k = `${e.signer}|${e.key}`;
              keys.set(k, [...(keys.get(k) ?? []), e.ts as number]);
            }
          }
        } else if (type === "OrderPlaced") {
          const k = `${orderSigner(p.trader as string)}|${p.order_uuid as string}`;
          orders.set(k, (orders.get(k) ?? 0) + 1);
        } else if (type === "SubaccountCreated") {
          created.set(p.entity as string, [...(created.get(p.entity as string) ?? []), p.id as number]);
        } else if (type === "CriticalInvariantViolation") {
          problems.push(`an invariant fired at seq ${row.seq}: ${row.payload}`);
        }
      },
    });
  } catch (error) {
    problems.push(`replaying the log from genesis failed: ${(error as Error).message}`);
    return { problems, checked: 0, head, types };
  }

  if (lastAcked?.hash && hashAtAcked !== lastAcked.hash) {
    problems.push(`the log replayed to seq ${lastAcked.seq} (the last acknowledged) hashes ${String(hashAtAcked).slice(0, 12)}, but the node acknowledged it with ${lastAcked.hash.slice(0, 12)}`);
  }
  const [recovered, violations] = await node.read((state) => [stateHash(state), state.violations.length] as const);
  if (recovered !== stateHash(replayed)) problems.push(`the recovered state (from ${node.head.seq === 0 ? "genesis" : "snapshot and log"}) differs from the log replayed from genesis`);
  if (violations > 0 || replayed.violations.length > 0) problems.push(`${Math.max(violations, replayed.violations.length)} invariant violation(s) recorded`);

  let checked = 0;
  for (const a of book.acked.values()) {
    const f = uuids.get(a.uuid);
    const where = a.seq !== undefined ? `seq ${a.seq}` : `block ${a.block}`;
    if (!f) {
      problems.push(`acknowledged ${a.what} ${a.uuid} (${where}) is not in the log`);
      continue;
    }
    if (f.seqs.length !== 1) continue; // reported below as committed twice
    if (a.seq !== undefined && f.seqs[0] !== a.seq) problems.push(`acknowledged ${a.what} ${a.uuid} at seq ${a.seq} is at seq ${f.seqs[0]}`);
    else if (a.block !== undefined && f.blocks[0] !== a.block) problems.push(`acknowledged ${a.what} ${a.uuid} in block ${a.block} is in block ${f.blocks[0]}`);
    else checked++;
  }
  for (const [uuid, f] of uuids) if (f.seqs.length > 1) problems.push(`request ${uuid} committed ${f.seqs.length} times (seqs ${f.seqs.join(", ")})`);
  for (const [k, times] of keys) {
    const sorted = [...times].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) {
      if ((sorted[i] as number) < (sorted[i - 1] as number) + IDEMPOTENCY_TTL_MS) problems.push(`Idempotency-Key ${k} committed twice within 24 hours`);
    }
  }
  for (const [k, n] of orders) if (n > 1) problems.push(`order ${k} placed ${n} times`);

  const subaccounts = await node.read((state) => {
    const out = new Map<string, { nextId: number; uuids: Map<number, string> }>();
    for (const [hotkey, e] of state.entities.entities.sortedEntries()) out.set(hotkey, { nextId: e.nextId, uuids: new Map() });
    for (const [, sub] of state.entities.subaccounts.sortedEntries()) out.get(sub.entity)?.uuids.set(sub.id, sub.uuid);
    return out;
  });
  for (const [entity, ids] of created) {
    if (ids.some((id, i) => id !== i)) problems.push(`subaccount ids of ${entity} are not dense from 0 in the log: ${ids.join(",")}`);
  }
  for (const [entity, acks] of book.subaccountsBySeq()) {
    const s = subaccounts.get(entity);
    for (let i = 1; i < acks.length; i++) {
      if ((acks[i] as { id: number }).id <= (acks[i - 1] as { id: number }).id) problems.push(`${entity}: id ${(acks[i] as { id: number }).id} acknowledged after id ${(acks[i - 1] as { id: number }).id}: ids must only grow`);
    }
    for (const a of acks) {
      if (!s || a.id >= s.nextId) problems.push(`${entity}: acknowledged subaccount ${a.id} is at or beyond next_id ${s?.nextId ?? "(no entity)"}`);
      else if (s.uuids.get(a.id) !== a.uuid) problems.push(`${entity}: acknowledged subaccount ${a.id} has uuid ${String(s.uuids.get(a.id))}, not ${a.uuid}`);
    }
  }
  return { problems, checked, head, types };
}
