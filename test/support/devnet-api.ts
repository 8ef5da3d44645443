import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../src/api/server.ts";
import { BlockProducer } from "../../src/node/block-producer.ts";
import { type NodeOptions, PropnetNode } from "../../src/node/node.ts";
import { listen } from "./http.ts";

/** A devnet node on a temp dir, its block producer (a block per extrinsic) and the HTTP API on a free port. */
export interface DevnetApi {
  dir: string;
  node: PropnetNode;
  producer: BlockProducer;
  app: FastifyInstance;
  base: string;
  /** Closes the server, the producer and the node, and removes the directory. */
  close(): Promise<void>;
}

export async function startDevnetApi(options: Omit<NodeOptions, "dataDir"> & { root: string; oracle?: string; prefix?: string }): Promise<DevnetApi> {
  const { root, oracle, prefix, ...nodeOptions } = options;
  const dir = mkdtempSync(join(tmpdir(), `propnet-${prefix ?? "api"}-`));
  const node = await PropnetNode.open({ dataDir: dir, ...nodeOptions });
  const producer = new BlockProducer(node, 0);
  producer.start();
  const app = buildServer({ node: () => node, producer: () => producer, root, oracle, startupStatus: () => "starting", version: "test" });
  const base = await listen(app);
  return {
    dir,
    node,
    producer,
    app,
    base,
    async close() {
      await app.close();
      await producer.stop();
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
