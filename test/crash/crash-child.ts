/**
 * Crash-test child: appends `transfer` commands as fast as it can and reports every acknowledged
 * one on stdout as `ack <i> <seq>`, where command i moves `i + 1` rao (so its amount identifies
 * it). The parent SIGKILLs this process at a random moment and checks that every reported command
 * survived. Usage: node --import tsx test/crash/crash-child.ts <dataDir>
 */
import { writeSync } from "node:fs";
import { TAO } from "../../src/core/ledger/asset.ts";
import { PropnetNode } from "../../src/node/node.ts";
import type { Outcome } from "../../src/node/writer.ts";
import { amountOf, ENDOWMENT_RAO, OWNERS, recipientOf, SNAPSHOT_EVERY, senderOf } from "./crash-shared.ts";

/** Synchronous write to fd 1, retrying if the pipe is momentarily full (non-blocking fd). */
function writeOut(text: string): void {
  let buf = Buffer.from(text, "utf8");
  while (buf.length > 0) {
    try {
      const n = writeSync(1, buf);
      buf = buf.subarray(n);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
    }
  }
}

/** The next unused command index: one past the amount of the last transfer in the log. */
async function nextIndex(node: PropnetNode): Promise<number> {
  const last = await node.store.lastEvent();
  if (!last?.type.startsWith("Transferred")) return 0;
  return Number((JSON.parse(last.payload) as { amount_rao: string }).amount_rao);
}

/**
 * With CRASH_CHILD_WAIT=1 the child loads its modules, then waits for a line (or EOF) on stdin
 * before touching the directory, so the parent can start the next child while the current runs.
 */
async function waitForGo(): Promise<void> {
  if (process.env.CRASH_CHILD_WAIT !== "1") return;
  await new Promise<void>((resolve) => {
    process.stdin.once("data", () => resolve());
    process.stdin.once("end", () => resolve());
  });
  process.stdin.pause();
}

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  if (!dataDir) throw new Error("usage: crash-child.ts <dataDir>");
  await waitForGo();
  const node = await PropnetNode.open({
    dataDir,
    snapshotEvery: SNAPSHOT_EVERY,
    genesis: OWNERS.map((owner) => ({ owner, amount_rao: ENDOWMENT_RAO })),
    say: (message) => process.stderr.write(`crash-child: ${message}\n`),
  });
  let i = await nextIndex(node);
  writeOut(`ready ${node.head.seq} ${i}\n`);

  const maxInFlight = 4;
  const inFlight: Promise<void>[] = [];
  for (;;) {
    // Window sizes vary (64..256) so group-commit batches of different sizes form.
    const size = 64 + ((i * 7919) % 193);
    const window: Array<Promise<[number, Outcome]>> = [];
    for (let k = 0; k < size; k++, i++) {
      const index = i;
      window.push(
        node
          .submit({
            command: { kind: "transfer", asset: TAO, from: senderOf(index), to: recipientOf(index), amount_rao: amountOf(index) },
          })
          .then((outcome) => [index, outcome]),
      );
    }
    inFlight.push(
      Promise.all(window).then((results) => {
        let lines = "";
        for (const [index, outcome] of results) {
          if (!outcome.ok) throw new Error(`transfer ${index} refused: ${outcome.error.message}`);
          lines += `ack ${index} ${outcome.seq}\n`;
        }
        writeOut(lines);
      }),
    );
    if (inFlight.length >= maxInFlight) await inFlight.shift();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`crash-child: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
