//! An Okta org's base URL, and the admin console links derived from it.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use url::Url;

/// The base URL of an Okta org, for example `https://example.okta.com`: https, a host, no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUrl(Url);

#[derive(Debug, thiserror::Error)]
pub enum OrgUrlError {
    #[error("Okta org URL `{0}` is not a URL: {1}; use the form https://example.okta.com")]
    Unparseable(String, url::ParseError),
    #[error(
        "Okta org URL `{0}` must use https and name only the host, like https://example.okta.com"
    )]
    NotABaseUrl(String),
    #[error(
        "Okta org URL `{0}` is not on an Okta domain ({domains}); use the org's Okta domain, like \
         https://example.okta.com (Admin Console, the Okta domain in the account menu). A custom \
         domain cannot be used: Okta names the partner event source after the org's subdomain \
         on its Okta domain",
        domains = OKTA_DOMAINS.join(", ")
    )]
    NotAnOktaDomain(String),
}

/// The domains Okta serves orgs on (commercial, preview, EMEA cell, US government cells). An
/// org's partner event source is named after its first label on one of these
/// (`aws.partner/okta.com/<subdomain>/<event source name>`), so no other host can be an org URL
/// here.
pub const OKTA_DOMAINS: [&str; 5] = [
    "okta.com",
    "oktapreview.com",
    "okta-emea.com",
    "okta-gov.com",
    "okta.mil",
];

impl OrgUrl {
    /// Reads an org URL. The admin console's host (`example-admin.okta.com`), which people copy
    /// from their browser, is read as the org it belongs to (`example.okta.com`).
    pub fn parse(text: &str) -> Result<Self, OrgUrlError> {
        let mut url = Url::parse(text.trim())
            .map_err(|error| OrgUrlError::Unparseable(text.into(), error))?;
        let bare = url.scheme() == "https"
            && url.host_str().is_some()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        if !bare {
            return Err(OrgUrlError::NotABaseUrl(text.into()));
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        let Some((first, domain)) = host
            .split_once('.')
            .filter(|(first, domain)| !first.is_empty() && OKTA_DOMAINS.contains(domain))
        else {
            return Err(OrgUrlError::NotAnOktaDomain(text.into()));
        };
        let org = first.strip_suffix("-admin").unwrap_or(first);
        if org.is_empty() {
            return Err(OrgUrlError::NotAnOktaDomain(text.into()));
        }
        if org != first && url.set_host(Some(&format!("{org}.{domain}"))).is_err() {
            return Err(OrgUrlError::NotABaseUrl(text.into()));
        }
        Ok(Self(url))
    }

    /// The org's host, `example.okta.com`.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The org's subdomain, the first label of its host (`example` for `example.okta.com`): the
    /// name Okta uses for the org in partner event source names.
    pub fn subdomain(&self) -> &str {
        self.host().split('.').next().unwrap_or_default()
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The admin console host: Okta serves it on the org's first label plus `-admin`
    /// (`example.okta.com` → `example-admin.okta.com`).
    pub fn admin_host(&self) -> String {
        let host = self.host();
        let (first, rest) = host.split_once('.').unwrap_or((host, ""));
        format!("{first}-admin.{rest}")
    }

    /// A link that opens the admin System Log searching for one event, over the minute around
    /// the time it was published.
    pub fn system_log_url(&self, uuid: &str, published: DateTime<Utc>) -> String {
        let window = TimeDelta::minutes(1);
        // `published` comes from the event: chrono accepts years up to ±262,143, where a minute
        // more overflows; the link's window clamps instead.
        let from = saturating_time::shift(published, -window)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let to = saturating_time::shift(published, window)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        // Written out rather than through `Url::set_host` and `query_pairs_mut`, which parse
        // the whole URL again: this runs for every event relayed.
        let mut link = format!("{}://{}", self.0.scheme(), self.admin_host());
        if let Some(port) = self.0.port() {
            link.push_str(&format!(":{port}"));
        }
        link.push_str("/report/system_log_2?");
        link.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .append_pair("search", uuid)
                .append_pair("fromTime", &from)
                .append_pair("toTime", &to)
                .finish(),
        );
        link
    }
}

impl fmt::Display for OrgUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_bare_https_org_url() {
        let org = OrgUrl::parse("https://example.okta.com").unwrap();
        assert_eq!(org.host(), "example.okta.com");
        assert_eq!(org.to_string(), "https://example.okta.com");
        assert_eq!(org.admin_host(), "example-admin.okta.com");
        assert_eq!(
            OrgUrl::parse("https://acme-admin.oktapreview.com/")
                .unwrap()
                .admin_host(),
            "acme-admin.oktapreview.com"
        );
    }

    #[test]
    fn the_admin_host_is_read_as_its_org() {
        let org = OrgUrl::parse("https://acme-admin.okta.com").unwrap();
        assert_eq!((org.host(), org.subdomain()), ("acme.okta.com", "acme"));
        assert_eq!(org.to_string(), "https://acme.okta.com");
        let org = OrgUrl::parse("https://ACME-Admin.Okta-EMEA.com/").unwrap();
        assert_eq!(org.host(), "acme.okta-emea.com");
    }

    #[test]
    fn hosts_that_cannot_be_an_org_are_refused_naming_the_right_form() {
        for bad in [
            "https://login.acme.com",
            "https://okta.com",
            "https://acme.okta.com.evil.example",
            "https://-admin.okta.com",
            "https://acme.workflows.okta.com",
            "https://127.0.0.1",
        ] {
            let error = OrgUrl::parse(bad).unwrap_err();
            assert!(
                matches!(error, OrgUrlError::NotAnOktaDomain(_)),
                "{bad}: {error}"
            );
            assert!(
                error.to_string().contains("https://example.okta.com"),
                "{error}"
            );
        }
    }

    #[test]
    fn rejects_http_paths_and_garbage_with_the_expected_form() {
        for bad in [
            "http://example.okta.com",
            "https://example.okta.com/app",
            "example.okta.com",
            "https://example.okta.com?x=1",
        ] {
            let error = OrgUrl::parse(bad).unwrap_err().to_string();
            assert!(error.contains("https://example.okta.com"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_link_for_an_event_at_the_end_of_time_does_not_panic() {
        let org = OrgUrl::parse("https://example.okta.com").unwrap();
        for published in ["+262142-12-31T23:59:59Z", "-262143-01-01T00:00:30Z"] {
            let link = org.system_log_url("u", published.parse().unwrap());
            assert!(link.contains("search=u"), "{link}");
        }
    }

    #[test]
    fn system_log_link_searches_the_uuid_around_its_time() {
        let org = OrgUrl::parse("https://example.okta.com").unwrap();
        let published = "2026-11-24T09:15:02.512Z".parse().unwrap();
        assert_eq!(
            org.system_log_url("abc-123", published),
            "https://example-admin.okta.com/report/system_log_2?search=abc-123&fromTime=2026-11-24T09%3A14%3A02Z&toTime=2026-11-24T09%3A16%3A02Z"
        );
        // A uuid is the event's: whatever it holds stays inside the query value.
        let odd = org.system_log_url("a b&c=d/é#", published);
        let link = Url::parse(&odd).unwrap();
        assert_eq!(link.host_str(), Some("example-admin.okta.com"));
        assert_eq!(link.path(), "/report/system_log_2");
        let pairs: Vec<(String, String)> = link.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("search".into(), "a b&c=d/é#".into()));
        assert_eq!(link.fragment(), None);
    }
}
