import Database from "better-sqlite3";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hashEventFields, hashWithSuffix, PREIMAGE_SUFFIX_SQL } from "./event-hash.mjs";

describe("the hash preimage built by SQLite", () => {
  it("equals the JavaScript form for any row", () => {
    const db = new Database(":memory:");
    db.exec("CREATE TABLE events (seq INTEGER PRIMARY KEY, block INTEGER, ts INTEGER, type TEXT, payload TEXT, signer TEXT, signature TEXT) STRICT");
    const insert = db.prepare("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)");
    const select = db.prepare(`SELECT ${PREIMAGE_SUFFIX_SQL} AS suffix FROM events WHERE seq = ?`).pluck();
    let seq = 0;
    fc.assert(
      fc.property(
        fc.record({
          block: fc.nat(),
          ts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          type: fc.string({ minLength: 1 }),
          payload: fc.string({ unit: "binary" }),
          signer: fc.option(fc.string({ minLength: 1 })),
          signature: fc.option(fc.string({ minLength: 1 })),
        }),
        fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 }),
        (row, prev) => {
          seq += 1 + (row.block % 1_000_000);
          insert.run(seq, row.block, row.ts, row.type, row.payload, row.signer, row.signature);
          const suffix = select.get(seq) as string;
          expect(hashWithSuffix(prev, suffix)).toBe(
            hashEventFields(prev, seq, row.block, row.ts, row.type, row.signer, row.signature, row.payload),
          );
        },
      ),
      { numRuns: 2_000 },
    );
    db.close();
  });
});
