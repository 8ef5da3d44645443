import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { Pool } from "pg";
import type { LogHead } from "../store.ts";
import { LogIntegrityError } from "../stored-event.ts";
import { hashEventFields } from "../event-hash.mjs";

/** Rows per page: a page is hashed in one go (~5 ms), then the event loop gets a turn. */
const PAGE = 2_000;

type ChainRow = [string, string, string, string, string, string | null, string | null, string, string];

/**
 * Checks the chain from `from` through `until` by streaming pages and hashing them with the same
 * function as the SQLite backend. A thread cannot share the pool, so instead it yields between
 * pages, and the next page is already being fetched while this one is hashed.
 */
export async function checkChainPaged(
  pool: Pool,
  schema: string,
  from: LogHead,
  until: number,
  onProgress?: (seq: number) => void,
): Promise<LogHead> {
  const sql = `SELECT seq, block, ts, type, payload, signer, signature, prev_hash, hash FROM ${schema}.events
    WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`;
  const page = (after: number) => pool.query<ChainRow>({ text: sql, values: [after, until, PAGE], rowMode: "array" });
  let seq = from.seq;
  let prev = from.hash;
  let next = seq < until ? page(seq) : null;
  while (next) {
    const rows = (await next).rows;
    if (rows.length === 0) break;
    const lastSeq = Number((rows[rows.length - 1] as ChainRow)[0]);
    // Prefetch: the server reads the next page while this one is hashed.
    next = lastSeq < until ? page(lastSeq) : null;
    for (const r of rows) {
      const s = Number(r[0]);
      let broken: LogIntegrityError | null = null;
      if (s !== seq + 1) {
        broken = new LogIntegrityError(seq + 1, `event log is missing seq ${seq + 1} (next stored row is seq ${s})`);
      } else if (r[7] !== prev || hashEventFields(prev, s, Number(r[1]), Number(r[2]), r[3], r[5], r[6], r[4]) !== r[8]) {
        broken = new LogIntegrityError(s, `event at seq ${s} was altered: its bytes do not match its hash (or the chain before it is broken)`);
      }
      if (broken) {
        // The prefetched page is no longer wanted; never leave it an unhandled rejection.
        next?.catch(() => {});
        throw broken;
      }
      seq = s;
      prev = r[8];
    }
    onProgress?.(seq);
    await yieldToLoop();
  }
  if (seq !== until) throw new LogIntegrityError(seq + 1, `event log is missing seq ${seq + 1}`);
  return { seq, hash: prev };
}
