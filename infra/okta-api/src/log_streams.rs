//! The Log Streams API (`/api/v1/logStreams`), and the provisioner's port over it.

use okta::{LogStream, LogStreamRequest};
use provisioning::{LogStreams, PortError};
use reqwest::Method;

use crate::client::OktaClient;
use crate::error::OktaError;

/// Okta's largest page for log streams.
const PAGE_SIZE: &str = "200";

impl OktaClient {
    /// Every `aws_eventbridge` log stream, all pages.
    /// Every log stream in the org, of every type: names are unique across types, and the
    /// org's limit of two streams counts them all.
    pub async fn list_log_streams(&self) -> Result<Vec<LogStream>, OktaError> {
        let mut url = self.url("/api/v1/logStreams");
        url.query_pairs_mut().append_pair("limit", PAGE_SIZE);
        self.list_all(url).await
    }

    pub async fn get_log_stream(&self, id: &str) -> Result<Option<LogStream>, OktaError> {
        match self.json(Method::GET, self.stream_url(id, ""), None).await {
            Ok((stream, _)) => Ok(Some(stream)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn create_log_stream(
        &self,
        request: &LogStreamRequest,
    ) -> Result<LogStream, OktaError> {
        let url = self.url("/api/v1/logStreams");
        Ok(self.json(Method::POST, url, Some(body(request))).await?.0)
    }

    pub async fn replace_log_stream(
        &self,
        id: &str,
        request: &LogStreamRequest,
    ) -> Result<LogStream, OktaError> {
        let url = self.stream_url(id, "");
        Ok(self.json(Method::PUT, url, Some(body(request))).await?.0)
    }

    pub async fn activate_log_stream(&self, id: &str) -> Result<LogStream, OktaError> {
        let url = self.stream_url(id, "/lifecycle/activate");
        Ok(self.json(Method::POST, url, None).await?.0)
    }

    pub async fn deactivate_log_stream(&self, id: &str) -> Result<LogStream, OktaError> {
        let url = self.stream_url(id, "/lifecycle/deactivate");
        Ok(self.json(Method::POST, url, None).await?.0)
    }

    /// Deletes the stream; `Ok(false)` when it was already gone.
    pub async fn delete_log_stream(&self, id: &str) -> Result<bool, OktaError> {
        match self
            .call(Method::DELETE, self.stream_url(id, ""), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.is_not_found() => Ok(false),
            Err(error) => Err(error),
        }
    }

    fn stream_url(&self, id: &str, suffix: &str) -> reqwest::Url {
        let mut url = self.url("/api/v1/logStreams");
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(id);
        }
        let path = format!("{}{suffix}", url.path());
        url.set_path(&path);
        url
    }
}

fn body(request: &LogStreamRequest) -> Vec<u8> {
    serde_json::to_vec(request).unwrap_or_default()
}

impl LogStreams for OktaClient {
    async fn list(&self) -> Result<Vec<LogStream>, PortError> {
        Ok(self.list_log_streams().await?)
    }

    async fn create(&self, request: &LogStreamRequest) -> Result<LogStream, PortError> {
        Ok(self.create_log_stream(request).await?)
    }

    async fn replace(&self, id: &str, request: &LogStreamRequest) -> Result<LogStream, PortError> {
        Ok(self.replace_log_stream(id, request).await?)
    }

    async fn activate(&self, id: &str) -> Result<LogStream, PortError> {
        Ok(self.activate_log_stream(id).await?)
    }

    async fn deactivate(&self, id: &str) -> Result<LogStream, PortError> {
        Ok(self.deactivate_log_stream(id).await?)
    }

    async fn delete(&self, id: &str) -> Result<(), PortError> {
        self.delete_log_stream(id).await?;
        Ok(())
    }
}
