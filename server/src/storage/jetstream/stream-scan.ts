import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { TimeoutError, nanos } from "@nats-io/transport-node";

/**
 * How long to keep trying: after a node dies the cluster elects new
 * leaders, which takes seconds (longer on a busy machine); a read during
 * that time waits instead of failing.
 */
const READ_CONSUMER_RETRY_MS = 20_000;

/**
 * Creates a short-lived, one-replica read consumer. On a cluster with a node
 * down, the cluster may place such a consumer on the dead node, and the
 * request times out: another attempt lands on a live one. While the cluster
 * elects new leaders every attempt times out, so attempts go on for a while. The manager given
 * should have a short timeout (a live node answers in milliseconds).
 */
export async function addReadConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig>): Promise<ConsumerInfo> {
  const giveUpAt = Date.now() + READ_CONSUMER_RETRY_MS;
  for (;;) {
    try {
      return await jsm.consumers.add(stream, config);
    } catch (error) {
      if (!(error instanceof TimeoutError) || Date.now() >= giveUpAt) throw error;
    }
  }
}

/** What to scan. */
export interface ScanRequest {
  /** The first stream sequence to look at. */
  readonly fromSequence: bigint;
  /** Only messages on subjects this filter matches. */
  readonly filterSubject: string;
  /** Look at no more than this many messages. */
  readonly maxMessages: number;
  /** Called per message in sequence order; returns false to stop. */
  readonly visit: (message: JsMsg) => boolean;
}

/** How a scan ended. */
export interface ScanResult {
  /** The last stream sequence handed to `visit`, or `fromSequence - 1`. */
  readonly lastSequence: bigint;
  /** True when every matching message the stream held when the scan started was visited. */
  readonly exhausted: boolean;
}

const FETCH_CHUNK = 1024;
const FETCH_EXPIRES_MS = 5000;

/**
 * Reads a range of a stream in order through a short-lived pull consumer
 * (no acks, in memory, one replica, deleted after use and by the server
 * when left idle). The consumer's pending count, known when it is created,
 * tells when the range is exhausted without waiting for a fetch to expire.
 */
export async function scanStream(
  jsm: JetStreamManager,
  js: JetStreamClient,
  stream: string,
  request: ScanRequest,
): Promise<ScanResult> {
  let lastSequence = request.fromSequence - 1n;
  const info = await addReadConsumer(jsm, stream, {
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Number(request.fromSequence),
    filter_subject: request.filterSubject,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanos(30_000),
  });
  try {
    let pending = info.num_pending;
    if (pending === 0) return { lastSequence, exhausted: true };
    const consumer = await js.consumers.get(stream, info.name);
    let budget = request.maxMessages;
    while (pending > 0 && budget > 0) {
      const batch = Math.min(pending, budget, FETCH_CHUNK);
      const messages = await consumer.fetch({ max_messages: batch, expires: FETCH_EXPIRES_MS });
      let received = 0;
      for await (const message of messages) {
        received += 1;
        budget -= 1;
        pending = message.info.pending;
        lastSequence = BigInt(message.seq);
        if (!request.visit(message)) return { lastSequence, exhausted: false };
        if (received === batch) break;
      }
      // Messages removed meanwhile (age or size limits): the fetch came back short.
      if (received < batch) break;
    }
    return { lastSequence, exhausted: pending === 0 };
  } finally {
    jsm.consumers.delete(stream, info.name).catch(() => undefined);
  }
}
