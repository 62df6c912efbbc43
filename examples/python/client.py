#!/usr/bin/env python3
"""A protobus client in Python with grpcio and protobuf only.

No generated stubs: the message classes come at run time from the
contract's descriptor set (protobus.binpb, shipped in @protobus/sdk at
src/gen/protobus.binpb, or `npx buf build -o protobus.binpb` in a clone),
so no protoc is needed (Debian's grpc tools bundle a protoc too old for the
contract's proto3 `optional` fields). It publishes an event, subscribes
from the beginning and acks what it gets, and joins a consumer group.

    python3 client.py --address 127.0.0.1:50051 --descriptor node_modules/@protobus/sdk/src/gen/protobus.binpb

Prints one JSON line per step.
"""
import argparse
import json
import queue
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory


def load_messages(path):
    """Message classes by full name, from a FileDescriptorSet file."""
    file_set = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        file_set.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in file_set.file:
        pool.Add(file)

    def message(name):
        desc = pool.FindMessageTypeByName(name)
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(desc)
        return message_factory.MessageFactory(pool).GetPrototype(desc)

    return message


class Bus:
    """The EventBus calls this example uses, through grpcio's generic calls."""

    def __init__(self, address, descriptor):
        m = load_messages(descriptor)
        self.PublishRequest = m("protobus.v1.PublishRequest")
        self.PublishResponse = m("protobus.v1.PublishResponse")
        self.SubscribeRequest = m("protobus.v1.SubscribeRequest")
        self.SubscribeResponse = m("protobus.v1.SubscribeResponse")
        self.channel = grpc.insecure_channel(address)
        self._publish = self.channel.unary_unary(
            "/protobus.v1.EventBus/Publish",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=self.PublishResponse.FromString,
        )
        self._subscribe = self.channel.stream_stream(
            "/protobus.v1.EventBus/Subscribe",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=self.SubscribeResponse.FromString,
        )

    def publish(self, event_type, data, **envelope):
        request = self.PublishRequest()
        event = request.events.add(type=event_type, source="examples/python", **envelope)
        event.data = json.dumps(data).encode()
        event.data_content_type = "application/json"
        return self._publish(request, timeout=10).results[0]

    def receive(self, patterns, count, group="", timeout=10):
        """Opens a subscription from the earliest event, acks `count` deliveries (waiting for the acks to be confirmed) and returns their events."""
        outgoing = queue.Queue()
        first = self.SubscribeRequest()
        first.open.patterns.extend(patterns)
        first.open.group = group
        first.open.start.earliest.SetInParent()
        outgoing.put(first)

        def requests():
            while True:
                item = outgoing.get()
                if item is None:
                    return
                yield item

        responses = self._subscribe(requests(), timeout=timeout)
        events = []
        unconfirmed = set()
        try:
            for response in responses:
                kind = response.WhichOneof("response")
                if kind == "acked":
                    # In a group, an ack is durable once confirmed (the
                    # event is never delivered to the group again).
                    unconfirmed.difference_update(response.acked.delivery_ids)
                deliveries = [response.delivery] if kind == "delivery" else list(response.batch.deliveries) if kind == "batch" else []
                for delivery in deliveries[: count - len(events)]:
                    ack = self.SubscribeRequest()
                    ack.ack.delivery_ids.append(delivery.delivery_id)
                    ack.ack.confirm = True
                    unconfirmed.add(delivery.delivery_id)
                    outgoing.put(ack)
                    events.append(delivery.event)
                if len(events) >= count and not unconfirmed:
                    break
        finally:
            outgoing.put(None)
            responses.cancel()
        return events[:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--descriptor", default="node_modules/@protobus/sdk/src/gen/protobus.binpb")
    args = parser.parse_args()
    bus = Bus(args.address, args.descriptor)

    result = bus.publish("py.note.created", {"text": "hello from Python"}, correlation_id="py-flow-1", tags=["python"])
    print(json.dumps({"step": "publish", "id": result.id, "sequence": result.sequence, "duplicate": result.duplicate}))

    for event in bus.receive(["py.note.*"], 1):
        print(json.dumps({"step": "subscribe", "id": event.id, "type": event.type, "correlation_id": event.correlation_id, "data": json.loads(event.data)}))

    bus.publish("py.job.created", {"job": 1})
    bus.publish("py.job.created", {"job": 2})
    jobs = bus.receive(["py.job.*"], 2, group="py-workers")
    print(json.dumps({"step": "group", "jobs": [json.loads(e.data)["job"] for e in jobs], "envelope": json_format.MessageToDict(jobs[0], preserving_proto_field_name=True)["type"]}))
    bus.channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
