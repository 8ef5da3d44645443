import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkSchemaName, migrate } from "./postgres-schema.ts";

const PG_URL = process.env.PROPNET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

describe("PostgreSQL schema", () => {
  const schema = `propnet_schema_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
  });
  afterAll(async () => {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  });

  it("accepts only plain identifiers as schema names (they are interpolated into SQL)", () => {
    expect(checkSchemaName("propnet_1")).toBe("propnet_1");
    for (const bad of ["", "Propnet", "a-b", "x; DROP TABLE events", '"q"', "1abc", "a".repeat(64)]) {
      expect(() => checkSchemaName(bad)).toThrow(/invalid PostgreSQL schema name/);
    }
  });

  it("creates the tables once, concurrently too, and keeps the rows when run again", async () => {
    const others = [new pg.Client({ connectionString: PG_URL }), new pg.Client({ connectionString: PG_URL })];
    await Promise.all(others.map((c) => c.connect()));
    try {
      // Two processes starting at once: the advisory lock makes one migrate, the other find it done.
      await Promise.all(others.map((c) => migrate(c, schema)));
    } finally {
      await Promise.all(others.map((c) => c.end()));
    }
    await client.query(`UPDATE ${schema}.head SET seq = 7 WHERE id = 1`);
    await migrate(client, schema);
    expect((await client.query(`SELECT seq FROM ${schema}.head`)).rows).toEqual([{ seq: "7" }]);
    const cols = await client.query(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events' ORDER BY ordinal_position",
      [schema],
    );
    // Text, never jsonb: the hash covers the stored bytes.
    expect(cols.rows.find((c) => c.column_name === "payload")?.data_type).toBe("text");
    expect(cols.rows.map((c) => c.column_name)).toEqual(["seq", "block", "ts", "type", "payload", "signer", "signature", "prev_hash", "hash"]);
  });

  it("refuses a schema written by a newer propnet", async () => {
    await client.query(`UPDATE ${schema}.schema_version SET version = 99`);
    await expect(migrate(client, schema)).rejects.toThrow(/version 99, newer than this propnet knows/);
    await client.query(`UPDATE ${schema}.schema_version SET version = 1`);
  });
});
