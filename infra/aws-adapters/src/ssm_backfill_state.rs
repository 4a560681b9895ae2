//! The watchdog's pending backfill windows, kept in one SSM String parameter (the template's
//! `BackfillStateParameter`, created as `{"gaps":[]}`) so that a window outlives a run that
//! ran out of time or failed. Only the watchdog writes it (reserved concurrency 1).

use aws_sdk_ssm::types::ParameterType;
use relay_core::backfill::PendingBackfill;

use crate::{describe, read_parameter};

pub struct SsmBackfillState {
    client: aws_sdk_ssm::Client,
    parameter: String,
}

impl SsmBackfillState {
    pub fn new(client: aws_sdk_ssm::Client, parameter: String) -> Self {
        Self { client, parameter }
    }

    pub async fn load(&self) -> Result<PendingBackfill, String> {
        let text = read_parameter(
            &self.client,
            &self.parameter,
            "the pending backfill windows",
        )
        .await?;
        serde_json::from_str(&text).map_err(|error| {
            format!(
                "SSM parameter {} does not hold backfill windows ({error}); \
                 put {{\"gaps\":[]}} in it to start over",
                self.parameter
            )
        })
    }

    pub async fn save(&self, pending: &PendingBackfill) -> Result<(), String> {
        let text = serde_json::to_string(pending).map_err(|error| error.to_string())?;
        self.client
            .put_parameter()
            .name(&self.parameter)
            .value(text)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                format!(
                    "saving the pending backfill windows to SSM parameter {}: {}",
                    self.parameter,
                    describe(&error)
                )
            })
    }
}
