/** `/healthz` says each process's role (API.md "Operations"): "writer" on SQLite, whatever the cluster says on PostgreSQL. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildServer } from "../../api/server.ts";
import { PropnetNode } from "../node.ts";

const dir = mkdtempSync(join(tmpdir(), "propnet-health-role-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("/healthz role", () => {
  it("is writer on SQLite, and the cluster's answer when there is one, before and after the node is open", async () => {
    const node = await PropnetNode.open({ dataDir: dir, genesis: [{ owner: "alice", amount_rao: 1n }] });
    let role: "writer" | "reader" = "reader";
    let open: PropnetNode | null = null;
    const sqlite = buildServer({ node: () => node, startupStatus: () => "starting", version: "test" });
    const cluster = buildServer({ node: () => open, startupStatus: () => "starting", version: "test", role: () => role });
    expect((await sqlite.inject("/healthz")).json()).toMatchObject({ status: "ok", role: "writer" });
    expect((await cluster.inject("/healthz")).json()).toMatchObject({ role: "reader" });
    open = node;
    expect((await cluster.inject("/healthz")).json()).toMatchObject({ status: "ok", role: "reader", problems: [] });
    role = "writer";
    expect((await cluster.inject("/healthz")).json()).toMatchObject({ role: "writer" });
    await Promise.all([sqlite.close(), cluster.close()]);
    await node.close({ snapshot: false });
  });
});
