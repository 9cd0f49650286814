import type { Session } from "../ipc/session.ts";
import type { Family } from "../registry.ts";

/** One source of metrics, in the node_exporter sense. */
export interface Collector {
  readonly name: string;
  /** The metric families this collector serves; read at scrape time. */
  families(): Family[];
  /** Called after each successful handshake: subscribe, prime state. */
  attach?(session: Session): Promise<void>;
  /** Called when the session has ended; the node's side of any subscription is gone with it. */
  detach?(): void;
}
