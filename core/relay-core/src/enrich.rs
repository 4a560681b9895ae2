//! Enrichment: the flat `relay` object sent beside the untouched Okta event, so a Workflows card
//! reads `relay.actor.login` instead of digging through `target[?(@.type=='User')]`.
//!
//! Every part is optional: a field the event lacks is absent from the output, never an error.

use std::collections::BTreeMap;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, SecondsFormat, Utc};
use okta::{Actor, LogEvent, OrgUrl, PartnerEventSource};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::java_map;

/// What the relay knows besides the event: the configured org (if any) and the current time.
pub struct EnrichContext<'a> {
    pub org: Option<&'a OrgUrl>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enrichment {
    pub uuid: String,
    pub event_type: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome_reason: Option<String>,
    pub published: String,
    pub relayed_at: String,
    /// Milliseconds from Okta publishing the event to the relay reading it; 0 if clocks disagree.
    pub lag_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_host: Option<String>,
    pub eventbridge: EventBridgeFacts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Entity>,
    /// Targets grouped by their `type` (`User`, `AppInstance`, ...), in event order.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, Vec<Entity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behaviors: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat_suspected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat_detections: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_log_url: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBridgeFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub source: String,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Okta's `alternateId`: a login for users, a client id or name for apps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_proxy: Option<bool>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Risk {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// Builds the `relay` object for one event.
pub fn enrich(
    envelope: &EventBridgeEvent<Value>,
    event: &LogEvent<'_>,
    context: &EnrichContext<'_>,
) -> Enrichment {
    // Derived from the source only when no org is configured: it parses a URL per event.
    let derived_org = match context.org {
        Some(_) => None,
        None => PartnerEventSource::parse(&envelope.source).and_then(|source| source.org_url()),
    };
    let org = context.org.or(derived_org.as_ref());
    let debug_data = envelope.detail.pointer("/debugContext/debugData");
    let debug_text = |key: &str| {
        debug_data
            .and_then(|data| data.get(key))
            .and_then(Value::as_str)
    };
    // `logOnlySecurityData` is a JSON document of its own: parsed only when the plain fields
    // lack what it can supply.
    let security_log = std::cell::OnceCell::new();
    let security_log = || {
        security_log
            .get_or_init(|| {
                debug_text("logOnlySecurityData")
                    .and_then(|text| serde_json::from_str::<Value>(text).ok())
            })
            .as_ref()
    };
    let outcome = event.outcome.as_ref();

    Enrichment {
        uuid: event.uuid.to_owned(),
        event_type: event.event_type.to_owned(),
        category: event.category().to_owned(),
        display_message: owned(event.display_message),
        severity: owned(event.severity),
        outcome: owned(outcome.and_then(|outcome| outcome.result)),
        outcome_reason: owned(outcome.and_then(|outcome| outcome.reason)),
        published: timestamp(event.published),
        relayed_at: timestamp(context.now),
        lag_ms: (context.now - event.published).num_milliseconds().max(0),
        org_host: org.map(|org| org.host().to_owned()),
        eventbridge: EventBridgeFacts {
            id: envelope.id.clone(),
            account: envelope.account.clone(),
            region: envelope.region.clone(),
            source: envelope.source.clone(),
        },
        actor: event.actor.as_ref().map(entity),
        targets: group_targets(event),
        client: client_facts(event),
        risk: debug_text("risk")
            .map(risk_from_text)
            .or_else(|| security_log().and_then(risk_from_security_log)),
        behaviors: debug_text("behaviors")
            .map(|text| java_map::parse(text).into_iter().collect())
            .or_else(|| security_log().and_then(behaviors_from_security_log)),
        threat_suspected: debug_text("threatSuspected").and_then(|text| text.parse().ok()),
        threat_detections: debug_text("threatDetections")
            .and_then(|text| serde_json::from_str(text).ok()),
        system_log_url: org.map(|org| org.system_log_url(event.uuid, event.published)),
    }
}

/// The enrichment as a JSON object, the form routes match on and payloads carry.
pub fn to_object(enrichment: &Enrichment) -> Map<String, Value> {
    match serde_json::to_value(enrichment) {
        Ok(Value::Object(object)) => object,
        // A struct of strings, numbers and maps always serialises to an object.
        _ => Map::new(),
    }
}

fn owned(text: Option<&str>) -> Option<String> {
    text.map(str::to_owned)
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn entity(actor: &Actor<'_>) -> Entity {
    Entity {
        id: owned(actor.id),
        kind: owned(actor.kind),
        login: owned(actor.alternate_id),
        display_name: owned(actor.display_name),
    }
}

fn group_targets(event: &LogEvent<'_>) -> BTreeMap<String, Vec<Entity>> {
    let mut groups: BTreeMap<String, Vec<Entity>> = BTreeMap::new();
    for target in event.targets.iter().flatten() {
        let kind = target.kind.unwrap_or("Unknown").to_owned();
        groups.entry(kind).or_default().push(entity(target));
    }
    groups
}

fn client_facts(event: &LogEvent<'_>) -> Option<ClientFacts> {
    let client = event.client.as_ref();
    let geo = client.and_then(|client| client.geographical_context.as_ref());
    let agent = client.and_then(|client| client.user_agent.as_ref());
    let network = event.security_context.as_ref();
    let facts = ClientFacts {
        ip: owned(client.and_then(|client| client.ip_address)),
        city: owned(geo.and_then(|geo| geo.city)),
        state: owned(geo.and_then(|geo| geo.state)),
        country: owned(geo.and_then(|geo| geo.country)),
        device: owned(client.and_then(|client| client.device)),
        user_agent: owned(agent.and_then(|agent| agent.raw_user_agent)),
        os: owned(agent.and_then(|agent| agent.os)),
        browser: owned(agent.and_then(|agent| agent.browser)),
        isp: owned(network.and_then(|network| network.isp)),
        is_proxy: network.and_then(|network| network.is_proxy),
    };
    (facts != ClientFacts::default()).then_some(facts)
}

/// `{reasons=Anomalous Location, New Device, level=HIGH}`: reasons are comma-separated.
fn risk_from_text(text: &str) -> Risk {
    let mut risk = Risk {
        level: None,
        reasons: Vec::new(),
    };
    for (key, value) in java_map::parse(text) {
        match key.as_str() {
            "level" => risk.level = Some(value),
            "reasons" => risk.reasons = value.split(", ").map(str::to_owned).collect(),
            _ => {}
        }
    }
    risk
}

/// `logOnlySecurityData` is JSON: `{"risk": {"level": "LOW", "reasons": "..."}, "behaviors": {...}}`.
fn risk_from_security_log(log: &Value) -> Option<Risk> {
    let risk = log.get("risk")?;
    Some(Risk {
        level: risk.get("level").and_then(Value::as_str).map(str::to_owned),
        reasons: risk
            .get("reasons")
            .and_then(Value::as_str)
            .map(|reasons| reasons.split(", ").map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}

fn behaviors_from_security_log(log: &Value) -> Option<BTreeMap<String, String>> {
    let behaviors = log.get("behaviors")?.as_object()?;
    Some(
        behaviors
            .iter()
            .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
            .collect(),
    )
}
