//! What a redrive sends ([`select`]: the event planned with today's routes, kept to the route
//! that failed) and sending it ([`send`]).

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;

use super::Redrive;
use crate::enrich::EnrichContext;
use crate::pipeline::{Deliver, DeliveryRequest, route_event};
use crate::routes::{Route, RouteTable};

/// Why a message cannot be sent with today's routes; it stays in the queue.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unselectable {
    #[error("the event no longer reads: {0}")]
    Unreadable(String),
    #[error("route `{0}` is no longer in the route table or no longer matches this event")]
    RouteGone(String),
}

/// How one redrive went.
#[derive(Debug, Clone, PartialEq)]
pub enum RedriveOutcome {
    /// Every route it was for accepted it: the message can be deleted.
    Delivered { routes: Vec<String> },
    /// It stays in the queue.
    Failed { reason: String },
}

/// The deliveries a redrive makes: the event planned with the current route table, kept to the
/// failed route (a letter) or all matching routes (a Lambda record).
#[derive(Debug)]
pub struct Selected<'t> {
    pub uuid: String,
    pub deliveries: Vec<(&'t Route, Bytes)>,
}

/// Plans what a redrive would send; an error says why it cannot (the route is gone, the event
/// no longer reads).
pub fn select<'t>(
    redrive: &Redrive,
    table: &'t RouteTable,
    context: &EnrichContext<'_>,
) -> Result<Selected<'t>, Unselectable> {
    let event = match redrive {
        Redrive::Route { event, .. } | Redrive::Event { event } | Redrive::Routes { event, .. } => {
            event
        }
    };
    let bytes =
        serde_json::to_vec(event).map_err(|error| Unselectable::Unreadable(error.to_string()))?;
    let planned = route_event(&bytes, table, context)
        .map_err(|error| Unselectable::Unreadable(error.to_string()))?;
    let deliveries: Vec<(&Route, Bytes)> = planned
        .deliveries
        .into_iter()
        .filter(|(route, _)| match redrive {
            Redrive::Route { route: name, .. } => &route.name == name,
            Redrive::Routes { routes, .. } => routes.contains(&route.name),
            Redrive::Event { .. } => true,
        })
        .collect();
    if let Redrive::Route { route, .. } = redrive
        && deliveries.is_empty()
    {
        return Err(Unselectable::RouteGone(route.clone()));
    }
    if let Redrive::Routes { routes, .. } = redrive
        && deliveries.is_empty()
    {
        return Err(Unselectable::RouteGone(routes.join(", ")));
    }
    Ok(Selected {
        uuid: planned.uuid,
        deliveries,
    })
}

/// Sends the selected deliveries, concurrently, each under the delivery retry policy.
pub async fn send(
    selected: &Selected<'_>,
    deliver: &impl Deliver,
    budget: Duration,
) -> RedriveOutcome {
    let reports = join_all(selected.deliveries.iter().map(|(route, body)| {
        deliver.deliver(DeliveryRequest {
            route,
            uuid: &selected.uuid,
            body: body.clone(),
            budget,
        })
    }))
    .await;
    let failures: Vec<String> = selected
        .deliveries
        .iter()
        .zip(&reports)
        .filter_map(|((route, _), report)| {
            let failure = report.failure()?;
            Some(format!("{}: {}", route.name, failure.reason))
        })
        .collect();
    if failures.is_empty() {
        RedriveOutcome::Delivered {
            routes: selected
                .deliveries
                .iter()
                .map(|(route, _)| route.name.clone())
                .collect(),
        }
    } else {
        RedriveOutcome::Failed {
            reason: failures.join("; "),
        }
    }
}
