/**
 * Pieces shared by the SDK and the server that are not part of the stable
 * client API: pattern compilation, status-detail codecs, time conversions,
 * the subscription stream's codecs.
 * They may change between minor versions.
 */
export { EVENT_TYPE_REGEX, compilePatterns, isValidEventType, matchesPattern, patternCovers, patternError } from "./pattern.js";
export type { PatternMatcher } from "./pattern.js";
export { STATUS_DETAILS_KEY, decodeStatusDetails, encodeStatusDetails, statusDetailsMetadata } from "./status-details.js";
export { durationFromMs, msFromDuration } from "./time.js";
export { Attr, MESSAGING_SYSTEM, batchAttributes, messageAttributes, envelopeGetter, envelopeSetter, recordSpanError, runHandler, publishWithSpan, tracerSource, tracingActive } from "./tracing/index.js";
export { newEventId } from "./event-id.js";
export { asCompatibilityMode } from "./compatibility-mode.js";
export { uint64Size, varintSize, writeUint64, writeVarint } from "./varint.js";
export { decodeSubscribeRequest, encodeSubscribeRequest, envelopeDecoder, subscribeResponseDecoder } from "./subscribe-codec.js";
export { metadataGetter, metadataSetter } from "./tracing/metadata-carrier.js";
export { ForwardReply, ForwardRequest } from "./gen/protobus/cluster/v1/group_forwarding.pb.js";
export type {
  DeadLetter as ForwardedDeadLetter,
  Delivery as ForwardedDelivery,
  GroupSettings as ForwardedGroupSettings,
  GroupStats as ForwardedGroupStats,
  StoredEvent as ForwardedEvent,
} from "./gen/protobus/cluster/v1/group_forwarding.pb.js";
