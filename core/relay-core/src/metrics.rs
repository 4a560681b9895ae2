//! CloudWatch metrics in Embedded Metric Format: one JSON document per invocation, written to
//! stdout, which CloudWatch Logs turns into metrics without any API call.
//!
//! The names are a contract: alarms and the dashboard in `template.yaml` refer to them.

use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "OktaRelay";
pub const DIMENSION: &str = "FunctionName";
/// The second dimension of the per-route documents ([`InvocationMetrics::to_route_emf`]).
pub const ROUTE_DIMENSION: &str = "Route";

/// The metrics of the per-route documents, each also in [`METRICS`] (there without the route).
pub const ROUTE_METRICS: [(&str, &str); 5] = [
    ("Delivered", "Count"),
    ("DeliveryRetries", "Count"),
    ("DeliveryFailed", "Count"),
    ("PacedOut", "Count"),
    ("DeliveryLatency", "Milliseconds"),
];

/// Every metric the relay emits, with its CloudWatch unit.
pub const METRICS: [(&str, &str); 14] = [
    ("EventsReceived", "Count"),
    ("EventsMatched", "Count"),
    ("EventsFilteredOut", "Count"),
    ("BadInput", "Count"),
    ("Delivered", "Count"),
    ("DeliveryRetries", "Count"),
    ("DeliveryFailed", "Count"),
    ("DeadLettered", "Count"),
    ("RoutesConfigErrors", "Count"),
    ("DuplicatesSkipped", "Count"),
    ("Requeued", "Count"),
    ("PacedOut", "Count"),
    ("DeliveryLatency", "Milliseconds"),
    ("EndToEndLag", "Milliseconds"),
];

/// One EMF document for `function_name`: each metric is (name, unit, value), the value a number
/// or an array of at most 100 numbers (EMF aggregates them). Every okta-relay function writes its
/// metrics through this, so the namespace, the dimension and the document's shape are said once.
pub fn emf(function_name: &str, timestamp_ms: u128, metrics: &[(&str, &str, Value)]) -> Value {
    emf_with(&[(DIMENSION, function_name)], timestamp_ms, metrics)
}

/// One EMF document with these dimensions (name, value), in this order.
fn emf_with(
    dimensions: &[(&str, &str)],
    timestamp_ms: u128,
    metrics: &[(&str, &str, Value)],
) -> Value {
    let mut document = Map::new();
    let declared: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, value)| {
            document.insert((*name).into(), value.clone());
            json!({"Name": name, "Unit": unit})
        })
        .collect();
    for (name, value) in dimensions {
        document.insert((*name).into(), json!(value));
    }
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [names], "Metrics": declared}]
        }),
    );
    Value::Object(document)
}

/// What happened during one invocation (or, summed, during a replay).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct InvocationMetrics {
    pub received: u64,
    pub matched: u64,
    pub filtered_out: u64,
    pub bad_input: u64,
    pub delivered: u64,
    pub retries: u64,
    pub failed: u64,
    pub dead_lettered: u64,
    pub routes_config_errors: u64,
    /// Deliveries not made because the idempotency store says they were made before.
    pub duplicates_skipped: u64,
    /// Route deliveries put back in the inbox to be made later (throttled, unavailable, paced
    /// out, or a batch waiting to fill).
    pub requeued: u64,
    /// Of those, the ones this container's pacing could not fit before the invocation's end.
    pub paced_out: u64,
    /// One value per delivery attempt sequence, in milliseconds.
    pub delivery_latency_ms: Vec<f64>,
    /// Okta publishing to successful delivery, one value per delivered route, in milliseconds.
    pub end_to_end_lag_ms: Vec<f64>,
    /// The same counts for each route that had work, by route name.
    pub per_route: std::collections::BTreeMap<String, RouteMetrics>,
}

/// What happened to one route's deliveries during an invocation.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RouteMetrics {
    pub delivered: u64,
    pub retries: u64,
    pub failed: u64,
    pub paced_out: u64,
    pub delivery_latency_ms: Vec<f64>,
}

impl RouteMetrics {
    fn add(&mut self, other: &Self) {
        self.delivered += other.delivered;
        self.retries += other.retries;
        self.failed += other.failed;
        self.paced_out += other.paced_out;
        self.delivery_latency_ms
            .extend_from_slice(&other.delivery_latency_ms);
    }
}

impl InvocationMetrics {
    pub fn add(&mut self, other: &Self) {
        self.received += other.received;
        self.matched += other.matched;
        self.filtered_out += other.filtered_out;
        self.bad_input += other.bad_input;
        self.delivered += other.delivered;
        self.retries += other.retries;
        self.failed += other.failed;
        self.dead_lettered += other.dead_lettered;
        self.routes_config_errors += other.routes_config_errors;
        self.duplicates_skipped += other.duplicates_skipped;
        self.requeued += other.requeued;
        self.paced_out += other.paced_out;
        self.delivery_latency_ms
            .extend_from_slice(&other.delivery_latency_ms);
        self.end_to_end_lag_ms
            .extend_from_slice(&other.end_to_end_lag_ms);
        for (route, metrics) in &other.per_route {
            self.route(route).add(metrics);
        }
    }

