#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The adapters against moto's server: SSM routes with TTL and fallback, SecureString tokens,
//! dead letters in SQS, the idempotency store in DynamoDB.

use std::time::Duration;

use aws_adapters::{SqsDeadLetters, SsmRoutes, SsmTokens};
use aws_sdk_ssm::types::ParameterType;
use okta_relay_e2e::moto::MotoServer;
use relay_core::tokens::TokenResolver;
use relay_core::{DeadLetter, DeadLetterSink, LoadOptions, RoutesSource, TokenSource};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

fn routes(names: &[&str]) -> String {
    let routes: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({"name": name, "pattern": {"detail": {"eventType": [name]}},
                   "endpoint": "https://example.workflows.okta.com/api/flo/x/invoke",
                   "auth": {"tokenParameter": format!("/okta-relay/tokens/{name}")}})
        })
        .collect();
    json!({"version": 1, "routes": routes}).to_string()
}

async fn put(ssm: &aws_sdk_ssm::Client, name: &str, value: &str, kind: ParameterType) {
    let secure = kind == ParameterType::SecureString;
    okta_relay_e2e::moto::put_parameter(ssm, name, value, secure)
        .await
        .unwrap();
}

#[tokio::test]
async fn routes_follow_the_parameter_after_the_ttl_and_survive_a_bad_update() {
    let moto = MotoServer::start().unwrap();
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    put(
        &ssm,
        "/okta-relay/routes",
        &routes(&["one"]),
        ParameterType::String,
    )
    .await;
    let source = SsmRoutes::new(
        ssm.clone(),
        "/okta-relay/routes".into(),
        Duration::from_millis(300),
        LoadOptions::default(),
    );

    assert_eq!(source.current().await.unwrap().table.routes().len(), 1);
    put(
        &ssm,
        "/okta-relay/routes",
        &routes(&["one", "two"]),
        ParameterType::String,
    )
    .await;
    assert_eq!(
        source.current().await.unwrap().table.routes().len(),
        1,
        "cached within the TTL"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        source.current().await.unwrap().table.routes().len(),
        2,
        "re-read after the TTL"
    );

    put(
        &ssm,
        "/okta-relay/routes",
        r#"{"version": 1, "routes": [{"name": "x"}]}"#,
        ParameterType::String,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    let snapshot = source.current().await.unwrap();
    assert_eq!(
        snapshot.table.routes().len(),
        2,
        "the last good table stays in use"
    );
    let stale = snapshot.stale.unwrap();
    assert!(
        stale.starts_with("routes parameter /okta-relay/routes: routes are not valid JSON"),
        "{stale}"
    );
}

#[tokio::test]
async fn missing_routes_parameter_is_an_error_naming_it() {
    let moto = MotoServer::start().unwrap();
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    let source = SsmRoutes::new(
        ssm,
        "/okta-relay/absent".into(),
        Duration::from_secs(60),
        LoadOptions::default(),
    );
    let error = source.current().await.unwrap_err().to_string();
    assert!(
        error.starts_with("routes parameter /okta-relay/absent: could not read"),
        "{error}"
    );
    assert!(error.contains("ParameterNotFound"), "{error}");
}

#[tokio::test]
async fn tokens_come_from_secure_strings_and_missing_ones_say_which() {
    let moto = MotoServer::start().unwrap();
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
    put(
        &ssm,
        "/okta-relay/tokens/one",
        "secret-token-1",
        ParameterType::SecureString,
    )
    .await;
    let tokens = SsmTokens::new(ssm, Duration::from_secs(60));

    let token = tokens
        .token(&TokenSource::SsmParameter("/okta-relay/tokens/one".into()))
        .await
        .unwrap();
    assert_eq!(token.expose_secret(), "secret-token-1");
    let error = tokens
        .token(&TokenSource::SsmParameter("/okta-relay/tokens/none".into()))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("could not read client token SSM parameter /okta-relay/tokens/none"),
        "{message}"
    );
}

#[tokio::test]
async fn secrets_manager_secrets_are_read_by_arn_within_their_prefix() {
    let moto = MotoServer::start().unwrap();
    let aws = moto.sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let create = |name: &'static str, value: &'static str| {
        let secrets = secrets.clone();
        async move {
            secrets
                .create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .unwrap()
                .arn()
                .unwrap()
                .to_owned()
        }
    };
    let flow = create("okta-relay/workflows/alerts", "secret-token-sm").await;
    let other = create("payments/api-key", "not-for-flows").await;
    let tokens = SsmTokens::new(aws_sdk_ssm::Client::new(&aws), Duration::from_secs(60))
        .with_secrets_manager(secrets.clone())
        .within(aws_adapters::TokenScope {
            under: Some("/okta-relay/workflows".into()),
            never: None,
            secrets_under: Some("okta-relay/workflows/".into()),
        });
    assert_eq!(
        TokenSource::named(&flow),
        TokenSource::SecretsManager(flow.clone())
    );
    let token = tokens.token(&TokenSource::named(&flow)).await.unwrap();
    assert_eq!(token.expose_secret(), "secret-token-sm");
    let refused = tokens
        .token(&TokenSource::named(&other))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("is not a secret named okta-relay/workflows/…"),
        "{refused}"
    );
    assert!(!refused.contains("not-for-flows"));

    // The one reader the functions use for the Okta API token reads either store.
    let reader = aws_adapters::SecretReader::new(&aws);
    let value = reader.read(&flow, "the Okta API token").await.unwrap();
    assert_eq!(value.expose_secret(), "secret-token-sm");
    let missing = format!("{}-gone", &flow[..flow.len() - 7]);
    let error = reader
        .read(&missing, "the Okta API token")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "reading the Okta API token from Secrets Manager secret {missing}"
        )),
        "{error}"
    );
}

