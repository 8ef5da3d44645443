import type { FastifyPluginAsync } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { key } from "../../core/chain/chain-state.ts";
import { usdOfMicro } from "../../core/debt/micro-usd.ts";
import { PAYOUT_PERIODS } from "../../core/debt/payout-period.ts";
import { DomainError } from "../../core/errors/errors.ts";
import type { Access } from "../access.ts";

const WeightSchema = z.strictObject({
  uid: z.number().int(),
  hotkey: z.string(),
  /** u16, max-upscaled so the largest is 65535, as Subtensor stores weights. */
  weight: z.number().int(),
  bucket: z.enum(["challenge", "funded", "entity", "owner"]),
  owed_usd: z.number(),
  paid_usd: z.number(),
  remaining_usd: z.number(),
});

/** GET /v1/weights: the last vector the node's validator scored and set, and the debts behind it. */
export const weightRoutes: FastifyPluginAsync<{ access: Access }> = async (instance, { access }) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  app.get(
    "/v1/weights",
    {
      schema: {
        summary: "The last weights the node's validator set, with each uid's bucket and debt (anyone)",
        tags: ["weights"],
        response: {
          200: z.strictObject({
            netuid: z.number().int(),
            validator: z.string(),
            scored_at_ms: z.number().int(),
            set_at_block: z.number().int().nullable(),
            payout_period: z.enum(PAYOUT_PERIODS as unknown as [string, ...string[]]),
            weights: z.array(WeightSchema),
          }),
        },
      },
    },
    async () =>
      access.node().read((state) => {
        const scored = state.debt.scored.get("last");
        if (!scored) throw new DomainError("NOT_FOUND", "the node's validator has not scored weights yet (once per tempo)");
        const uid = state.chain.uids.get(key.hotkey(scored.netuid, scored.validator));
        const onChain = uid === undefined ? undefined : state.chain.weights.get(key.neuron(scored.netuid, uid));
        // The vector on chain is the scored one once its set_weights block is committed.
        const same = onChain !== undefined && onChain.uids.join() === scored.uids.join() && onChain.values.join() === scored.weights.join();
        return {
          netuid: scored.netuid,
          validator: scored.validator,
          scored_at_ms: scored.scoredAtMs,
          set_at_block: same ? onChain.block : null,
          payout_period: scored.payoutPeriod,
          weights: scored.rows.map((r) => ({
            uid: r.uid,
            hotkey: r.hotkey,
            weight: r.weight,
            bucket: r.bucket,
            owed_usd: usdOfMicro(r.owedMicro),
            paid_usd: usdOfMicro(r.paidMicro),
            remaining_usd: usdOfMicro(r.remainingMicro),
          })),
        };
      }),
  );
};
