/** The errors of an IPC connection that callers catch and tell apart. */

/** The remote side threw, or answered in a way that is an error for this call. */
export class RemoteError extends Error {
  override name = "RemoteError";
  constructor(readonly reason: string, readonly type: string = "failed") {
    super(reason);
  }
}

/** The connection ended (or was never usable) before the call completed. */
export class DisconnectedError extends Error {
  override name = "DisconnectedError";
}

/** A call took longer than its timeout. The question is cancelled with Finish. */
export class CallTimeoutError extends Error {
  override name = "CallTimeoutError";
}

/** The peer broke the protocol; the connection is aborted. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** The node does not offer the interfaces this exporter reads. */
export class FlavourError extends Error {
  override name = "FlavourError";
}
