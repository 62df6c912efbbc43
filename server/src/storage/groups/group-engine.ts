/**
 * The in-process engine of one consumer group, shared by the backends whose
 * groups live in this process (memory, SQLite). It reads ahead of the group's
 * floor into memory, hands events out by priority then sequence, holds back
 * events whose ordering key has an earlier one outstanding, runs ack
 * deadlines and redelivery backoff on timers, and writes what must survive a
 * restart (acks above the floor, retry records, dead letters, the floor and
 * counters) through a {@link GroupPersistence}, one batch per commit.
 *
 * When a commit happens: at the end of the tick when someone waits for it
 * (a confirmed ack, a nack, a member leaving) or when it holds a retry
 * record, a dead letter or a redrive, so a failure is never lost; a batch
 * of only unconfirmed acks waits up to `commitIntervalMs` (or until it
 * holds `commitAcks` acks), so a member acking every event costs one
 * transaction per interval instead of one per ack message. An unconfirmed
 * ack lost in a crash within that interval is delivered again
 * (at-least-once); a confirmed ack is durable when it is confirmed.
 *
 * First deliveries are not written: after a crash, an event that was in
 * flight is delivered again (at-least-once), with its attempt count as of
 * its last recorded failure.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import { compilePatterns, type PatternMatcher } from "@protobus/sdk/internal";
import { compileFilter, type EventPredicate } from "../../filter/filter-expression.js";
import type {
  DeadLetter,
  DeadLetterQuery,
  DeadLetterSelection,
  AckOptions,
  GroupDefinition,
  GroupDelivery,
  GroupHandle,
  GroupSettings,
  GroupStats,
  NackOptions,
} from "../group-store.js";
import type { StoredEvent } from "../stored-event.js";
import { DeadLetterAdmin } from "./dead-letter-admin.js";
import type { EventSource } from "./event-source.js";
import { DeadlineSweep, DueTimers } from "./group-timers.js";
import { ReadyQueue, readyRank } from "./ready-queue.js";
import { CommitBatcher, type PendingWrites } from "./commit-batcher.js";
import { GroupSignals } from "./group-signals.js";
import type { GroupCounters, GroupPersistence, PersistedGroup, RetryRecord } from "./group-persistence.js";
import type { MemoryBudget } from "../memory-budget.js";
import { GroupMemory } from "./group-memory.js";
import { SequenceMap } from "./sequence-map.js";

/** Tuning of the engine. */
export interface GroupEngineOptions {
  /**
   * Most undelivered events held in memory ahead of the floor. Priority
   * order holds among them; a larger backlog is read as they drain.
   */
  readonly lookahead: number;
  /** Clock; tests may pin it. */
  readonly now: () => number;
  /** Longest time, in ms, an unconfirmed ack stays uncommitted. */
  readonly commitIntervalMs: number;
  /** Pending unconfirmed acks that start a commit before the interval is over. */
  readonly commitAcks: number;
  /** Most bytes (encoded envelopes) of undelivered events held ahead of the floor. */
  readonly readAheadBytes: number;
  /** The server-wide budget read-ahead and in-flight bytes are drawn from. */
  readonly budget: MemoryBudget;
  /**
   * Told when the last member left and no open waits to join: the store
   * may then stop the engine and release what it holds.
   */
  readonly onIdle?: () => void;
}

type EntryState = "ready" | "blocked" | "waiting" | "inflight" | "settled";

interface Entry {
  readonly seq: number;
  readonly stored: StoredEvent;
  /** Its place in the ready order (see `readyRank`). */
  readonly rank: number;
  readonly key: string;
  /** Size of its encoded envelope, what it costs the memory budget. */
  readonly bytes: number;
  state: EntryState;
  /** Deliveries made. */
  attempts: number;
  /** The latest delivery made, what an ack or nack of it reports. */
  delivery: GroupDelivery | undefined;
  /** Bumped on every state change; timers of an older generation are stale. */
  gen: number;
  member: string;
  deadline: number;
  dueAt: number;
  reason: string;
}

/** In-flight deliveries of one member settled together, given back at once. */
interface InFlightRelease {
  member: string;
  count: number;
  bytes: number;
}

const READ_BATCH = 1024;
/** Events the first read asks for, before their size is known. */
const FIRST_READ = 16;

