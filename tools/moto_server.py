"""moto's server with nine fixes, where moto 5.2.5 contradicts AWS.

1. A partner event bus is named after its partner event source, `aws.partner/okta.com/org/name`.
   moto reduces every `EventBusName` to the text after its last `/`, so no rule or target can be
   put on a partner bus. AWS takes a bus name as given, or the name after `:event-bus/` in an ARN.
2. `DescribeEventSource` for an unknown source raises a Python KeyError in moto (HTTP 500);
   AWS answers `ResourceNotFoundException`.
3. A partner event source is `PENDING` until a bus is associated with it, `ACTIVE` while one is,
   and a source the partner creates again after deleting it starts over as `PENDING`. moto
   creates sources `ACTIVE` and keeps a deleted one `DELETED` when it is created again.
4. `TestEventPattern` answers whether a pattern matches an event; moto declares it and returns
   nothing. Here it answers with moto's own matcher, the one its rules use.
5. DynamoDB's single-item writes are atomic: "Individual write operations such as UpdateItem are
   atomic and always operate on the most recent version of the item, regardless of concurrency"
   (DynamoDB developer guide, "Best practices for handling concurrent updates"), so of two
   racing conditional writes on one item exactly one succeeds. moto's threaded server checks
   the condition and writes without a lock, and both may succeed. Here one lock serialises
   PutItem, UpdateItem, DeleteItem and TransactWriteItems.
6. SQS long polling returns "messages as soon as they become available" (SQS developer guide,
   "Amazon SQS short and long polling"), which includes a delayed message whose delay ends and
   one whose visibility timeout ends. moto's long poll wakes only when a message is sent, or
   after a whole second; here it looks again every 50 ms.
7. A received message stays hidden from other consumers for its visibility timeout ("Amazon
   SQS prevents other consumers from receiving and processing the message", SQS developer
   guide, "Amazon SQS visibility timeout"), and a deleted message is gone ("DeleteMessage:
   Deletes the specified message from the specified queue", SQS API reference; the developer
   guide's "Amazon SQS message lifecycle": "the consumer deletes the message from the queue to
   prevent it from being received and processed again"). moto's threaded server does neither
   under concurrency: two ReceiveMessage calls can hand out the same messages (the first
   caller's receipt handles then no longer delete them); DeleteMessage rebuilds the queue's
   message list without a lock, so two racing deletes each put back what the other removed, and
   a delete racing a send drops the sent message (measured: 8 threads deleting 1,000 received
   messages while sending, every delete answered success, 20 deleted messages came back after
   the visibility timeout; issue 17's stall, where settled messages were relayed again 720 s
   later). Here sending, receiving, deleting, changing visibility and purging take one lock per
   queue; a long poll lets go of it while it waits (so the test's event source mapping, which
   polls without waiting, could long-poll again).
8. Tags on a partner event bus: `TagResource` and `ListTagsForResource` take the bus's ARN,
   `arn:aws:events:<region>:<account>:event-bus/aws.partner/okta.com/org/name` (EventBridge API
   reference). moto looks the resource up by the text after the ARN's last `/`, so it finds no
   partner bus (or a rule of that name). Here a bus ARN is read as the name after `:event-bus/`,
   a rule ARN as `rule/[<bus>/]<rule>`.
9. `StartReplay` replays "only events that occurred between the EventStartTime and
   EventEndTime", to the rules `Destination.FilterArns` names when it names any, on the bus the
   archive was made for (EventBridge API reference, `StartReplay` and `ReplayDestination`),
   through each rule's pattern like any event. moto replays every archived event to every rule
   of the bus named by the text after the destination ARN's last `/` (no partner bus).

Besides, costs moto has and AWS has not, which grow with the queue's backlog. For every message
a receive returns (its retention check) and for every message sent (its
`ContentBasedDeduplication` lookup), moto computes all of the queue's attributes, which counts
every message in it, so a backlog of thousands slows the whole server to a few requests a second
(measured: 300 SendMessageBatch calls of 10 into a queue growing to 3,000 messages took 146.8 s,
2.0 s without the counting). Here the retention check reads the queue's retention period alone,
and a send sees only `ContentBasedDeduplication`. And for every receipt handle deleted, moto
walks the whole queue twice, building each message's list of past handles; here a handle is
looked up in an index of the handles receives gave out. And every receive lists the queue's
visible messages reading the clock twice per message through a slow datetime conversion (measured:
175 ms a receive at a backlog of 6,000); here the list reads the clock once.

Usage is moto_server's: `python tools/moto_server.py -H 127.0.0.1 -p PORT`.
"""

