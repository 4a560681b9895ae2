//! What a redrive puts back in the inbox ([`select`]: the event planned with today's routes,
//! kept to the routes that failed), and the message that carries it ([`Selected::enqueue`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Redrive;
use crate::enrich::EnrichContext;
use crate::inbox::{Enqueue, Retry};
use crate::pipeline::route_event;
use crate::routes::RouteTable;

/// Why a message cannot be sent with today's routes; it stays in the queue.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unselectable {
    #[error("the event no longer reads: {0}")]
    Unreadable(String),
    #[error("route `{0}` is no longer in the route table or no longer matches this event")]
    RouteGone(String),
}

/// What a redrive sends again: the event, and the routes that still owe it with the current
/// route table (the failed route of a letter, the routes a retry still owed, or every route an
/// event matches).
#[derive(Debug)]
pub struct Selected {
    pub uuid: String,
    pub routes: Vec<String>,
    event: Value,
}

impl Selected {
    /// The inbox message that relays the event to its routes, and only to them. Its age counts
    /// from now: the operator decided to try again, so it gets `MaxEventAgeHours` afresh.
    pub fn enqueue(&self, now: DateTime<Utc>) -> Enqueue {
        let retry = Retry::fresh(self.event.clone(), self.routes.clone(), now);
        Enqueue {
            body: serde_json::to_string(&retry).unwrap_or_default(),
            delay: std::time::Duration::ZERO,
        }
    }
}

/// Plans what a redrive would send; an error says why it cannot (the route is gone, the event
/// no longer reads).
pub fn select(
    redrive: &Redrive,
    table: &RouteTable,
    context: &EnrichContext<'_>,
) -> Result<Selected, Unselectable> {
    let event = match redrive {
        Redrive::Route { event, .. } | Redrive::Event { event } | Redrive::Routes { event, .. } => {
            event
        }
    };
    let bytes =
        serde_json::to_vec(event).map_err(|error| Unselectable::Unreadable(error.to_string()))?;
    let planned = route_event(&bytes, table, context)
        .map_err(|error| Unselectable::Unreadable(error.to_string()))?;
    let routes: Vec<String> = planned
        .deliveries
        .into_iter()
        .map(|(route, _)| route.name.clone())
        .filter(|route| match redrive {
            Redrive::Route { route: name, .. } => route == name,
            Redrive::Routes { routes, .. } => routes.contains(route),
            Redrive::Event { .. } => true,
        })
        .collect();
    if let Redrive::Route { route, .. } = redrive
        && routes.is_empty()
    {
        return Err(Unselectable::RouteGone(route.clone()));
    }
    if let Redrive::Routes { routes: owed, .. } = redrive
        && routes.is_empty()
    {
        return Err(Unselectable::RouteGone(owed.join(", ")));
    }
    Ok(Selected {
        uuid: planned.uuid,
        routes,
        event: event.clone(),
    })
}
