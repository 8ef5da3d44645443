import type { ChainGenesis } from "../core/chain/chain-state.ts";
import type { PayoutPeriod } from "../core/debt/payout-period.ts";
import type { Endowment } from "../core/machine/commands.ts";
import type { SeededRandom } from "./seeded-random.ts";

const TAO = 1_000_000_000n;

/**
 * Who takes part in a simulated run: root (also the oracle), the subnet owner, the node's
 * validator, two coldkeys that pay for registrations, stakes and collateral, the entities and the
 * regular miners. Names need not be SS58 (core never parses them; the API's edge does).
 */
export interface SimWorld {
  root: string;
  owner: string;
  validator: string;
  /** Coldkeys: the first owns the subnet, registers every neuron and funds their collateral. */
  coldkeys: [string, string];
  entities: string[];
  miners: string[];
  /** A name nobody registered. */
  nobody: string;
  tempo: number;
  payoutPeriod: PayoutPeriod;
  genesis: Endowment[];
  chainGenesis: ChainGenesis;
  /** Collateral each entity is given (the last gets little, so it meets INSUFFICIENT_COLLATERAL). */
  collateralRao: Map<string, bigint>;
  /** max_subaccounts each entity registers with (small for some, so the limit is met). */
  maxSubaccounts: Map<string, number | undefined>;
}

/** A seed's world: sizes, tempo and payout period drawn from the seed. */
export function simWorld(random: SeededRandom): SimWorld {
  const entities = Array.from({ length: random.int(1, 3) }, (_, i) => `5SimEntity${i}`);
  const miners = Array.from({ length: random.int(1, 2) }, (_, i) => `5SimMiner${i}`);
  const coldkeys: [string, string] = ["5SimColdA", "5SimColdB"];
  const validator = "5SimValidator";
  const root = "5SimRoot";
  const owner = "5SimOwner";
  const tempo = random.int(6, 24);
  const payoutPeriod = random.pick<PayoutPeriod>(["month", "1d", "1h", "10m"]);
  const collateralRao = new Map<string, bigint>();
  const maxSubaccounts = new Map<string, number | undefined>();
  entities.forEach((e, i) => {
    collateralRao.set(e, i === entities.length - 1 && entities.length > 1 ? 3n * TAO : BigInt(random.int(50, 400)) * TAO);
    maxSubaccounts.set(e, random.chance(0.4) ? random.int(2, 6) : undefined);
  });
  return {
    root,
    owner,
    validator,
    coldkeys,
    entities,
    miners,
    nobody: "5SimNobody",
    tempo,
    payoutPeriod,
    genesis: [
      { owner: coldkeys[0], amount_rao: 1_000_000n * TAO },
      { owner: coldkeys[1], amount_rao: 100_000n * TAO },
      { owner: validator, amount_rao: 10_000n * TAO },
    ],
    chainGenesis: {
      root,
      tempo,
      subnets: [{ netuid: 1, ownerHotkey: owner, ownerColdkey: coldkeys[0], registerOwner: true, validators: [{ hotkey: validator, coldkey: validator, stake_rao: 1_000n * TAO }] }],
    },
    collateralRao,
    maxSubaccounts,
  };
}
