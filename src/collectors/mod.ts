/**
 * Every collector the exporter has, in the order their families are served. Adding one: a new file
 * exporting a `CollectorSpec` (see collector.ts), and one line here.
 */
import type { CollectorSpec } from "./collector.ts";
import { chainCollector } from "./chain.ts";
import { utxoCacheCollector } from "./utxo_cache.ts";
import { nodeCollector } from "./node_gauges.ts";
import { lastBlockCollector } from "./last_block.ts";
import { networkCollector } from "./network.ts";
import { feesCollector } from "./fees.ts";
import { mempoolCollector } from "./mempool.ts";
import { chainInfoCollector } from "./chaininfo.ts";
import { blockEventsCollector } from "./block_events.ts";
import { templateCollector } from "./template.ts";

export const COLLECTORS: readonly CollectorSpec[] = [
  chainCollector,
  utxoCacheCollector,
  nodeCollector,
  lastBlockCollector,
  blockEventsCollector,
  chainInfoCollector,
  networkCollector,
  feesCollector,
  mempoolCollector,
  templateCollector,
];
