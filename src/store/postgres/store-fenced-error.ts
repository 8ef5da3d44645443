/**
 * Another writer appended at the seq this store expected to write: its insert hit the primary key
 * (or the head moved under it). Nothing of the batch was committed, and this store writes no more:
 * continuing would fork the log. The node stops writing and, with several processes, becomes a
 * reader (issue #11).
 */
export class StoreFencedError extends Error {
  override readonly name = "StoreFencedError";
  readonly code = "STORE_FENCED";
  constructor(
    readonly expectedSeq: number,
    message: string,
  ) {
    super(message);
  }
}
