import type { JsonObject } from "./event.ts";
import type { IdempotencyRecord, State } from "./state.ts";

/** Idempotency keys are remembered this long (API.md "Conventions"). */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

export function idempotencyKey(signer: string, key: string): string {
  return `${signer}|${key}`;
}

/** What `signer`'s Idempotency-Key `key` did, while its 24 hours have not passed at `now` (command time). */
export function heldIdempotencyKey(state: State, signer: string, key: string, now: number): IdempotencyRecord | undefined {
  const prior = state.idempotency.get(idempotencyKey(signer, key));
  return prior && prior.ts_ms + IDEMPOTENCY_TTL_MS > now ? prior : undefined;
}

/** Remembers an off-chain command's Idempotency-Key (its event's `request`) with the resource it made. */
export function applyRequest(state: State, payload: JsonObject): void {
  const request = payload.request as JsonObject | undefined;
  if (typeof request?.idempotency_key !== "string") return;
  recordIdempotencyKey(state, {
    signer: request.signer as string,
    key: request.idempotency_key,
    fingerprint: request.fingerprint as string,
    now: payload.ts as number,
    ref: (payload.ref ?? {}) as Record<string, string | number>,
  });
}

/**
 * Remembers an Idempotency-Key with what its request made (`ref`: ids, never whole bodies), and
 * forgets, oldest first, the keys whose 24 hours have passed by `now` (command time). Off-chain
 * commands (applyRequest) and extrinsics (their block's `request` effect) both record through here.
 */
export function recordIdempotencyKey(
  state: State,
  r: { signer: string; key: string; fingerprint: string; now: number; ref: Record<string, string | number> },
): void {
  const { now } = r;
  const { idempotency, idempotencyOrder, idempotencyBounds } = state;
  const bounds = idempotencyBounds.get("q") ?? { head: 0, tail: 0 };
  const tail = bounds.tail;
  let head = bounds.head;
  for (; head < tail; head++) {
    const key = idempotencyOrder.get(head) as string;
    const record = idempotency.get(key);
    if (record && record.ts_ms + IDEMPOTENCY_TTL_MS > now) break;
    // A key used again after it expired has a newer entry further on; this one only drops the old.
    if (record?.n === head) idempotency.delete(key);
    idempotencyOrder.delete(head);
  }
  const key = idempotencyKey(r.signer, r.key);
  idempotency.set(key, { fingerprint: r.fingerprint, ts_ms: now, ref: r.ref, n: tail });
  idempotencyOrder.set(tail, key);
  idempotencyBounds.set("q", { head, tail: tail + 1 });
}