import collections
import datetime
import functools
import json
import sys
import threading
import uuid

from moto.dynamodb.models import DynamoDBBackend
from moto.events import models, responses
from moto.events.exceptions import ResourceNotFoundException
from moto.core.utils import unix_time, unix_time_millis
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import Message, Queue, SQSBackend
from moto.server import main


def _normalize_event_bus_arn(self, event_bus_arn):
    if event_bus_arn is None:
        return "default"
    if event_bus_arn.startswith("arn:"):
        return event_bus_arn.split(":event-bus/", 1)[-1]
    return event_bus_arn


def _describe_event_source(self, name):
    source = self.event_sources.get(name)
    if source is None:
        raise ResourceNotFoundException(f"Event source {name} does not exist.")
    return source


_create_partner_event_source = models.EventsBackend.create_partner_event_source
_create_event_bus = models.EventsBackend.create_event_bus
_delete_event_bus = models.EventsBackend.delete_event_bus


def create_partner_event_source(self, name, account_id):
    source = _create_partner_event_source(self, name, account_id)
    source.state = "PENDING"
    return source


def create_event_bus(self, name, event_source_name=None, *args, **kwargs):
    bus = _create_event_bus(self, name, event_source_name, *args, **kwargs)
    if event_source_name:
        self.event_sources[event_source_name].state = "ACTIVE"
    return bus


def delete_event_bus(self, name):
    _delete_event_bus(self, name)
    source = self.event_sources.get(name)
    if source is not None and source.state == "ACTIVE":
        source.state = "PENDING"


def _tagged_arn(self, arn):
    """The ARN moto's tagger keys the resource by, or ResourceNotFoundException."""
    kind, _, path = arn.partition(":")[2].rpartition(":")[2].partition("/")
    if kind == "event-bus" and path in self.event_buses:
        return self.event_buses[path].arn
    if kind == "rule":
        bus, _, rule = path.rpartition("/")
        rules = self.event_buses.get(bus or "default")
        if rules is not None and rule in rules.rules:
            return rules.rules[rule].arn
    raise ResourceNotFoundException(f"Resource {arn} does not exist.")


def list_tags_for_resource(self, arn):
    return self.tagger.list_tags_for_resource(_tagged_arn(self, arn))


def tag_resource(self, arn, tags):
    self.tagger.tag_resource(
        _tagged_arn(self, arn), self.tagger.convert_dict_to_tags_input(tags)
    )


