/**
 * Fee rates, read at scrape time, all in sat/vB: the node's smart fee estimate for each configured
 * confirmation target (absent for a target the node has no estimate for), the mempool's current
 * minimum, the minimum relay fee and the incremental relay fee. JSON-RPC flavours from
 * estimatesmartfee and getmempoolinfo in the shared round (Core prints BTC/kvB; converted through
 * integer sat/kvB, so 0.00001000 is exactly 1); the multiprocess branches from Chain getters
 * (estimateSmartFee, mempoolMinFee, relayMinFee, relayIncrementalFee; the same sat/kvB / 1000).
 */
import * as branch from "../ipc/branch.ts";
import type { Family } from "../metrics/registry.ts";
import { DEFAULT_FEE_CONF_TARGETS } from "../cli/defaults.ts";
import type { CollectorContext, CollectorSpec } from "./collector.ts";
import { type Answer, satPerVbyte } from "./rpc_round.ts";
import { ScrapedCollector } from "./scraped.ts";

export interface FeeReadings {
  /** sat/vB by conf target; a target without an estimate is not in the map. */
  estimates: Map<number, number>;
  mempoolMinFee: number;
  minRelayFee: number;
  incrementalRelayFee: number;
}

/** estimatesmartfee's answer: the estimate in sat/vB, or undefined when the node has none (not a problem). */
export function estimateFromRpc(a: Answer): number | undefined {
  const r = a.result();
  if (r === undefined) return undefined;
  const feerate = r && typeof r === "object" ? (r as Record<string, unknown>).feerate : undefined;
  if (feerate === undefined) return undefined; // "Insufficient data or no feerate found": no estimate
  if (typeof feerate !== "number" || !Number.isFinite(feerate)) return a.problem("feerate is not a number");
  return satPerVbyte(feerate);
}

export class FeesCollector extends ScrapedCollector<FeeReadings> {
  readonly name = "fees";
  readonly targets: readonly number[];

  constructor(ctx: CollectorContext) {
    const targets = ctx.feeConfTargets ?? DEFAULT_FEE_CONF_TARGETS;
    super(ctx, {
      rpc: (round) => {
        const estimates = targets.map((t) =>
          round.add("estimatesmartfee", [t], { feeds: ["bitcoin_fee_estimate_sat_per_vbyte"] })
        );
        const mempool = round.add("getmempoolinfo", undefined, {
          feeds: [
            "bitcoin_mempool_min_fee_sat_per_vbyte",
            "bitcoin_min_relay_fee_sat_per_vbyte",
            "bitcoin_incremental_relay_fee_sat_per_vbyte",
          ],
        });
        return (answer) => {
          const m = answer(mempool, "getmempoolinfo");
          const fee = (field: string) => {
            const v = m.num(field);
            return v === undefined ? undefined : satPerVbyte(v);
          };
          const e = new Map<number, number>();
          targets.forEach((t, i) => {
            const v = estimateFromRpc(answer(estimates[i], `estimatesmartfee(${t})`));
            if (v !== undefined) e.set(t, v);
          });
          return {
            estimates: e,
            mempoolMinFee: fee("mempoolminfee"),
            minRelayFee: fee("minrelaytxfee"),
            incrementalRelayFee: fee("incrementalrelayfee"),
          };
        };
      },
      node: (session, opt) => ({
        // As the estimatesmartfee RPC reports it: the estimator's rate, but never below the mempool's
        // minimum or the relay minimum (src/rpc/fees.cpp), so v32 and the branches agree.
        estimates: async () => {
          const floor = Math.max(
            (await branch.mempoolMinFee(session, opt())) ?? 0,
            (await branch.relayMinFee(session, opt())) ?? 0,
          );
          const e = new Map<number, number>();
          for (const t of targets) {
            const v = await branch.estimateSmartFee(session, t, opt());
            if (v !== undefined) e.set(t, Math.max(v, floor));
          }
          return e;
        },
        // As getmempoolinfo's mempoolminfee: the pool's own minimum (0 until the mempool is full)
        // but never below the minimum relay fee (Core: max(GetMinFee(), m_min_relay_feerate)).
        mempoolMinFee: async () => {
          const pool = await branch.mempoolMinFee(session, opt());
          const relay = await branch.relayMinFee(session, opt());
          return pool === undefined || relay === undefined ? undefined : Math.max(pool, relay);
        },
        minRelayFee: () => branch.relayMinFee(session, opt()),
        incrementalRelayFee: () => branch.relayIncrementalFee(session, opt()),
      }),
    });
    this.targets = targets;
  }

  families(): Family[] {
    return [
      {
        name: "bitcoin_fee_estimate_sat_per_vbyte",
        help:
          "The node's smart fee estimate (estimatesmartfee in the node's default mode) for confirmation within conf_target blocks; absent for a target the node has no estimate for.",
        type: "gauge",
        read: () => {
          const e = this.readings?.estimates;
          if (!e) return undefined;
          return this.targets.filter((t) => e.has(t)).map((t) => ({
            labels: { conf_target: String(t) },
            value: e.get(t)!,
          }));
        },
      },
      this.gauge(
        "bitcoin_mempool_min_fee_sat_per_vbyte",
        "The lowest fee rate the mempool accepts now (rises above the minimum relay fee when the mempool is full).",
        (x) => x.mempoolMinFee,
      ),
      this.gauge(
        "bitcoin_min_relay_fee_sat_per_vbyte",
        "The node's minimum relay fee rate (-minrelaytxfee).",
        (x) => x.minRelayFee,
      ),
      this.gauge(
        "bitcoin_incremental_relay_fee_sat_per_vbyte",
        "The node's incremental relay fee rate (-incrementalrelayfee): the fee-rate step for replacement and mempool trimming.",
        (x) => x.incrementalRelayFee,
      ),
    ];
  }
}

export const feesCollector: CollectorSpec = {
  name: "fees",
  help: "fee estimates per conf target (--fee-conf-targets), mempool minimum, minimum relay and incremental fee rates",
  create: (ctx) => new FeesCollector(ctx),
};
