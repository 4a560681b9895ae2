//! The name of the EventBridge partner event source Okta streams into:
//! `aws.partner/okta.com/<org subdomain>/<event source name>`.

use std::fmt;

use crate::OrgUrl;
use crate::log_stream::is_event_source_name;

const PREFIX: &str = "aws.partner/okta.com/";

/// A parsed Okta partner event source name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerEventSource {
    org_subdomain: String,
    event_source_name: String,
}

impl PartnerEventSource {
    /// Reads an EventBridge `source`; `None` when it is not an Okta partner event source.
    pub fn parse(source: &str) -> Option<Self> {
        let (org_subdomain, event_source_name) = source.strip_prefix(PREFIX)?.split_once('/')?;
        let valid = !org_subdomain.is_empty() && is_event_source_name(event_source_name);
        valid.then(|| Self {
            org_subdomain: org_subdomain.into(),
            event_source_name: event_source_name.into(),
        })
    }

    /// The source Okta creates for a log stream of `org` with this `eventSourceName`; `None`
    /// when the name breaks Okta's rule.
    pub fn for_stream(org: &OrgUrl, event_source_name: &str) -> Option<Self> {
        is_event_source_name(event_source_name).then(|| Self {
            org_subdomain: org.subdomain().into(),
            event_source_name: event_source_name.into(),
        })
    }

    pub fn org_subdomain(&self) -> &str {
        &self.org_subdomain
    }

    pub fn event_source_name(&self) -> &str {
        &self.event_source_name
    }

    /// The org this source belongs to, assuming the `okta.com` domain the partner name carries.
    /// Orgs on other domains (oktapreview.com, okta-emea.com) should configure their org URL.
    pub fn org_url(&self) -> Option<OrgUrl> {
        OrgUrl::parse(&format!("https://{}.okta.com", self.org_subdomain)).ok()
    }
}

impl fmt::Display for PartnerEventSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{PREFIX}{}/{}",
            self.org_subdomain, self.event_source_name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_an_okta_source() {
        let source = PartnerEventSource::parse("aws.partner/okta.com/example/okta-relay").unwrap();
        assert_eq!(source.org_subdomain(), "example");
        assert_eq!(source.event_source_name(), "okta-relay");
        assert_eq!(
            source.to_string(),
            "aws.partner/okta.com/example/okta-relay"
        );
        assert_eq!(source.org_url().unwrap().host(), "example.okta.com");
    }

    #[test]
    fn rejects_other_sources_and_bad_names() {
        for source in [
            "aws.events",
            "aws.partner/other.com/example/x",
            "aws.partner/okta.com/example",
            "aws.partner/okta.com//x",
            "aws.partner/okta.com/example/has space",
            "aws.partner/okta.com/example/a/b",
        ] {
            assert!(PartnerEventSource::parse(source).is_none(), "{source}");
        }
        let long = format!("aws.partner/okta.com/example/{}", "a".repeat(76));
        assert!(PartnerEventSource::parse(&long).is_none());
    }
}