#[tokio::test]
async fn dead_letters_arrive_as_one_message_each_with_attributes() {
    let moto = MotoServer::start().unwrap();
    let aws = moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue_url = okta_relay_e2e::moto::create_queue(&aws, "okta-relay-dlq")
        .await
        .unwrap();
    let sink = SqsDeadLetters::new(sqs.clone(), queue_url.clone());
    let now = "2026-11-25T10:00:00Z".parse().unwrap();
    let letters = [
        DeadLetter::rejected(b"not json", "payload is not JSON".into(), now),
        DeadLetter::rejected(b"[]", "array".into(), now),
    ];
    sink.send(&letters).await.unwrap();

    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(received.len(), 2);
    let body: DeadLetter = serde_json::from_str(received[0].body().unwrap()).unwrap();
    assert!(letters.contains(&body));
    let kind = received[0].message_attributes().unwrap()["kind"]
        .string_value()
        .unwrap();
    assert_eq!(kind, "bad_input");

    let broken = SqsDeadLetters::new(
        sqs,
        format!("{}/000000000000/no-such-queue", moto.endpoint()),
    );
    let error = broken.send(&letters).await.unwrap_err().to_string();
    assert!(
        error.starts_with("could not dead-letter 2 record(s) to"),
        "{error}"
    );
}

mod idempotency {
    use super::*;
    use aws_adapters::DynamoDbIdempotency;
    use relay_core::{Claim, DeliveryKey, IdempotencyStore};

    const KEY: DeliveryKey<'static> = DeliveryKey {
        route: "sessions",
        uuid: "dup-1",
    };
    const LEASE: Duration = Duration::from_secs(30);

    async fn table(moto: &MotoServer) -> aws_sdk_dynamodb::Client {
        let aws = moto.sdk_config().await;
        okta_relay_e2e::moto::create_dedup_table(&aws, "okta-relay-dedup")
            .await
            .unwrap();
        aws_sdk_dynamodb::Client::new(&aws)
    }

    fn store(client: &aws_sdk_dynamodb::Client, ttl: Duration) -> DynamoDbIdempotency {
        DynamoDbIdempotency::new(client.clone(), "okta-relay-dedup".into(), ttl)
    }

    #[tokio::test]
    async fn claim_complete_and_release_follow_the_protocol() {
        let moto = MotoServer::start().unwrap();
        let client = table(&moto).await;
        let store = store(&client, Duration::from_secs(3600));

        assert_eq!(store.claim(KEY, LEASE).await.unwrap(), Claim::Claimed);
        assert_eq!(store.claim(KEY, LEASE).await.unwrap(), Claim::InFlight);
        store.release(KEY).await.unwrap();
        assert_eq!(store.claim(KEY, LEASE).await.unwrap(), Claim::Claimed);
        store.complete(KEY).await.unwrap();
        assert_eq!(store.claim(KEY, LEASE).await.unwrap(), Claim::Delivered);
        // A late release (a slower duplicate that failed) must not erase the delivery.
        store.release(KEY).await.unwrap();
        assert_eq!(store.claim(KEY, LEASE).await.unwrap(), Claim::Delivered);
        let other_route = DeliveryKey {
            route: "audit",
            ..KEY
        };
        assert_eq!(
            store.claim(other_route, LEASE).await.unwrap(),
            Claim::Claimed
        );

        let item = client
            .get_item()
            .table_name("okta-relay-dedup")
            .key(
                "key",
                aws_sdk_dynamodb::types::AttributeValue::S("sessions#dup-1".into()),
            )
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let expires_at: u64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
        let now = chrono::Utc::now().timestamp() as u64;
        assert!(
            (now + 3590..=now + 3600).contains(&expires_at),
            "{expires_at}"
        );
    }

    #[tokio::test]
    async fn a_lapsed_lease_and_an_expired_delivery_can_be_claimed_again() {
        let moto = MotoServer::start().unwrap();
        let client = table(&moto).await;
        let store = store(&client, Duration::ZERO);

        // A holder that died mid-delivery: its lease runs out and a retry takes over.
        assert_eq!(
            store.claim(KEY, Duration::ZERO).await.unwrap(),
            Claim::Claimed
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(store.claim(KEY, LEASE).await.unwrap(), Claim::Claimed);
        // Remembered for a TTL of zero: expired at the next second, before DynamoDB deletes it.
        store.complete(KEY).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(store.claim(KEY, LEASE).await.unwrap(), Claim::Claimed);
    }

    #[tokio::test]
    async fn racing_duplicates_let_exactly_one_claim_win() {
        let moto = MotoServer::start().unwrap();
        let client = table(&moto).await;
        let store = std::sync::Arc::new(store(&client, Duration::from_secs(3600)));

        let claims = futures_util::future::join_all((0..16).map(|_| {
            let store = store.clone();
            async move { store.claim(KEY, LEASE).await.unwrap() }
        }))
        .await;

        let won = claims
            .iter()
            .filter(|claim| **claim == Claim::Claimed)
            .count();
        assert_eq!(won, 1, "{claims:?}");
    }

    #[tokio::test]
    async fn a_missing_table_is_an_error_that_names_it() {
        let moto = MotoServer::start().unwrap();
        let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
        let error = store(&client, LEASE).claim(KEY, LEASE).await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("idempotency store DynamoDB table okta-relay-dedup: "),
            "{message}"
        );
        assert!(message.contains("ResourceNotFound"), "{message}");
    }
}
