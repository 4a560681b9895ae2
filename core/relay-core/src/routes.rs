//! The route table: which Okta events go to which Workflows API endpoint, and how to
//! authenticate. Loaded from JSON (an SSM parameter in Lambda, a file locally), validated once,
//! with errors that name the route and the field. Schema: `docs/routes.schema.json`.

use std::time::Duration;

use event_pattern::{Limits, Pattern, PatternSet};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::auth::AuthDocument;
pub use crate::auth::{Auth, TokenSource};

/// Per-attempt timeout when a route does not set `timeoutMs`: an API endpoint flow runs
/// synchronously and Workflows closes the connection at about 60 s (help.okta.com, "API
/// Endpoint"; Okta's Workflows tips: "the API endpoint closes its connection to a client at 60
/// seconds"), so waiting less would re-run every flow slower than the wait.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=60_000;

/// Requests per second a flow takes when a route does not set `maxRequestsPerSecond`: Okta
/// Workflows invokes an API endpoint flow at most 10 times per second and answers 429 beyond
/// (help.okta.com, "Workflows system limits": "10 invocations per second per Flow").
pub const DEFAULT_MAX_REQUESTS_PER_SECOND: f64 = 10.0;
const MAX_REQUESTS_PER_SECOND_RANGE: std::ops::RangeInclusive<f64> = 0.01..=1000.0;

/// Largest body one batched POST may have. Okta documents no request-size limit for API
/// endpoint flows that we could find; its documented per-execution limit is 100 MB of instance
/// memory (help.okta.com, "Workflows system limits"). 1 MiB keeps a batch far below that and
/// below what HTTP front ends commonly refuse; `batch.maxBytes` lowers or raises it.
pub const DEFAULT_BATCH_MAX_BYTES: usize = 1024 * 1024;
const BATCH_MAX_EVENTS_RANGE: std::ops::RangeInclusive<usize> = 1..=1000;
const BATCH_MAX_WAIT_RANGE: std::ops::RangeInclusive<u64> = 0..=300;
const BATCH_MAX_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=6 * 1024 * 1024;

/// How a batched route groups events: up to `max_events` per POST and `max_bytes` per body,
/// and a partly filled batch may wait `max_wait` (counted from its oldest event's arrival) for
/// more.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batching {
    pub max_events: usize,
    pub max_wait: Duration,
    pub max_bytes: usize,
}

/// The hosts every route may name without being listed: Okta Workflows' API endpoint hosts,
/// `<org>.workflows.<Okta domain>`, for each domain Okta serves orgs on (okta.com, the preview
/// cell oktapreview.com, the EMEA cell okta-emea.com, and the US government cells okta-gov.com
/// and okta.mil; help.okta.com, "Allow access to Okta IP addresses").
pub const WORKFLOWS_HOST_SUFFIXES: [&str; 5] = [
    ".workflows.okta.com",
    ".workflows.oktapreview.com",
    ".workflows.okta-emea.com",
    ".workflows.okta-gov.com",
    ".workflows.okta.mil",
];

/// How strict loading is.
///
/// An endpoint must be https on an Okta Workflows host ([`WORKFLOWS_HOST_SUFFIXES`]) or on a
/// host the operator lists in `allowed_hosts` (`AllowedEndpointHosts`): a route table is
/// configuration anyone with `ssm:PutParameter` can change, and without this a route could
/// point the relay at the instance metadata service, a private address or any host at all.
/// IP addresses are refused unless listed exactly. Plain http, and the loopback interface, only
/// for local runs (`allow_http_localhost`).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub allow_http_localhost: bool,
    /// Hosts allowed besides Workflows' own: `host.example.com`, or `*.example.com` for any
    /// host below it, or an IP address.
    pub allowed_hosts: Vec<String>,
}

