//! The one policy for every HTTP client okta-relay builds (Okta Workflows deliveries, the Okta
//! Management API, CloudFormation's `ResponseURL`), so that no call site can forget a part of it:
//!
//! - **No redirects, ever.** reqwest follows up to ten by default. Followed, a 307 would carry
//!   `x-api-client-token` or `Authorization` to whatever host it names, a 301/302/303 would turn a
//!   POST into a body-less GET that answers 200 (a delivery counted that never happened), and any
//!   of them could lead from https to http. A 3xx is handed to the caller as it is, and
//!   [`Redirect`] describes it by status and host only (the `Location` query may hold a token).
//! - **Timeouts** on connecting and on the whole exchange, body included.
//! - **Bounded bodies**: [`read_capped`] reads at most a given number of bytes and drops the rest,
//!   so a peer answering gigabytes costs a few kilobytes of memory.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{StatusCode, Url};

/// What one kind of client needs; everything else is the shared policy.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub connect_timeout: Duration,
    /// Whole-exchange timeout for requests that set none of their own.
    pub timeout: Option<Duration>,
    /// How long an idle keep-alive connection is kept (Lambda freezes containers between
    /// invocations; Workflows closes idle connections after about a minute).
    pub pool_idle_timeout: Option<Duration>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Some(Duration::from_secs(30)),
            pool_idle_timeout: None,
        }
    }
}

/// A client under the shared policy. Build one per container and reuse it: loading the TLS
/// roots is the slow part, and kept-alive connections save a handshake per request.
pub fn client(settings: &ClientSettings) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("okta-relay/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .connect_timeout(settings.connect_timeout)
        .tcp_keepalive(Duration::from_secs(30))
        .tcp_nodelay(true);
    if let Some(timeout) = settings.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(idle) = settings.pool_idle_timeout {
        builder = builder.pool_idle_timeout(idle);
    }
    builder.build()
}

/// A response body read up to a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CappedBody {
    pub bytes: Bytes,
    /// The peer sent more than the limit; the rest was not read.
    pub truncated: bool,
}

/// Reads at most `limit` bytes of the body. Past the limit the response is dropped unread,
/// which closes its connection instead of returning it to the pool.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<CappedBody, reqwest::Error> {
    let hinted = response
        .content_length()
        .map_or(0, |length| usize::try_from(length).unwrap_or(usize::MAX));
    let mut body = BytesMut::with_capacity(hinted.min(limit).min(64 * 1024));
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok(CappedBody {
                bytes: body.freeze(),
                truncated: true,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(CappedBody {
        bytes: body.freeze(),
        truncated: false,
    })
}

/// A 3xx answer, described without its `Location` path or query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub status: u16,
    /// The host `Location` names (the request's own for a relative one), or a word saying
    /// there was none usable.
    pub host: String,
}

impl Redirect {
    /// The redirect in a response to `requested`, if it is one.
    pub fn of(status: StatusCode, headers: &HeaderMap, requested: &Url) -> Option<Self> {
        if !status.is_redirection() {
            return None;
        }
        let host = headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|location| requested.join(location).ok())
            .map_or_else(
                || "no usable Location".to_owned(),
                |target| {
                    let host = target.host_str().unwrap_or("no host").to_owned();
                    match (target.scheme(), target.port()) {
                        ("https", None) => host,
                        (scheme, Some(port)) => format!("{scheme}://{host}:{port}"),
                        (scheme, None) => format!("{scheme}://{host}"),
                    }
                },
            );
        Some(Self {
            status: status.as_u16(),
            host,
        })
    }
}

impl std::fmt::Display for Redirect {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "answered HTTP {} redirecting to {}; okta-relay never follows redirects (they could \
             carry the credential elsewhere or turn the POST into a GET): use the final URL",
            self.status, self.host
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[test]
    fn a_redirect_names_the_host_and_never_the_query() {
        let requested = Url::parse("https://acme.workflows.okta.com/api/flo/x/invoke").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            LOCATION,
            HeaderValue::from_static("https://evil.example/steal?clientToken=secret"),
        );
        let redirect = Redirect::of(StatusCode::TEMPORARY_REDIRECT, &headers, &requested).unwrap();
        assert_eq!(redirect.host, "evil.example");
        assert!(!redirect.to_string().contains("secret"));
        headers.insert(LOCATION, HeaderValue::from_static("/elsewhere?x=1"));
        let relative = Redirect::of(StatusCode::FOUND, &headers, &requested).unwrap();
        assert_eq!(relative.host, "acme.workflows.okta.com");
        headers.insert(
            LOCATION,
            HeaderValue::from_static("http://plain.example:8080/"),
        );
        let plain = Redirect::of(StatusCode::MOVED_PERMANENTLY, &headers, &requested).unwrap();
        assert_eq!(plain.host, "http://plain.example:8080");
        assert!(Redirect::of(StatusCode::OK, &headers, &requested).is_none());
        assert_eq!(
            Redirect::of(StatusCode::SEE_OTHER, &HeaderMap::new(), &requested)
                .unwrap()
                .host,
            "no usable Location"
        );
    }

    #[tokio::test]
    async fn the_client_does_not_follow_and_bodies_are_capped() {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(307)
                    .insert_header("location", "https://elsewhere.example/")
                    .set_body_bytes(vec![b'x'; 100_000]),
            )
            .mount(&server)
            .await;
        let client = client(&ClientSettings::default()).unwrap();
        let response = client.post(server.uri()).send().await.unwrap();
        assert_eq!(response.status(), 307);
        let body = read_capped(response, 1000).await.unwrap();
        assert_eq!((body.bytes.len(), body.truncated), (1000, true));
        let response = client.post(server.uri()).send().await.unwrap();
        let body = read_capped(response, 200_000).await.unwrap();
        assert_eq!((body.bytes.len(), body.truncated), (100_000, false));
    }
}
