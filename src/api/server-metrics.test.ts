import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INVARIANTS } from "../core/invariants/invariant-table.ts";
import { BlockProducer } from "../node/block-producer.ts";
import { PropnetNode } from "../node/node.ts";
import { buildServer } from "./server.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

let dir: string;
let node: PropnetNode;
let producer: BlockProducer;
let app: FastifyInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "propnet-server-metrics-"));
  node = await PropnetNode.open({
    dataDir: dir,
    genesis: [{ owner: ALICE, amount_rao: 1_000_000_000_000n }],
    // A short tempo: pending emission builds up and drains within the few blocks made here.
    chainGenesis: { root: ALICE, subnets: [{ netuid: 1, ownerHotkey: ALICE, ownerColdkey: ALICE, tempo: 10 }] },
  });
  producer = new BlockProducer(node, 0);
  producer.start();
  app = buildServer({ node: () => node, producer: () => producer, root: ALICE, startupStatus: () => "starting", version: "test" });
});

afterAll(async () => {
  await app?.close();
  await producer?.stop();
  await node?.close({ snapshot: false });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One empty block, as the producer would make it. */
async function block(): Promise<void> {
  const outcome = await node.submit({ command: { kind: "block", ts: node.clock.now(), extrinsics: [] } });
  if (!outcome.ok) throw outcome.error;
}

/** The scrape as a map from `name{labels}` to its value. */
async function scrape(): Promise<Map<string, number>> {
  const res = await app.inject("/metrics");
  expect(res.statusCode).toBe(200);
  const out = new Map<string, number>();
  for (const line of res.body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe("/metrics chain gauges", () => {
  it("block height, issuance, pending emission and paused subnets agree with the API", async () => {
    for (let i = 0; i < 4; i++) await block();
    const metrics = await scrape();
    const head = (await app.inject("/v1/chain/head")).json();
    const subnet = (await app.inject("/v1/chain/subnets/1")).json().subnet;
    expect(head.block).toBe(4);
    expect(metrics.get("propnet_block_height")).toBe(head.block);
    expect(metrics.get("propnet_total_issuance_rao")).toBe(Number(head.total_issuance_rao));
    const pending = BigInt(subnet.pending_server_rao) + BigInt(subnet.pending_validator_rao) + BigInt(subnet.pending_owner_cut_rao);
    expect(pending).toBeGreaterThan(0n);
    expect(metrics.get('propnet_pending_emission_rao{netuid="1"}')).toBe(Number(pending));
    expect(metrics.get('propnet_subnet_emission_paused{netuid="1"}')).toBe(0);
    expect(metrics.get("propnet_paused_subnets")).toBe(0);

    // The gauges follow the committed state at each scrape.
    await block();
    expect((await scrape()).get("propnet_block_height")).toBe(5);
  });

  it("a paused subnet shows as 1 and in the count", async () => {
    const s = node.state.chain.subnets.get(1);
    if (!s) throw new Error("no subnet 1");
    // Written straight into the state: this is about what /metrics shows, not how a pause arises.
    node.state.chain.subnets.set(1, { ...s, paused: true });
    try {
      const metrics = await scrape();
      expect(metrics.get('propnet_subnet_emission_paused{netuid="1"}')).toBe(1);
      expect(metrics.get("propnet_paused_subnets")).toBe(1);
    } finally {
      node.state.chain.subnets.set(1, s);
    }
  });
});

describe("/metrics counters before their first event", () => {
  it("every labelled counter prints 0 for its known labels; snapshots count from 0", async () => {
    const metrics = await scrape();
    expect(metrics.get('propnet_commands_total{outcome="refused"}')).toBe(0);
    expect(metrics.get('propnet_commands_total{outcome="ok"}')).toBeGreaterThan(0);
    for (const invariant of Object.keys(INVARIANTS)) expect(metrics.get(`propnet_critical_invariant_violations_total{invariant="${invariant}"}`), invariant).toBe(0);
    expect(metrics.get('propnet_recycled_remainder_rao_total{asset="TAO"}')).toBe(0);
    expect(metrics.get('propnet_http_connections_refused_total{reason="total"}')).toBe(0);
    expect(metrics.get('propnet_http_connections_refused_total{reason="per_address"}')).toBe(0);
    expect(metrics.get("propnet_snapshots_total")).toBe(0);
    // Every counter in the scrape has at least one sample.
    const res = await app.inject("/metrics");
    const counters = [...res.body.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1] as string);
    expect(counters.length).toBeGreaterThanOrEqual(7);
    for (const name of counters) expect([...metrics.keys()].some((k) => k === name || k.startsWith(`${name}{`)), name).toBe(true);

    await block();
    expect(await node.snapshot()).not.toBeNull();
    expect((await scrape()).get("propnet_snapshots_total")).toBe(1);
  });
});