impl LoadOptions {
    /// Reads a comma-separated host list (`ALLOWED_ENDPOINT_HOSTS`), refusing an entry that is
    /// not a host or `*.` followed by one.
    pub fn parse_allowed_hosts(list: &str) -> Result<Vec<String>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (wildcard, host) = match entry.strip_prefix("*.") {
                    Some(domain) => ("*.", domain),
                    None => ("", entry),
                };
                match url::Host::parse(host) {
                    Ok(parsed)
                        if !host.contains('*')
                            && (wildcard.is_empty() || matches!(parsed, url::Host::Domain(_))) =>
                    {
                        Ok(format!("{wildcard}{parsed}"))
                    }
                    _ => Err(format!(
                        "`{entry}` is not a host name, `*.` and a domain, or an IP address"
                    )),
                }
            })
            .collect()
    }

    fn lists(&self, host: &str) -> bool {
        self.allowed_hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|below| below.ends_with('.') && below.len() > 1),
                None => allowed == host,
            })
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub endpoint: Url,
    pub auth: Auth,
    /// Payload paths to keep (`relay`, `event.actor`, ...); `None` sends the whole payload.
    pub fields: Option<Vec<Vec<String>>>,
    pub attempt_timeout: Duration,
    /// The most requests per second the flow may receive from the whole relay.
    pub max_requests_per_second: f64,
    /// `None`: one event per POST.
    pub batch: Option<Batching>,
}