/** Default longest time, in ms, an unconfirmed ack stays uncommitted. */
export const DEFAULT_COMMIT_INTERVAL_MS = 50;

/** Default number of pending unconfirmed acks that starts a commit at once. */
export const DEFAULT_COMMIT_ACKS = 4096;

// The attempt read by the last `parseDeliveryId` (synchronous: no two parses interleave).
let parsedAttempt = 0;

/**
 * Reads a delivery id, `<sequence>.<attempt>` (decimal digits), in place:
 * returns the sequence and leaves the attempt in `parsedAttempt`, with no
 * substring or object per id; -1 when the id is not of that form.
 */
function parseDeliveryId(id: string): number {
  const length = id.length;
  let seq = 0;
  let i = 0;
  for (; i < length; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    seq = seq * 10 + digit;
  }
  if (i === 0 || i === length || id.charCodeAt(i) !== 46) return -1;
  let attempt = 0;
  const start = ++i;
  for (; i < length; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    attempt = attempt * 10 + digit;
  }
  if (i === start || !Number.isSafeInteger(seq) || !Number.isSafeInteger(attempt)) return -1;
  parsedAttempt = attempt;
  return seq;
}

/** The delay before redelivery number `attempts + 1`, by exponential backoff. */
export function backoffDelay(settings: GroupSettings, attempts: number): number {
  const exponent = Math.max(0, attempts - 1);
  return Math.min(settings.backoffMaxMs, settings.backoffMinMs * 2 ** Math.min(exponent, 30));
}

/** One group's live state. */
export class GroupEngine implements GroupHandle {
  #definition: GroupDefinition;
  readonly #source: EventSource;
  readonly #persistence: GroupPersistence;
  readonly #options: GroupEngineOptions;
  readonly #matcher: PatternMatcher;
  readonly #filter: EventPredicate | undefined;
  readonly #counters: GroupCounters;

  /** Every unsettled event known in memory, by sequence; its lowest sequence bounds the floor. */
  readonly #entries = new SequenceMap<Entry>();
  /** Settled (acked or dead) sequences above the floor and above `#readTo` when they were settled. */
  readonly #settledAbove = new Set<number>();
  /** Events ready to hand out, and the ordering-key lines holding others back. */
  readonly #ready = new ReadyQueue<Entry>((entry) => entry.state === "ready");
  /** Ack deadlines and redelivery times. */
  readonly #redeliveries: DueTimers<Entry>;
  readonly #members = new Map<string, number>();
  /**
   * How many entries are handed out and not yet settled or failed. Ack
   * deadlines are swept over the entries at an interval, not timed one by
   * one, and nothing is kept per delivery beyond the entry's state.
   */
  #outstanding = 0;
  /** Fails deliveries whose ack deadline passed. */
  readonly #sweep: DeadlineSweep;
  readonly #signals = new GroupSignals();

  #floor: number;
  #readTo: number;
  /**
   * The highest sequence that is or was an entry, or is recorded settled:
   * a sequence read above it can be neither, so read-ahead skips both
   * lookups for it.
   */
  #maxKnown = 0;
  #head = 0;
  #headKnown = false;
  #loading: Promise<void> | undefined;
  /** Events and bytes read so far, for the average event size a read asks for. */
  #readEvents = 0;
  #readBytes = 0;
  #deleted = false;
  #closed = false;
  #unlisten: (() => void) | undefined;
  #retriesLoaded: Promise<void> | undefined;
  readonly #initialRetries: readonly RetryRecord[];
  /** Gathers settled sequences, retries and dead letters into commits. */
  readonly #commits: CommitBatcher;
  /** The group's dead-letter queue. */
  readonly #deadLetters: DeadLetterAdmin;
  /** Bytes held ahead and in flight, drawn from the server's budget. */
  readonly #memory: GroupMemory;
  /** Settled in-flight deliveries of one member whose count and bytes are not given back yet (reused). */
  readonly #released: InFlightRelease = { member: "", count: 0, bytes: 0 };
  /** Opens that will join (or close) later: the engine is not idle while any wait. */
  #pendingJoins = 0;
  /** Removes the wait for budget bytes, when read-ahead stopped for the budget. */
  #budgetWait: (() => void) | undefined;

