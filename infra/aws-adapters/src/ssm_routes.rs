use std::sync::Arc;
use std::time::Duration;

use relay_core::{LoadOptions, RouteTable, RoutesSnapshot, RoutesSource, RoutesSourceError};

use crate::describe;
use crate::ttl_cache::TtlCache;

/// The route table from an SSM parameter (String or SecureString), re-read after `ttl`.
pub struct SsmRoutes {
    client: aws_sdk_ssm::Client,
    parameter: String,
    options: LoadOptions,
    cache: TtlCache<(), Arc<RouteTable>>,
}

impl SsmRoutes {
    pub fn new(
        client: aws_sdk_ssm::Client,
        parameter: String,
        ttl: Duration,
        options: LoadOptions,
    ) -> Self {
        Self {
            client,
            parameter,
            options,
            cache: TtlCache::new(ttl),
        }
    }

    async fn load(&self) -> Result<RouteTable, RoutesSourceError> {
        let origin = format!("parameter {}", self.parameter);
        let output = self
            .client
            .get_parameter()
            .name(&self.parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| RoutesSourceError::Unreadable {
                origin: origin.clone(),
                reason: describe(&error),
            })?;
        let text = output
            .parameter
            .and_then(|parameter| parameter.value)
            .unwrap_or_default();
        RouteTable::from_json(&text, self.options.clone())
            .map_err(|error| RoutesSourceError::Invalid { origin, error })
    }
}

impl RoutesSource for SsmRoutes {
    async fn current(&self) -> Result<RoutesSnapshot, RoutesSourceError> {
        if let Some(table) = self.cache.fresh(&()) {
            return Ok(RoutesSnapshot { table, stale: None });
        }
        match self.load().await {
            Ok(table) => {
                let table = Arc::new(table);
                self.cache.put((), table.clone());
                tracing::info!(parameter = %self.parameter, routes = table.routes().len(), "loaded routes");
                Ok(RoutesSnapshot { table, stale: None })
            }
            Err(error) => match self.cache.any(&()) {
                Some(table) => {
                    // Keep serving the last good table, and look again after another TTL
                    // rather than on every event.
                    self.cache.put((), table.clone());
                    Ok(RoutesSnapshot {
                        table,
                        stale: Some(error.to_string()),
                    })
                }
                None => Err(error),
            },
        }
    }
}