    /// The counts of `route`, made on first use.
    pub fn route(&mut self, route: &str) -> &mut RouteMetrics {
        self.per_route.entry(route.to_owned()).or_default()
    }

    /// One EMF document per route that had work, with the dimensions `FunctionName` and `Route`
    /// ([`ROUTE_METRICS`]), for per-flow alarms. Each (route, metric) is a custom metric of its
    /// own in CloudWatch's bill, so these are written only when the template's
    /// `PerRouteMetrics` is on.
    pub fn to_route_emf(&self, function_name: &str, timestamp_ms: i64) -> Vec<Value> {
        let timestamp = u128::try_from(timestamp_ms).unwrap_or(0);
        self.per_route
            .iter()
            .map(|(route, counts)| {
                let mut metrics: Vec<(&str, &str, Value)> = ROUTE_METRICS[..4]
                    .iter()
                    .zip([
                        counts.delivered,
                        counts.retries,
                        counts.failed,
                        counts.paced_out,
                    ])
                    .map(|((name, unit), count)| (*name, *unit, json!(count)))
                    .collect();
                if !counts.delivery_latency_ms.is_empty() {
                    let kept: Vec<f64> = counts
                        .delivery_latency_ms
                        .iter()
                        .take(100)
                        .copied()
                        .collect();
                    let (name, unit) = ROUTE_METRICS[4];
                    metrics.push((name, unit, json!(kept)));
                }
                emf_with(
                    &[(DIMENSION, function_name), (ROUTE_DIMENSION, route)],
                    timestamp,
                    &metrics,
                )
            })
            .collect()
    }

    /// The EMF document. Latency and lag are arrays (EMF aggregates up to 100 values each);
    /// empty ones are left out so CloudWatch records no sample rather than a zero.
    pub fn to_emf(&self, function_name: &str, timestamp_ms: i64) -> Value {
        let counts = [
            self.received,
            self.matched,
            self.filtered_out,
            self.bad_input,
            self.delivered,
            self.retries,
            self.failed,
            self.dead_lettered,
            self.routes_config_errors,
            self.duplicates_skipped,
            self.requeued,
            self.paced_out,
        ];
        let mut metrics: Vec<(&str, &str, Value)> = METRICS
            .iter()
            .zip(counts)
            .map(|((name, unit), count)| (*name, *unit, json!(count)))
            .collect();
        for ((name, unit), values) in METRICS[12..]
            .iter()
            .zip([&self.delivery_latency_ms, &self.end_to_end_lag_ms])
        {
            if !values.is_empty() {
                let kept: Vec<f64> = values.iter().take(100).copied().collect();
                metrics.push((name, unit, json!(kept)));
            }
        }
        emf(
            function_name,
            u128::try_from(timestamp_ms).unwrap_or(0),
            &metrics,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_declares_every_value_it_carries() {
        let metrics = InvocationMetrics {
            received: 1,
            matched: 1,
            delivered: 2,
            retries: 3,
            delivery_latency_ms: vec![12.5, 40.0],
            end_to_end_lag_ms: vec![900.0],
            ..Default::default()
        };
        let document = metrics.to_emf("relay", 1_764_000_000_000);
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(document["FunctionName"], "relay");
        for declared in directive["Metrics"].as_array().unwrap() {
            let name = declared["Name"].as_str().unwrap();
            assert!(document.get(name).is_some(), "{name} declared but missing");
        }
        assert_eq!(document["DeliveryRetries"], 3);
        assert_eq!(document["DeliveryLatency"], json!([12.5, 40.0]));
    }

    #[test]
    fn per_route_documents_carry_the_route_as_a_second_dimension() {
        let mut metrics = InvocationMetrics::default();
        metrics.route("alerts").delivered += 2;
        metrics.route("alerts").delivery_latency_ms.push(30.0);
        metrics.route("digest").paced_out += 1;
        let mut summed = InvocationMetrics::default();
        summed.add(&metrics);
        summed.add(&metrics);
        let documents = summed.to_route_emf("relay", 1_764_000_000_000);
        assert_eq!(documents.len(), 2);
        let alerts = &documents[0];
        assert_eq!(alerts["Route"], "alerts");
        assert_eq!(alerts["FunctionName"], "relay");
        assert_eq!(
            alerts["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName", "Route"]])
        );
        assert_eq!(alerts["Delivered"], 4);
        assert_eq!(alerts["DeliveryLatency"], json!([30.0, 30.0]));
        assert_eq!(documents[1]["PacedOut"], 2);
        assert!(documents[1].get("DeliveryLatency").is_none());
        for (name, _) in ROUTE_METRICS {
            assert!(METRICS.iter().any(|(known, _)| *known == name), "{name}");
        }
    }

    #[test]
    fn empty_latency_is_left_out() {
        let document = InvocationMetrics {
            received: 1,
            filtered_out: 1,
            ..Default::default()
        }
        .to_emf("relay", 0);
        assert!(document.get("DeliveryLatency").is_none());
        let declared = document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(declared, 12);
    }
}
