/**
 * The mempool's fee-rate distribution and its totals, read at scrape time through JSON-RPC: the
 * shared round on v32 and chain5, `Node.executeRpc` on the branches (no Node/Chain getter gives them).
 *
 * The distribution is a histogram whose observations are the mempool's virtual bytes, each
 * observed at the fee rate it pays: `_bucket{le="X"}` is the virtual size (vB) paying at most X
 * sat/vB, `_count` the whole virtual size, `_sum` the total fees in satoshis. It is derived exactly
 * from `getmempoolfeeratediagram` (Core 31+, cluster mempool): the diagram's points are cumulative
 * (weight, fee) over the mempool's chunks in mining order, so consecutive points bound one chunk
 * (or chunks of equal rate) whose fee rate is uniform: 4·Δfee / Δweight sat/vB over Δweight/4 vB.
 * Each segment goes whole into the first bucket whose bound is at least its rate, compared in
 * integers (4·Δfee_sat ≤ X·Δweight), so no rounding moves a segment across a bound; vsize is
 * weight/4 exactly (quarter bytes, exact in a double), which differs from getmempoolinfo's
 * `bytes` (the sum of per-transaction sizes, each rounded up and sigop-adjusted).
 */
import type { Family, HistogramValue } from "../metrics/registry.ts";
import type { CollectorContext, CollectorSpec } from "./collector.ts";
import { type Answer, satoshis } from "./rpc_round.ts";
import { ScrapedCollector } from "./scraped.ts";

/** Fee-rate bucket bounds, sat/vB. */
export const FEE_RATE_BUCKETS: readonly number[] = [
  1,
  2,
  3,
  5,
  8,
  10,
  15,
  20,
  30,
  50,
  75,
  100,
  150,
  200,
  300,
  500,
  1000,
];

export interface MempoolReadings {
  feeRates: HistogramValue;
  vsize: number;
  fees: number;
}

/**
 * The histogram from a fee-rate diagram's cumulative points (weight units, fee in satoshis), or
 * a problem as text when the points are not a diagram (not starting at 0, or going backwards).
 */
export function histogramFromDiagram(
  points: readonly { weight: number; fee: number }[],
  bounds: readonly number[] = FEE_RATE_BUCKETS,
): HistogramValue | string {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  let w0 = 0, f0 = 0;
  if (points.length > 0 && (points[0].weight !== 0 || points[0].fee !== 0)) return "the first point is not (0, 0)";
  for (const { weight, fee } of points) {
    const dw = weight - w0, df = fee - f0;
    if (dw < 0) return "weights go backwards";
    if (dw > 0) {
      let i = 0;
      while (i < bounds.length && 4 * df > bounds[i] * dw) i++;
      counts[i] += dw / 4;
    }
    w0 = weight;
    f0 = fee;
  }
  return { bounds, counts, sum: f0 };
}

/** getmempoolfeeratediagram's answer as points in satoshis; undefined (reported) when malformed. */
export function diagramFromRpc(a: Answer): { weight: number; fee: number }[] | undefined {
  const list = a.array();
  if (!list) return undefined;
  const out: { weight: number; fee: number }[] = [];
  for (const p of list) {
    const o = p && typeof p === "object" ? p as Record<string, unknown> : {};
    if (typeof o.weight !== "number" || typeof o.fee !== "number" || !Number.isInteger(o.weight)) {
      return a.problem("a point lacks an integer weight or a numeric fee");
    }
    out.push({ weight: o.weight, fee: satoshis(o.fee) });
  }
  return out;
}

export class MempoolCollector extends ScrapedCollector<MempoolReadings> {
  readonly name = "mempool";

  constructor(ctx: CollectorContext) {
    super(ctx, {
      rpc: (round) => {
        // No getter gives these on the branches: both through Node.executeRpc there.
        const diagram = round.add("getmempoolfeeratediagram", undefined, {
          node: true,
          feeds: ["bitcoin_mempool_fee_rate_sat_per_vbyte"],
        });
        const info = round.add("getmempoolinfo", undefined, {
          node: true,
          feeds: ["bitcoin_mempool_vsize_vbytes", "bitcoin_mempool_fees_satoshis"],
        });
        return (answer) => {
          const d = answer(diagram, "getmempoolfeeratediagram");
          const points = diagramFromRpc(d);
          const h = points && histogramFromDiagram(points);
          const m = answer(info, "getmempoolinfo");
          const fee = m.num("total_fee");
          return {
            feeRates: typeof h === "string" ? d.problem(h) : h,
            vsize: m.num("bytes"),
            fees: fee === undefined ? undefined : satoshis(fee),
          };
        };
      },
    });
  }

  families(): Family[] {
    return [
      {
        name: "bitcoin_mempool_fee_rate_sat_per_vbyte",
        help:
          "The mempool's virtual size by the fee rate it pays (sat/vB): each virtual byte is one observation, so _bucket{le} is the vsize paying at most le, _count the mempool's vsize (weight/4), _sum its total fees in satoshis (getmempoolfeeratediagram).",
        type: "histogram",
        read: () => this.readings?.feeRates,
      },
      this.gauge(
        "bitcoin_mempool_vsize_vbytes",
        "The mempool's transactions' virtual size (BIP 141), summed per transaction (getmempoolinfo bytes).",
        (x) => x.vsize,
      ),
      this.gauge(
        "bitcoin_mempool_fees_satoshis",
        "Total fees of the mempool's transactions (getmempoolinfo total_fee).",
        (x) => x.fees,
      ),
    ];
  }
}

export const mempoolCollector: CollectorSpec = {
  name: "mempool",
  help: "the mempool's fee-rate distribution (getmempoolfeeratediagram), virtual size and total fees",
  create: (ctx) => new MempoolCollector(ctx),
};