/// A validated route table, with its patterns compiled into one set.
#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
    patterns: PatternSet<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error(
        "routes are not valid JSON for the route table at {path}: {reason}; see docs/routes.schema.json"
    )]
    Shape { path: String, reason: String },
    #[error("routes `version` is {0}; this relay reads version 1")]
    Version(u32),
    #[error("routes list no route; add at least one")]
    Empty,
    #[error("route `{name}` (routes[{index}]).{field}: {reason}")]
    Route {
        index: usize,
        name: String,
        field: &'static str,
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesDocument {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    version: u32,
    routes: Vec<RouteDocument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RouteDocument {
    name: String,
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(deserialize_with = "event_pattern::strict_json::deserialize")]
    pattern: Value,
    endpoint: String,
    auth: AuthDocument,
    #[serde(default)]
    fields: Option<Vec<String>>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    max_requests_per_second: Option<f64>,
    #[serde(default)]
    batch: Option<BatchDocument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BatchDocument {
    max_events: usize,
    #[serde(default)]
    max_wait_seconds: u64,
    #[serde(default)]
    max_bytes: Option<usize>,
}

impl BatchDocument {
    fn check(&self) -> Result<Batching, String> {
        if !BATCH_MAX_EVENTS_RANGE.contains(&self.max_events) {
            return Err(format!("maxEvents {} is outside 1..=1000", self.max_events));
        }
        if !BATCH_MAX_WAIT_RANGE.contains(&self.max_wait_seconds) {
            return Err(format!(
                "maxWaitSeconds {} is outside 0..=300 (SQS delays a message at most 900 s, and \
                 a batch should not hold alerts longer than minutes)",
                self.max_wait_seconds
            ));
        }
        let max_bytes = self.max_bytes.unwrap_or(DEFAULT_BATCH_MAX_BYTES);
        if !BATCH_MAX_BYTES_RANGE.contains(&max_bytes) {
            return Err(format!("maxBytes {max_bytes} is outside 1024..=6291456"));
        }
        Ok(Batching {
            max_events: self.max_events,
            max_wait: Duration::from_secs(self.max_wait_seconds),
            max_bytes,
        })
    }
}

impl RouteTable {
    pub fn from_json(text: &str, options: LoadOptions) -> Result<Self, RoutesError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let document: RoutesDocument = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| RoutesError::Shape {
                path: error.path().to_string(),
                reason: error.into_inner().to_string(),
            })?;
        if document.version != 1 {
            return Err(RoutesError::Version(document.version));
        }
        if document.routes.is_empty() {
            return Err(RoutesError::Empty);
        }
        let mut routes = Vec::with_capacity(document.routes.len());
        let mut patterns = Vec::with_capacity(document.routes.len());
        for (index, route) in document.routes.into_iter().enumerate() {
            let fail = |field, reason: String| RoutesError::Route {
                index,
                name: route.name.clone(),
                field,
                reason,
            };
            check_name(&route.name).map_err(|reason| fail("name", reason))?;
            if routes.iter().any(|seen: &Route| seen.name == route.name) {
                return Err(fail(
                    "name",
                    "another route has this name; names must be unique".into(),
                ));
            }
            let pattern = Pattern::from_value(&route.pattern, Limits::RELAY_ROUTE)
                .map_err(|error| fail("pattern", error.to_string()))?;
            let endpoint = check_endpoint(&route.endpoint, &options)
                .map_err(|reason| fail("endpoint", reason))?;
            let auth = route
                .auth
                .check()
                .map_err(|(field, reason)| fail(field, reason))?;
            let fields = route
                .fields
                .as_deref()
                .map(check_fields)
                .transpose()
                .map_err(|reason| fail("fields", reason))?;
            let attempt_timeout = match route.timeout_ms {
                None => DEFAULT_ATTEMPT_TIMEOUT,
                Some(ms) if TIMEOUT_RANGE_MS.contains(&ms) => Duration::from_millis(ms),
                Some(ms) => {
                    return Err(fail(
                        "timeoutMs",
                        format!("{ms} is outside 100..=60000 milliseconds"),
                    ));
                }
            };
            let max_requests_per_second = match route.max_requests_per_second {
                None => DEFAULT_MAX_REQUESTS_PER_SECOND,
                Some(rate) if MAX_REQUESTS_PER_SECOND_RANGE.contains(&rate) => rate,
                Some(rate) => {
                    return Err(fail(
                        "maxRequestsPerSecond",
                        format!(
                            "{rate} is outside 0.01..=1000 (Okta Workflows takes 10 per second per flow)"
                        ),
                    ));
                }
            };
            let batch = route
                .batch
                .as_ref()
                .map(BatchDocument::check)
                .transpose()
                .map_err(|reason| fail("batch", reason))?;
            patterns.push((index, pattern));
            routes.push(Route {
                name: route.name,
                endpoint,
                auth,
                fields,
                attempt_timeout,
                max_requests_per_second,
                batch,
            });
        }
        // Indexed once for the whole table: inserting one by one would re-index per route.
        let patterns = patterns.into_iter().collect();
        Ok(Self { routes, patterns })
    }

    /// The routes whose pattern matches the document, in table order.
    pub fn matching(&self, document: &Value) -> Vec<&Route> {
        let mut indexes: Vec<usize> = self
            .patterns
            .matching_value(document)
            .into_iter()
            .copied()
            .collect();
        indexes.sort_unstable();
        indexes
            .into_iter()
            .filter_map(|index| self.routes.get(index))
            .collect()
    }

    /// Whether some route's pattern reads the `relay` enrichment, so it must be in the document
    /// routes match on.
    pub fn reads_relay(&self) -> bool {
        self.patterns.reads("relay")
    }

    pub fn get(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|route| route.name == name)
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

/// Where the current route table comes from (an SSM parameter in Lambda, a file locally).
pub trait RoutesSource: Sync {
    fn current(
        &self,
    ) -> impl std::future::Future<Output = Result<RoutesSnapshot, RoutesSourceError>> + Send;
}

/// The table to use now. `stale` says why it is an older table than the source holds: the
/// source could not be read or held an invalid table, and the last good one is kept.
#[derive(Debug, Clone)]
pub struct RoutesSnapshot {
    pub table: std::sync::Arc<RouteTable>,
    pub stale: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RoutesSourceError {
    #[error("routes {origin}: could not read: {reason}")]
    Unreadable { origin: String, reason: String },
    #[error("routes {origin}: {error}")]
    Invalid { origin: String, error: RoutesError },
}

fn check_name(name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|first| first.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err("use 1-64 of [A-Za-z0-9._-], starting with a letter or digit".into())
    }
}

fn check_endpoint(text: &str, options: &LoadOptions) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|error| format!("`{text}` is not a URL: {error}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not carry credentials; put the client token in SSM and name it in `auth`".into(),
        );
    }
    if url
        .query_pairs()
        .any(|(key, _)| key.eq_ignore_ascii_case("clientToken"))
    {
        return Err("must not carry a clientToken; set auth.scheme to `query` and name the token's parameter".into());
    }
    // The url crate has already normalised the host: `2852039166`, `0xA9FEA9FE` and
    // `169.254.169.254` are all the same IPv4 address here, and names are lower case.
    let Some(host) = url.host() else {
        return Err(format!("`{text}` names no host"));
    };
    let local = is_loopback(&host);
    match url.scheme() {
        "https" => {}
        "http" if local && options.allow_http_localhost => {}
        "http" if local => {
            return Err(
                "plain http is only for local runs; allow it explicitly (--allow-http-localhost)"
                    .into(),
            );
        }
        scheme => return Err(format!("must be https (got `{scheme}`)")),
    }
    let name = host.to_string();
    if local && options.allow_http_localhost || options.lists(&name) {
        return Ok(url);
    }
    match host {
        url::Host::Domain(domain)
            if !local
                && WORKFLOWS_HOST_SUFFIXES
                    .iter()
                    .any(|suffix| domain.len() > suffix.len() && domain.ends_with(suffix)) =>
        {
            Ok(url)
        }
        url::Host::Domain(_) if !local => Err(format!(
            "host `{name}` is not an Okta Workflows host (*{}); list it in AllowedEndpointHosts \
             (ALLOWED_ENDPOINT_HOSTS) to send events there",
            WORKFLOWS_HOST_SUFFIXES.join(", *")
        )),
        _ => Err(format!(
            "host `{name}` is {}; routes name Okta Workflows hosts, and an address is only \
             accepted when AllowedEndpointHosts lists it exactly",
            address_kind(&host)
        )),
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(domain) => *domain == "localhost" || domain.ends_with(".localhost"),
        url::Host::Ipv4(address) => address.is_loopback(),
        url::Host::Ipv6(address) => {
            address.is_loopback()
                || address
                    .to_ipv4_mapped()
                    .is_some_and(|mapped| mapped.is_loopback())
        }
    }
}

