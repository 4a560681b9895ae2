"""moto's server with two fixes to its EventBridge model, where moto 5.2.5 contradicts AWS.

1. A partner event bus is named after its partner event source, `aws.partner/okta.com/org/name`.
   moto reduces every `EventBusName` to the text after its last `/`, so no rule or target can be
   put on a partner bus. AWS takes a bus name as given, or the name after `:event-bus/` in an ARN.
2. `DescribeEventSource` for an unknown source raises a Python KeyError in moto (HTTP 500);
   AWS answers `ResourceNotFoundException`.

Usage is moto_server's: `python tools/moto_server.py -H 127.0.0.1 -p PORT`.
"""

import sys

from moto.events import models
from moto.events.exceptions import ResourceNotFoundException
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


models.EventsBackend._normalize_event_bus_arn = _normalize_event_bus_arn
models.EventsBackend.describe_event_source = _describe_event_source

if __name__ == "__main__":
    sys.exit(main())