def _seconds(value):
    """An event's `time` (epoch seconds, or RFC 3339 as AWS writes it) in epoch seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def replay_events(self, archive):
    backend = models.events_backends[self.account_id][self.region]
    event_bus = backend.describe_event_bus(
        backend._normalize_event_bus_arn(self.destination["Arn"])
    )
    rules = self.destination.get("FilterArns") or []
    start, end = _seconds(self.event_start_time), _seconds(self.event_end_time)
    for event in archive.events:
        if not start <= _seconds(event.get("time", 0)) < end:
            continue
        replayed = dict(event, **{"id": str(uuid.uuid4()), "replay-name": self.name})
        for rule in event_bus.rules.values():
            if rules and rule.arn not in rules:
                continue
            if rule.state != "ENABLED":
                continue
            rule.send_to_targets(replayed, transform_input=False)
    self.state = models.ReplayState.COMPLETED
    self.end_time = unix_time()


def test_event_pattern(self):
    pattern = models.EventPattern.load(self._get_param("EventPattern"))
    event = json.loads(self._get_param("Event"))
    return json.dumps({"Result": pattern.matches_event(event)})


_write_lock = threading.Lock()


def _serialised(method, lock_for):
    """`method`, run while holding the lock `lock_for` picks from the same arguments."""
    @functools.wraps(method)
    def serialised(self, *args, **kwargs):
        with lock_for(self, *args, **kwargs):
            return method(self, *args, **kwargs)

    return serialised


for _write in ("put_item", "update_item", "delete_item", "transact_write_items"):
    setattr(DynamoDBBackend, _write,
            _serialised(getattr(DynamoDBBackend, _write), lambda *_, **__: _write_lock))

_queue_locks = collections.defaultdict(threading.Lock)


def _queue_lock(queue):
    return _queue_locks[(queue.account_id, queue.region, queue.name)]


def wait_for_messages(self, timeout):
    # Called by a long-polling receive, which holds the queue's lock: let senders in meanwhile.
    lock = _queue_lock(self)
    lock.release()
    try:
        with self._messages_lock:
            self._messages_lock.wait_for(lambda: self.messages, timeout=min(timeout, 0.05))
    finally:
        lock.acquire()


# Every receipt handle a receive gave out, to the message it names (handles are unique).
_by_receipt_handle = {}
_mark_received = Message.mark_received


def mark_received(self, *args, **kwargs):
    _mark_received(self, *args, **kwargs)
    _by_receipt_handle[self.receipt_handle] = self


def delete_message(self, receipt_handle):
    # moto's semantics (a handle deleted before is answered with success, one the queue never
    # gave out or no longer holds is invalid), without walking the queue for each handle.
    if receipt_handle in self.deleted_messages:
        return
    message = _by_receipt_handle.get(receipt_handle)
    try:
        self._messages.remove(message)  # by identity: a Message has no __eq__
    except ValueError:
        raise ReceiptHandleIsInvalid() from None
    self.pending_messages.discard(message)
    self.deleted_messages.update(message.all_receipt_handles)
    for handle in message.all_receipt_handles:
        _by_receipt_handle.pop(handle, None)


Message.mark_received = mark_received


def visible_messages(self):
    # moto's `visible` and `delayed` tests, against one reading of the clock.
    now = unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


Queue.messages = property(visible_messages)
Queue.delete_message = delete_message
Queue.wait_for_messages = wait_for_messages
for _method in ("add_message", "delete_message"):
    setattr(Queue, _method,
            _serialised(getattr(Queue, _method), lambda queue, *_, **__: _queue_lock(queue)))
for _operation in ("receive_message", "change_message_visibility", "purge_queue"):
    setattr(SQSBackend, _operation,
            _serialised(getattr(SQSBackend, _operation),
                        lambda backend, queue_name, *_, **__:
                            _queue_lock(backend.get_queue(queue_name))))


def is_message_valid_based_on_retention_period(self, queue_name, message):
    retention_period = self.get_queue(queue_name).message_retention_period
    return retention_period + message.sent_timestamp / 1000 > unix_time()


SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

# The same cost on send: moto's send_message reads `queue.attributes` for
# ContentBasedDeduplication on every message, and that property counts every message in the
# queue three times. While a thread sends, the property answers that one attribute alone.
_sending = threading.local()
_all_attributes = Queue.attributes.fget


def attributes(self):
    if not getattr(_sending, "active", False):
        return _all_attributes(self)
    if not self.fifo_queue:
        return {}
    value = self.content_based_deduplication
    return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}


_send_message = SQSBackend.send_message


def send_message(self, *args, **kwargs):
    _sending.active = True
    try:
        return _send_message(self, *args, **kwargs)
    finally:
        _sending.active = False


Queue.attributes = property(attributes)
SQSBackend.send_message = send_message
responses.EventsHandler.test_event_pattern = test_event_pattern
models.EventsBackend.create_partner_event_source = create_partner_event_source
models.EventsBackend.create_event_bus = create_event_bus
models.EventsBackend.delete_event_bus = delete_event_bus
models.EventsBackend._normalize_event_bus_arn = _normalize_event_bus_arn
models.EventsBackend.describe_event_source = _describe_event_source
models.EventsBackend.list_tags_for_resource = list_tags_for_resource
models.Replay.replay_events = replay_events
models.EventsBackend.tag_resource = tag_resource

if __name__ == "__main__":
    sys.exit(main())
