/**
 * The next block (`template`): what a miner would get now, read through `Mining.createNewBlock` on
 * every stock flavour (v30, v31, 32.x: each in its own schema, src/ipc/stock.ts): the template's
 * fee total, transaction count and sigop cost. A read is made once per new tip (the chain
 * collector's tip events, coalesced while a read is in progress) and once per
 * `timing.templateIntervalMs`, never at scrape time: building a template walks the mempool under
 * the node's locks (68 ms for a 9,135-tx template on a real master node, METRICS.md). Each template
 * is destroyed (`BlockTemplate.destroy`) right after its reads so the node frees it.
 *
 * Off by default (its cost grows with the mempool). Weight is not served: `getBlock` sends the
 * whole block (1.7 MB per read with a full mempool) — see METRICS.md.
 */
import type { Session } from "../ipc/session.ts";
import { type BlockTemplateSummary, readBlockTemplate } from "../ipc/stock.ts";
import type { Logger } from "../log.ts";
import type { Family } from "../metrics/registry.ts";
import type { Timing } from "../cli/defaults.ts";
import { errorText } from "../util/errors.ts";
import type { Collector, CollectorContext, CollectorSpec } from "./collector.ts";

export class TemplateCollector implements Collector {
  readonly name = "template";
  #session: Session | undefined;
  #last: { summary: BlockTemplateSummary; at: number } | undefined;
  #reading = false;
  #again = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #failSaid = false;
  readonly #log: Logger;
  readonly #timing: Timing;

  constructor(ctx: CollectorContext) {
    this.#log = ctx.log;
    this.#timing = ctx.timing;
    // One read per new tip; tips that arrive during a read are coalesced into one more read.
    ctx.events.onTip(() => void this.#read());
  }

  /** The first template is read before attach settles (a failed read is logged, not an attach failure). */
  async attach(session: Session): Promise<void> {
    if (!session.mining) {
      this.#log.info("the node offers no Mining interface: block template metrics are not available");
      return;
    }
    this.#session = session;
    this.#timer = setInterval(() => void this.#read(), this.#timing.templateIntervalMs);
    await this.#read();
  }

  detach(): void {
    this.#session = undefined;
    this.#last = undefined;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #read(): Promise<void> {
    const session = this.#session;
    if (!session) return Promise.resolve();
    if (this.#reading) {
      this.#again = true;
      return Promise.resolve();
    }
    this.#reading = true;
    return readBlockTemplate(session, { timeoutMs: this.#timing.callTimeoutMs })
      .then((summary) => {
        if (this.#session === session) this.#last = { summary, at: Date.now() };
        this.#failSaid = false;
      }, (e) => {
        // One line per run of failures (a node that refuses the call would fail every read).
        if (!this.#failSaid && this.#session === session) {
          this.#failSaid = true;
          this.#log.warn(`Mining.createNewBlock failed: ${errorText(e)} (block template metrics left out)`);
        }
        if (this.#session === session) this.#last = undefined;
      })
      .finally(() => {
        this.#reading = false;
        if (this.#again) {
          this.#again = false;
          void this.#read();
        }
      });
  }

  families(): Family[] {
    // Absent (not zero) until a template has been read, and after a failed read or a disconnect.
    const read = (f: (t: BlockTemplateSummary, at: number) => number | bigint) => () => {
      const last = this.#last;
      return last ? f(last.summary, last.at) : undefined;
    };
    return [
      {
        name: "bitcoin_block_template_fees_satoshis",
        help: "Total fees of the transactions in the block the node would mine now (Mining.createNewBlock)",
        type: "gauge",
        read: read((t) => t.feesSat),
      },
      {
        name: "bitcoin_block_template_transactions",
        help: "Transactions (coinbase excluded) in the block the node would mine now",
        type: "gauge",
        read: read((t) => t.transactions),
      },
      {
        name: "bitcoin_block_template_sigops",
        help: "Sigop cost (coinbase excluded) of the block the node would mine now",
        type: "gauge",
        read: read((t) => t.sigops),
      },
      {
        name: "bitcoin_block_template_age_seconds",
        help: "Seconds since the block template these metrics describe was built",
        type: "gauge",
        read: read((_, at) => (Date.now() - at) / 1000),
      },
    ];
  }
}

export const templateCollector: CollectorSpec = {
  name: "template",
  help: "the next block (Mining.createNewBlock: fees, transactions, sigops) per new tip and per interval",
  defaultEnabled: false,
  create: (ctx) => new TemplateCollector(ctx),
};