/// What kind of address a refused host is, for the error.
fn address_kind(host: &url::Host<&str>) -> &'static str {
    let v4 = match host {
        url::Host::Domain(_) => return "the loopback interface (only for local runs)",
        url::Host::Ipv4(address) => *address,
        url::Host::Ipv6(address) => match address.to_ipv4_mapped() {
            Some(mapped) => mapped,
            None if address.is_loopback() => return "the loopback address",
            None if (address.segments()[0] & 0xffc0) == 0xfe80 => return "a link-local address",
            None if (address.segments()[0] & 0xfe00) == 0xfc00 => return "a private address",
            None => return "an IP address",
        },
    };
    if v4.is_loopback() {
        "the loopback address"
    } else if v4.is_link_local() {
        "a link-local address (the instance metadata service lives there)"
    } else if v4.is_private() || v4.is_unspecified() || v4.is_broadcast() {
        "a private address"
    } else {
        "an IP address"
    }
}

fn check_fields(fields: &[String]) -> Result<Vec<Vec<String>>, String> {
    if fields.is_empty() {
        return Err("an empty list would send nothing; omit `fields` to send everything".into());
    }
    fields
        .iter()
        .map(|field| {
            let segments: Vec<String> = field.split('.').map(str::to_owned).collect();
            let rooted = matches!(
                segments.first().map(String::as_str),
                Some("event" | "relay")
            );
            if rooted && segments.iter().all(|segment| !segment.is_empty()) {
                Ok(segments)
            } else {
                Err(format!(
                    "`{field}` must be a dotted path under `event` or `relay`, like `event.actor`"
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(routes: Value) -> Result<RouteTable, RoutesError> {
        RouteTable::from_json(
            &json!({"version": 1, "routes": routes}).to_string(),
            LoadOptions::default(),
        )
    }

    fn route(overrides: Value) -> Value {
        let mut route = json!({
            "name": "alerts",
            "pattern": {"detail": {"eventType": ["user.session.start"]}},
            "endpoint": "https://example.workflows.okta.com/api/flo/abc/invoke",
            "auth": {"tokenParameter": "/okta-relay/tokens/alerts"}
        });
        for (key, value) in overrides.as_object().unwrap() {
            route[key] = value.clone();
        }
        route
    }

    fn error(overrides: Value) -> String {
        table(json!([route(overrides)])).unwrap_err().to_string()
    }

    #[test]
    fn loads_the_example_table() {
        let text = include_str!("../../../infra/routes.example.json");
        let table = RouteTable::from_json(text, LoadOptions::default()).unwrap();
        assert!(table.routes().len() >= 3);
        assert!(
            table
                .routes()
                .iter()
                .all(|route| route.endpoint.scheme() == "https")
        );
    }

    #[test]
    fn defaults_to_header_token_sixty_second_timeout_and_the_workflows_rate() {
        let table = table(json!([route(json!({}))])).unwrap();
        let route = &table.routes()[0];
        assert_eq!(route.attempt_timeout, Duration::from_secs(60));
        assert_eq!(route.max_requests_per_second, 10.0);
        assert_eq!(route.batch, None);
        assert_eq!(
            route.auth,
            Auth::Header(TokenSource::SsmParameter(
                "/okta-relay/tokens/alerts".into()
            ))
        );
    }

    #[test]
    fn an_oauth2_route_names_its_client_and_key() {
        let route = |auth: serde_json::Value| {
            let routes = json!({"version": 1, "routes": [{
                "name": "alerts", "pattern": {"detail": {"uuid": [{"exists": true}]}},
                "endpoint": "https://example.workflows.okta.com/api/flo/abc/invoke", "auth": auth
            }]});
            RouteTable::from_json(&routes.to_string(), LoadOptions::default())
                .unwrap()
                .routes()[0]
                .auth
                .clone()
        };
        assert_eq!(
            route(
                json!({"scheme": "oauth2", "clientId": "0oa1", "signingKey": "alias/okta-relay"})
            ),
            Auth::OAuth2(crate::auth::OAuthClientRef {
                client_id: "0oa1".into(),
                key: crate::auth::SigningKey::Kms("alias/okta-relay".into()),
                dpop: false,
                key_id: None,
            })
        );
        let pem = route(
            json!({"scheme": "oauth2", "clientId": "0oa1", "privateKeyParameter": "/okta-relay/workflows/key", "dpop": true}),
        );
        assert_eq!(
            pem.token_source(),
            Some(&TokenSource::SsmParameter(
                "/okta-relay/workflows/key".into()
            ))
        );
    }

    #[test]
    fn errors_name_the_route_and_field() {
        assert_eq!(
            error(json!({"endpoint": "http://example.com/x"})),
            "route `alerts` (routes[0]).endpoint: must be https (got `http`)"
        );
        assert!(
            error(json!({"pattern": {"detail": {"eventType": "not-an-array"}}})).starts_with(
                "route `alerts` (routes[0]).pattern: invalid event pattern at detail.eventType"
            )
        );
        assert!(error(json!({"auth": {}})).contains(".auth: name where the client token is"));
        assert!(
            error(json!({"auth": {"tokenParameter": "a", "tokenEnv": "B"}})).contains("not both")
        );
        assert!(error(json!({"auth": {"tokenEnv": "lower"}})).contains(".auth.tokenEnv"));
        assert!(
            error(json!({"auth": {"scheme": "none", "tokenEnv": "X"}})).contains("takes no token")
        );
        assert!(
            error(json!({"auth": {"scheme": "oauth2", "clientId": "0oa1"}}))
                .contains(".auth: name the client's key once: signingKey")
        );
        assert!(
            error(json!({"auth": {"scheme": "oauth2", "clientId": "0oa1", "signingKey": "k", "privateKeyEnv": "K"}}))
                .contains("name the client's key once")
        );
        assert!(
            error(
                json!({"auth": {"scheme": "oauth2", "clientId": "has space", "signingKey": "k"}})
            )
            .contains(".auth.clientId: `has space` is not an Okta client id")
        );
        assert!(
            error(
                json!({"auth": {"scheme": "oauth2", "clientId": "0oa1", "privateKeyEnv": "lower"}})
            )
            .contains(".auth.privateKeyEnv: `lower` is not an environment variable name")
        );
        assert!(
            error(json!({"auth": {"scheme": "oauth2", "clientId": "0oa1", "signingKey": "k", "tokenEnv": "X"}}))
                .contains("unknown field `tokenEnv`")
        );
        assert!(
            error(json!({"fields": ["actor"]})).contains(".fields: `actor` must be a dotted path")
        );
        assert!(error(json!({"fields": []})).contains("omit `fields`"));
        assert!(error(json!({"timeoutMs": 5})).contains(".timeoutMs"));
        assert!(error(json!({"name": "has space"})).contains(".name: use 1-64"));
        assert!(
            error(json!({"endpoint": "https://x.example/?clientToken=abc"}))
                .contains("must not carry a clientToken")
        );
        assert!(
            error(json!({"endpoint": "https://user:pw@x.example/"}))
                .contains("must not carry credentials")
        );
    }

    #[test]
    fn rate_and_batch_are_checked() {
        let table = table(json!([route(json!({
            "maxRequestsPerSecond": 2.5,
            "batch": {"maxEvents": 25, "maxWaitSeconds": 5}
        }))]))
        .unwrap();
        let route = &table.routes()[0];
        assert_eq!(route.max_requests_per_second, 2.5);
        assert_eq!(
            route.batch,
            Some(Batching {
                max_events: 25,
                max_wait: Duration::from_secs(5),
                max_bytes: DEFAULT_BATCH_MAX_BYTES
            })
        );
        assert_eq!(
            error(json!({"maxRequestsPerSecond": 0})),
            "route `alerts` (routes[0]).maxRequestsPerSecond: 0 is outside 0.01..=1000 (Okta \
             Workflows takes 10 per second per flow)"
        );
        assert_eq!(
            error(json!({"batch": {"maxEvents": 0}})),
            "route `alerts` (routes[0]).batch: maxEvents 0 is outside 1..=1000"
        );
        assert!(
            error(json!({"batch": {"maxEvents": 5, "maxWaitSeconds": 901}}))
                .contains("maxWaitSeconds 901")
        );
        assert!(error(json!({"batch": {"maxEvents": 5, "maxBytes": 10}})).contains("maxBytes 10"));
    }

    #[test]
    fn shape_errors_name_the_json_path() {
        let error = table(json!([route(
            json!({"auth": {"scheme": "heder", "tokenEnv": "X"}})
        )]))
        .unwrap_err();
        assert!(error.to_string().starts_with("routes are not valid JSON for the route table at routes[0].auth: unknown variant `heder`"), "{error}");
        let error = table(json!([route(json!({"endpont": "x"}))])).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `endpont`"),
            "{error}"
        );
        let error =
            RouteTable::from_json(r#"{"version": 2, "routes": []}"#, LoadOptions::default())
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "routes `version` is 2; this relay reads version 1"
        );
        assert!(matches!(table(json!([])), Err(RoutesError::Empty)));
    }

    #[test]
    fn duplicate_names_are_refused() {
        let error = table(json!([route(json!({})), route(json!({}))])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "route `alerts` (routes[1]).name: another route has this name; names must be unique"
        );
    }

    #[test]
    fn plain_http_only_to_localhost_and_only_when_allowed() {
        let local = json!({"version": 1, "routes": [route(json!({"endpoint": "http://127.0.0.1:9000/flow"}))]}).to_string();
        let refused = RouteTable::from_json(&local, LoadOptions::default()).unwrap_err();
        assert!(refused.to_string().contains("only for local runs"));
        assert!(
            RouteTable::from_json(
                &local,
                LoadOptions {
                    allow_http_localhost: true,
                    ..Default::default()
                }
            )
            .is_ok()
        );
        let remote = json!({"version": 1, "routes": [route(json!({"endpoint": "http://example.com/flow"}))]}).to_string();
        assert!(
            RouteTable::from_json(
                &remote,
                LoadOptions {
                    allow_http_localhost: true,
                    ..Default::default()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn matching_returns_every_matching_route_in_table_order() {
        let table = table(json!([
            route(json!({"name": "logins"})),
            route(
                json!({"name": "everything", "pattern": {"detail": {"uuid": [{"exists": true}]}}})
            ),
            route(json!({"name": "risky", "pattern": {"relay": {"risk": {"level": ["HIGH"]}}}})),
        ]))
        .unwrap();
        let names = |document: Value| -> Vec<String> {
            table
                .matching(&document)
                .into_iter()
                .map(|route| route.name.clone())
                .collect()
        };
        let login = json!({"detail": {"uuid": "u", "eventType": "user.session.start"}, "relay": {"risk": {"level": "HIGH"}}});
        assert_eq!(names(login), ["logins", "everything", "risky"]);
        assert_eq!(
            names(json!({"detail": {"uuid": "u", "eventType": "x"}})),
            ["everything"]
        );
        assert!(names(json!({"detail": {"eventType": "x"}})).is_empty());
    }

    #[test]
    fn knows_whether_a_pattern_reads_the_enrichment() {
        let reads = |pattern: Value| {
            table(json!([route(json!({"pattern": pattern}))]))
                .unwrap()
                .reads_relay()
        };
        assert!(!reads(json!({"detail": {"eventType": ["x"]}})));
        assert!(!reads(json!({"detail": {"relay": ["x"]}})));
        assert!(reads(json!({"relay": {"risk": {"level": ["HIGH"]}}})));
        assert!(reads(json!({"relay": {"actor": [{"exists": false}]}})));
        assert!(reads(
            json!({"$or": [{"detail": {"eventType": ["x"]}}, {"relay": {"category": ["user.session"]}}]})
        ));
    }
}