  constructor(source: EventSource, persistence: GroupPersistence, persisted: PersistedGroup, options: GroupEngineOptions) {
    this.#source = source;
    this.#persistence = persistence;
    this.#options = options;
    this.#definition = persisted.definition;
    this.#matcher = compilePatterns(persisted.definition.patterns);
    this.#filter = persisted.definition.filter === "" ? undefined : compileFilter(persisted.definition.filter);
    this.#counters = { ...persisted.counters };
    this.#floor = persisted.floor;
    this.#readTo = persisted.floor;
    for (const seq of persisted.settled) this.#settledAbove.add(seq);
    for (const seq of persisted.deadAboveFloor) this.#settledAbove.add(seq);
    for (const seq of this.#settledAbove) if (seq > this.#maxKnown) this.#maxKnown = seq;
    this.#initialRetries = persisted.retries;
    this.#memory = new GroupMemory(options.budget, options.readAheadBytes);
    this.#redeliveries = new DueTimers<Entry>({
      now: options.now,
      generation: (entry) => entry.gen,
      onDue: (entries) => this.#releaseDue(entries),
    });
    this.#sweep = new DeadlineSweep(() => this.#sweepDeadlines());
    this.#deadLetters = new DeadLetterAdmin(persistence, source, persisted.definition.name);
    this.#commits = new CommitBatcher((writes) => this.#write(writes), {
      intervalMs: options.commitIntervalMs,
      maxPendingAcks: options.commitAcks,
    });
    this.#unlisten = source.onAppend((head) => {
      const next = Number(head);
      if (next > this.#head) {
        this.#head = next;
        this.#signals.ready();
      }
    });
  }

  get definition(): GroupDefinition {
    return this.#definition;
  }

  /** Applies new settings (already stored by the caller). */
  updateSettings(settings: GroupSettings): void {
    this.#definition = { ...this.#definition, settings };
  }

  /** Counts an open whose member will join (or whose handle will close) later. */
  reserveJoin(): void {
    this.#pendingJoins += 1;
  }

  /** True when no member is attached and no open waits to join. */
  get idle(): boolean {
    return this.#members.size === 0 && this.#pendingJoins === 0;
  }

  join(memberId: string): void {
    if (this.#pendingJoins > 0) this.#pendingJoins -= 1;
    if (!this.#members.has(memberId)) this.#members.set(memberId, 0);
  }

  async leave(memberId: string): Promise<void> {
    this.#members.delete(memberId);
    if (this.#deleted) return;
    const now = this.#options.now();
    let released = 0;
    for (const entry of [...this.#entries.values()]) {
      if (entry.state === "inflight" && entry.member === memberId) {
        this.#fail(entry, "the member left before acking", now, 0);
        released += 1;
      }
    }
    if (released > 0) {
      this.#signals.ready();
      await this.#commits.committed();
    }
    if (this.idle) this.#options.onIdle?.();
  }

  inFlightOf(memberId: string): number {
    return this.#members.get(memberId) ?? 0;
  }

  inFlightBytesOf(memberId: string): number {
    return this.#memory.inFlightOf(memberId);
  }

  async claim(memberId: string, max: number, maxBytes = Number.POSITIVE_INFINITY): Promise<GroupDelivery[]> {
    this.#assertLive();
    // Acks nobody waited for were not written: the member learns it here.
    const failure = this.#commits.takeFailure();
    if (failure !== undefined) throw failure;
    await this.#loadRetries();
    if (!this.#headKnown) {
      this.#head = Math.max(this.#head, Number(await this.#source.headSequence()));
      this.#headKnown = true;
    }
    this.#releaseDue(this.#redeliveries.takeDue(this.#options.now()));
    const out: GroupDelivery[] = [];
    for (let round = 0; round < 2 && out.length < max; round++) {
      if (this.#needsRead()) await this.#readAhead();
      this.#assertLive();
      const at = this.#options.now();
      const deadline = at + this.#definition.settings.ackDeadlineMs;
      const before = out.length;
      let handedBytes = 0;
      while (out.length < max) {
        const entry = this.#ready.peek();
        if (entry === undefined) break;
        // Past the member's byte bound: left queued (the first delivery goes whatever its size).
        if (out.length > 0 && entry.bytes > maxBytes) break;
        this.#ready.pop();
        if (entry.stored.isExpired(at)) {
          this.#counters.expired += 1;
          this.#settle(entry);
          continue;
        }
        maxBytes -= entry.bytes;
        handedBytes += entry.bytes;
        out.push(this.#handOut(entry, memberId, deadline));
      }
      if (out.length > before) {
        // Counted once per round, not per event.
        this.#memory.handOut(memberId, handedBytes);
        this.#members.set(memberId, (this.#members.get(memberId) ?? 0) + out.length - before);
        this.#startSweep();
      }
      if (this.#ready.size > 0 || !this.#needsRead()) break;
    }
    this.#waitForBudget();
    return out;
  }

  /** Hands a ready entry to a member (the caller counts its bytes and the member's in-flight count). */
  #handOut(entry: Entry, memberId: string, deadline: number): GroupDelivery {
    entry.attempts += 1;
    entry.state = "inflight";
    entry.gen += 1;
    entry.member = memberId;
    entry.deadline = deadline;
    this.#outstanding += 1;
    this.#counters.delivered += 1;
    if (entry.attempts > 1) this.#counters.redelivered += 1;
    // `StoredEvent.deliveryId` spelled from the number: no bigint to format, nothing cached on the event.
    const delivery: GroupDelivery = { stored: entry.stored, deliveryId: `${entry.seq}.${entry.attempts}`, attempt: entry.attempts };
    entry.delivery = delivery;
    return delivery;
  }

  /**
   * When nothing is ready, the log has more and the group's own bounds are
   * not reached, read-ahead stopped for the server's budget: members are
   * woken once bytes are released somewhere.
   */
  #waitForBudget(): void {
    if (this.#budgetWait !== undefined || this.#closed || this.#readTo >= this.#head || this.#ready.size > 0) return;
    if (this.#memory.readyBytes >= this.#options.readAheadBytes) return;
    if (this.#entries.size - this.#outstanding >= this.#options.lookahead) return;
    this.#budgetWait = this.#options.budget.onceReleased(() => {
      this.#budgetWait = undefined;
      this.#signals.ready();
    });
  }

  async ack(deliveryIds: readonly string[], options: AckOptions = {}): Promise<void> {
    const confirm = options.confirm ?? true;
    const onActed = options.onActed;
    const released = this.#released;
    let settled: number[] | undefined;
    try {
      for (const id of deliveryIds) {
        const seq = parseDeliveryId(id);
        if (seq < 0) continue;
        const attempt = parsedAttempt;
        const entry = this.#entries.get(seq);
        // Only a delivery that was made can be acked; a late ack of an older
        // attempt still settles an event that is not settled otherwise.
        if (entry === undefined || entry.attempts < attempt || entry.attempts === 0) continue;
        this.#counters.acked += 1;
        if (onActed !== undefined) {
          const delivery = entry.delivery;
          onActed(delivery !== undefined && delivery.attempt === attempt ? delivery : { stored: entry.stored, deliveryId: id, attempt });
        }
        this.#settle(entry, released);
        (settled ??= this.#commits.pending.settled).push(seq);
      }
    } finally {
      // What the message took out of flight goes back once, not per event.
      this.#returnInFlight(released);
    }
    if (settled !== undefined) this.#signals.ready();
    if (confirm) await this.#commits.committed();
    else if (this.#commits.hasPending) this.#commits.later();
  }

  async nack(deliveryIds: readonly string[], options: NackOptions): Promise<void> {
    const now = this.#options.now();
    let touched = false;
    for (const id of deliveryIds) {
      const entry = this.#current(id);
      if (entry === undefined) continue;
      this.#counters.nacked += 1;
      options.onActed?.(entry.delivery ?? { stored: entry.stored, deliveryId: id, attempt: entry.attempts });
      this.#fail(entry, options.reason === undefined || options.reason === "" ? "nacked" : options.reason, now, options.delayMs);
      touched = true;
    }
    if (touched) this.#signals.ready();
    await this.#commits.committed();
  }

  async extend(deliveryIds: readonly string[], extensionMs: number): Promise<void> {
    const now = this.#options.now();
    const by = extensionMs > 0 ? extensionMs : this.#definition.settings.ackDeadlineMs;
    for (const id of deliveryIds) {
      const entry = this.#current(id);
      if (entry === undefined) continue;
      entry.deadline = now + by;
    }
  }

  onReady(listener: () => void): () => void {
    return this.#signals.onReady(listener);
  }

  onDeadLetter(listener: (stored: StoredEvent) => void): () => void {
    return this.#signals.onDeadLetter(listener);
  }

  /** Gives back an open that will not join (its subscription ended before it started). */
  async close(): Promise<void> {
    if (this.#pendingJoins === 0) return;
    this.#pendingJoins -= 1;
    if (this.idle) this.#options.onIdle?.();
  }

  /** Counters and gauges. */
  async stats(): Promise<GroupStats> {
    await this.#loadRetries();
    let held = 0;
    for (const entry of this.#entries.values()) if (entry.state !== "inflight") held += 1;
    const unread = await this.#source.countAfter(this.#readTo, this.#matcher);
    return {
      definition: this.#definition,
      members: this.#members.size,
      backlog: held + unread,
      inFlight: this.#outstanding,
      deadLetters: this.#persistence.countDead(this.#definition.name),
      ...this.#counters,
    };
  }

  /** Dead letters, in sequence order. */
  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.#deadLetters.list(query);
  }

  /** Moves dead letters back as new deliveries. */
  async redrive(selection: DeadLetterSelection): Promise<number> {
    this.#assertLive();
    await this.#loadRetries();
    const { taken, events } = await this.#deadLetters.redrive(selection, { floor: this.#floor, counters: this.#counters });
    for (const stored of events) {
      const seq = Number(stored.sequence);
      this.#settledAbove.delete(seq);
      if (!this.#entries.has(seq)) this.#add(stored, seq, 0, 0, "redriven", this.#options.now(), false);
    }
    this.#signals.ready();
    return taken;
  }

  /** Drops dead letters. */
  async purge(selection: DeadLetterSelection): Promise<number> {
    return this.#deadLetters.purge(selection);
  }

  /** Marks the group deleted: members' claims fail with NOT_FOUND from now on. */
  markDeleted(): void {
    this.#deleted = true;
    this.#signals.ready();
    this.shutdown();
  }

  /** Stops timers and listeners, flushing what is pending. */
  shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unlisten?.();
    this.#budgetWait?.();
    this.#redeliveries.close();
    this.#sweep.close();
    this.#commits.cancel();
    if (!this.#deleted) this.#commits.flush();
    // What was held goes back to the budget; the state is in the persistence.
    this.#memory.releaseAll();
    this.#entries.clear();
    this.#outstanding = 0;
  }

  #assertLive(): void {
    if (this.#deleted) throw new ProtobusError(Code.NOT_FOUND, `consumer group '${this.#definition.name}' was deleted`);
    if (this.#closed) throw new ProtobusError(Code.UNAVAILABLE, "the store is closed");
  }

  #loadRetries(): Promise<void> {
    this.#retriesLoaded ??= (async () => {
      if (this.#initialRetries.length === 0) return;
      const records = new Map(this.#initialRetries.map((r) => [r.sequence, r]));
      const events = await this.#source.readSequences([...records.keys()].sort((a, b) => a - b));
      for (const stored of events) {
        const seq = Number(stored.sequence);
        const record = records.get(seq);
        if (record !== undefined && !this.#entries.has(record.sequence)) {
          this.#add(stored, seq, record.attempts, record.dueAt, record.reason, this.#options.now(), false);
        }
      }
    })();
    return this.#retriesLoaded;
  }

  /** The in-flight entry a delivery id names, if that delivery is still current. */
  #current(id: string): Entry | undefined {
    const seq = parseDeliveryId(id);
    if (seq < 0) return undefined;
    const entry = this.#entries.get(seq);
    return entry !== undefined && entry.state === "inflight" && entry.attempts === parsedAttempt ? entry : undefined;
  }

  #needsRead(): boolean {
    if (this.#readTo >= this.#head) return false;
    return this.#entries.size - this.#outstanding < this.#options.lookahead && this.#memory.hasRoom();
  }

  #readAhead(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        while (this.#needsRead() && !this.#closed) {
          const before = this.#readTo;
          const { events, scannedTo } = await this.#source.read({
            afterSequence: BigInt(this.#readTo),
            limit: this.#readLimit(),
            matcher: this.#matcher,
          });
          if (this.#closed) break;
          const whole = this.#takeRead(events);
          const scanned = Number(scannedTo);
          // Past what was scanned only when every event read was taken.
          if (whole && scanned > this.#readTo) this.#readTo = scanned;
          // Nothing past the cursor yet (the next append wakes the members), or no room left.
          if (this.#readTo === before || !whole) break;
        }
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  /** How many events the next read asks for: the room by count, and by bytes at the average size seen. */
  #readLimit(): number {
    const byCount = this.#options.lookahead - (this.#entries.size - this.#outstanding);
    const average = this.#readEvents > 0 ? this.#readBytes / this.#readEvents : 0;
    // Before any event was seen, a small first read: the events may be large.
    const byBytes = average > 0 ? Math.ceil(this.#memory.room() / average) : FIRST_READ;
    return Math.max(1, Math.min(byCount, byBytes, READ_BATCH));
  }

  /**
   * Adds the events of one read until the read-ahead has no room; false
   * when it stopped early (the cursor stays before the first event left).
   */
  #takeRead(events: readonly StoredEvent[]): boolean {
    const now = this.#options.now();
    for (const stored of events) {
      const seq = Number(stored.sequence);
      const bytes = stored.bytes.byteLength;
      this.#readEvents += 1;
      this.#readBytes += bytes;
      if (seq <= this.#maxKnown && (this.#settledAbove.has(seq) || this.#entries.has(seq))) {
        this.#readTo = seq;
        continue;
      }
      if (this.#filter !== undefined && !this.#filter(stored.event)) {
        this.#readTo = seq;
        continue;
      }
      if (stored.isExpired(now)) {
        this.#readTo = seq;
        this.#counters.expired += 1;
        continue;
      }
      if (!this.#memory.tryAdd(bytes)) return false;
      this.#readTo = seq;
      this.#add(stored, seq, 0, 0, "", now, true);
    }
    return true;
  }

  /**
   * Adds an unsettled event: ready, or blocked behind its ordering key, or
   * waiting until `dueAt`. `charged` when its bytes were already taken from
   * the read-ahead; otherwise they are taken here whatever the bound (an
   * event that must be held).
   */
  #add(stored: StoredEvent, seq: number, attempts: number, dueAt: number, reason: string, now: number, charged: boolean): void {
    const bytes = stored.bytes.byteLength;
    if (!charged) this.#memory.add(bytes);
    const entry: Entry = {
      seq,
      stored,
      rank: readyRank(stored.priority, seq),
      key: stored.orderingKey,
      bytes,
      state: "blocked",
      attempts,
      delivery: undefined,
      gen: 0,
      member: "",
      deadline: 0,
      dueAt,
      reason,
    };
    this.#entries.set(entry.seq, entry);
    if (entry.seq > this.#maxKnown) this.#maxKnown = entry.seq;
    if (this.#ready.admit(entry)) this.#release(entry, now);
  }

  /** Makes an unblocked entry deliverable now or at its due time. */
  #release(entry: Entry, now: number): void {
    entry.gen += 1;
    if (entry.dueAt > now) {
      entry.state = "waiting";
      this.#redeliveries.schedule(entry, entry.dueAt);
    } else {
      this.#pushReady(entry);
    }
  }

  /** Queues an entry (its generation already bumped) for hand-out. */
  #pushReady(entry: Entry): void {
    entry.state = "ready";
    this.#ready.push(entry);
  }

  /** A delivery failed: redeliver after a delay, or dead-letter it at max deliveries. */
  #fail(entry: Entry, reason: string, now: number, delayMs: number | undefined): void {
    entry.reason = reason;
    const batch = this.#commits.pending;
    this.#commits.soon();
    if (entry.attempts >= this.#definition.settings.maxDeliveries) {
      this.#counters.deadLettered += 1;
      this.#signals.deadLettered(entry.stored);
      batch.dead.push({ sequence: entry.seq, attempts: entry.attempts, reason, deadAt: now });
      batch.retries.delete(entry.seq);
      batch.clearedRetries.add(entry.seq);
      // Settling gives back its place in flight (so it is not left first: that would count it twice).
      this.#settle(entry);
      return;
    }
    this.#leaveInFlight(entry);
    entry.dueAt = now + (delayMs ?? backoffDelay(this.#definition.settings, entry.attempts));
    batch.clearedRetries.delete(entry.seq);
    batch.retries.set(entry.seq, { sequence: entry.seq, attempts: entry.attempts, dueAt: entry.dueAt, reason });
    this.#release(entry, now);
  }

  /** A delivery failed or its member left: its bytes are held ahead again until it goes out again. */
  #leaveInFlight(entry: Entry): void {
    if (entry.state !== "inflight") return;
    this.#outstanding -= 1;
    this.#memory.takeBack(entry.member, entry.bytes);
    const count = this.#members.get(entry.member);
    if (count !== undefined) this.#members.set(entry.member, Math.max(0, count - 1));
  }

  /**
   * Removes a settled event and lets the next one of its ordering key go.
   * When it was in flight, its count and bytes are added to `released`
   * (given back by {@link #returnInFlight}) when one is passed, else given
   * back now.
   */
  #settle(entry: Entry, released?: InFlightRelease): void {
    if (entry.state === "inflight") {
      this.#outstanding -= 1;
      const release = released ?? this.#released;
      if (release.member !== entry.member) {
        this.#returnInFlight(release);
        release.member = entry.member;
      }
      release.count += 1;
      release.bytes += entry.bytes;
      if (released === undefined) this.#returnInFlight(release);
      this.#entries.delete(entry.seq);
    } else if (this.#entries.delete(entry.seq)) {
      this.#memory.drop(entry.bytes);
    }
    entry.state = "settled";
    entry.gen += 1;
    // Read-ahead consults the set only above how far it read: a sequence at
    // or below that (nearly every settled one) will not be read again.
    if (entry.seq > this.#readTo) this.#settledAbove.add(entry.seq);
    // Only an entry that failed or was redriven (its reason is set) can have a retry record.
    if (entry.reason !== "") {
      const batch = this.#commits.pending;
      batch.retries.delete(entry.seq);
      batch.clearedRetries.add(entry.seq);
      this.#commits.soon();
    }
    const next = this.#ready.settle(entry);
    if (next !== undefined) this.#release(next, this.#options.now());
  }

  /** Gives back the in-flight count and bytes tallied in `released`, and empties it. */
  #returnInFlight(released: InFlightRelease): void {
    if (released.count === 0) return;
    const member = released.member;
    this.#memory.settleInFlight(member, released.bytes);
    const count = this.#members.get(member);
    if (count !== undefined) this.#members.set(member, Math.max(0, count - released.count));
    released.count = 0;
    released.bytes = 0;
  }

  /** Checks ack deadlines often enough for their precision to be a tenth of the deadline. */
  #startSweep(): void {
    if (this.#closed) return;
    this.#sweep.start(Math.min(1000, Math.max(10, Math.floor(this.#definition.settings.ackDeadlineMs / 10))));
  }

  /** Fails the deliveries whose ack deadline passed; false once nothing is out. */
  #sweepDeadlines(): boolean {
    const now = this.#options.now();
    if (this.#outstanding === 0) return false;
    let expired: Entry[] | undefined;
    for (const entry of this.#entries.values()) {
      if (entry.state === "inflight" && entry.deadline <= now) (expired ??= []).push(entry);
    }
    if (expired === undefined) return true;
    for (const entry of expired) this.#fail(entry, "ack deadline passed", now, undefined);
    this.#signals.ready();
    return this.#outstanding > 0;
  }

  /** Releases redeliveries that fell due. */
  #releaseDue(entries: readonly Entry[]): void {
    let changed = false;
    for (const entry of entries) {
      if (entry.state === "waiting") {
        entry.gen += 1;
        this.#pushReady(entry);
        changed = true;
      }
    }
    if (changed) this.#signals.ready();
  }

  /** The new floor: just below the lowest unsettled sequence, or how far the log was read. */
  #computeFloor(): number {
    const lowest = this.#entries.lowest();
    return lowest === undefined ? this.#readTo : Math.min(lowest - 1, this.#readTo);
  }

  /** Writes one batch of the commit batcher, with the floor it allows; nothing once the group is deleted. */
  #write(writes: PendingWrites): void | Promise<void> {
    if (this.#deleted) return undefined;
    const floor = Math.max(this.#floor, this.#computeFloor());
    for (const seq of this.#settledAbove) if (seq <= floor) this.#settledAbove.delete(seq);
    const written = this.#persistence.commit(this.#definition.name, {
      floor,
      settled: writes.settled.filter((seq) => seq > floor),
      retries: [...writes.retries.values()],
      clearedRetries: [...writes.clearedRetries],
      dead: writes.dead,
      counters: this.#counters,
    });
    this.#floor = floor;
    return written;
  }
}
