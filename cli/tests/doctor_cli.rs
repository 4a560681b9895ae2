#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! `okta-relay doctor --stack NAME` against an okta-relay stack in moto's CloudFormation, the
//! path provisioned by `okta-relay provision apply --stack`, and the fake Okta: a healthy path
//! exits 0; each broken step is named FAIL (or WARN) with its fix, and any FAIL exits 1.

use std::process::Command;

use okta_relay_e2e::fake_okta::FakeOkta;
use okta_relay_e2e::moto::MotoServer;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const TOKEN: &str = "00doctor-okta-token-not-for-output";
const CLIENT_TOKEN: &str = "wf-doctor-client-token-0a1b";
const STACK: &str = "okta-relay-doc";
const SOURCE: &str = "aws.partner/okta.com/example/okta-relay";

struct World {
    moto: MotoServer,
    okta: FakeOkta,
    ssm: aws_sdk_ssm::Client,
    eventbridge: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
}

impl World {
    async fn start() -> Self {
        let moto = MotoServer::start().unwrap();
        let aws = moto.sdk_config().await;
        let okta = FakeOkta::start(TOKEN, Some(aws.clone())).await.unwrap();
        okta_relay_e2e::moto::create_okta_relay_stack(&aws, STACK)
            .await
            .unwrap();
        let ssm = aws_sdk_ssm::Client::new(&aws);
        for (name, value) in [
            ("/okta-relay/okta-api-token", TOKEN),
            ("/okta-relay/workflows/sessions", CLIENT_TOKEN),
        ] {
            okta_relay_e2e::moto::put_parameter(&ssm, name, value, true)
                .await
                .unwrap();
        }
        let world = Self {
            eventbridge: aws_sdk_eventbridge::Client::new(&aws),
            sqs: aws_sdk_sqs::Client::new(&aws),
            moto,
            okta,
            ssm,
        };
        world
            .routes("http://127.0.0.1:9/api/flo/sessions/invoke")
            .await;
        let (code, applied) = world.run(&["provision", "apply", "--stack", STACK]).await;
        assert_eq!(code, 0, "{applied}");
        world
    }

    /// One route, to `endpoint`, with its client token in SSM.
    async fn routes(&self, endpoint: &str) {
        let routes = json!({"version": 1, "routes": [
            {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
             "endpoint": endpoint,
             "auth": {"scheme": "header", "tokenParameter": "/okta-relay/workflows/sessions"}}]});
        okta_relay_e2e::moto::put_parameter(
            &self.ssm,
            "/okta-relay/routes",
            &routes.to_string(),
            false,
        )
        .await
        .unwrap();
    }

    async fn run(&self, args: &[&str]) -> (i32, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_okta-relay"));
        command
            .args(args)
            .env_remove("OKTA_API_TOKEN")
            .env("OKTA_API_BASE_URL", self.okta.base_url())
            .envs(self.moto.process_env());
        let ran = okta_relay_e2e::command::run(command, &[TOKEN, CLIENT_TOKEN])
            .await
            .unwrap();
        (ran.code, ran.text())
    }

    /// The doctor's checks, by step, and its exit code.
    async fn doctor(&self, extra: &[&str]) -> (i32, Vec<Value>) {
        let mut args = vec![
            "doctor",
            "--stack",
            STACK,
            "--output",
            "json",
            "--allow-http-localhost",
        ];
        args.extend_from_slice(extra);
        let (code, output) = self.run(&args).await;
        let checks: Vec<Value> =
            serde_json::from_str(&output).unwrap_or_else(|error| panic!("{error}: {output}"));
        (code, checks)
    }
}

fn step<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|check| check["step"].as_str().unwrap_or_default().starts_with(name))
        .unwrap_or_else(|| panic!("no step {name}: {checks:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_path_passes_and_each_broken_step_is_named_with_its_fix() {
    let world = World::start().await;
    let (code, checks) = world.doctor(&[]).await;
    assert_eq!(code, 0, "{checks:#?}");
    for name in [
        "Okta log stream",
        "Partner event source",
        "Event bus",
        "Rule and target",
        "Inbox",
        "Dead-letter queue",
        "Routes",
        "Client token /okta-relay/workflows/sessions",
    ] {
        assert_eq!(step(&checks, name)["verdict"], "ok", "{name}: {checks:#?}");
    }
    assert_eq!(step(&checks, "Endpoint 127.0.0.1:9")["verdict"], "warn");
    let (_, table) = world
        .run(&["doctor", "--stack", STACK, "--allow-http-localhost"])
        .await;
    assert!(table.contains("events can flow end to end"), "{table}");

    // A letter waits: a warning with the redrive command, events still flow.
    let queue = world
        .sqs
        .get_queue_url()
        .queue_name(format!("{STACK}-dlq"))
        .send()
        .await
        .unwrap();
    world
        .sqs
        .send_message()
        .queue_url(queue.queue_url().unwrap())
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let (code, checks) = world.doctor(&[]).await;
    assert_eq!(code, 0);
    let letters = step(&checks, "Dead-letter queue");
    assert_eq!(letters["verdict"], "warn");
    assert!(
        letters["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("okta-relay redrive --stack {STACK}"))
    );

    // An https endpoint whose host speaks no TLS.
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = plain.local_addr().unwrap().port();
    let serve = tokio::spawn(async move {
        while let Ok((mut socket, _)) = plain.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    world
        .routes(&format!("https://127.0.0.1:{port}/api/flo/sessions/invoke"))
        .await;
    let (code, checks) = world.doctor(&["--allow-endpoint-host", "127.0.0.1"]).await;
    assert_eq!(code, 1);
    let endpoint = step(&checks, &format!("Endpoint 127.0.0.1:{port}"));
    assert_eq!(endpoint["verdict"], "fail", "{endpoint}");
    assert!(
        endpoint["fix"]
            .as_str()
            .unwrap()
            .contains("valid certificate"),
        "{endpoint}"
    );
    serve.abort();

    // The client token is gone; the routes are broken.
    world
        .ssm
        .delete_parameter()
        .name("/okta-relay/workflows/sessions")
        .send()
        .await
        .unwrap();
    world
        .routes("http://127.0.0.1:9/api/flo/sessions/invoke")
        .await;
    let (code, checks) = world.doctor(&[]).await;
    assert_eq!(code, 1);
    let token = step(&checks, "Client token");
    assert_eq!(token["verdict"], "fail");
    assert!(
        token["fix"]
            .as_str()
            .unwrap()
            .contains("put the flow's client token"),
        "{token}"
    );
    okta_relay_e2e::moto::put_parameter(&world.ssm, "/okta-relay/routes", "{not json", false)
        .await
        .unwrap();
    let (_, checks) = world.doctor(&[]).await;
    let routes = step(&checks, "Routes");
    assert_eq!(routes["verdict"], "fail");
    assert!(
        routes["fix"]
            .as_str()
            .unwrap()
            .contains("routes.schema.json"),
        "{routes}"
    );

    // The rule is disabled, then the bus deleted behind the stack's back.
    world
        .eventbridge
        .disable_rule()
        .name("okta-relay")
        .event_bus_name(SOURCE)
        .send()
        .await
        .unwrap();
    let (_, checks) = world.doctor(&[]).await;
    let rule = step(&checks, "Rule and target");
    assert_eq!(rule["verdict"], "fail");
    assert!(
        rule["fix"].as_str().unwrap().contains("enable it"),
        "{rule}"
    );
    okta_relay_e2e::moto::delete_partner_path(&world.eventbridge, SOURCE, "okta-relay")
        .await
        .unwrap();
    let (_, checks) = world.doctor(&[]).await;
    for name in ["Partner event source", "Event bus"] {
        let check = step(&checks, name);
        assert_eq!(check["verdict"], "fail", "{check}");
        assert!(
            check["fix"].as_str().unwrap().contains("update the stack"),
            "{check}"
        );
    }

    // Okta deactivates the stream; then the Okta API token is revoked.
    world.okta.deactivate_out_of_band("okta-relay");
    let (_, checks) = world.doctor(&[]).await;
    let stream = step(&checks, "Okta log stream");
    assert_eq!(stream["verdict"], "fail");
    assert!(
        stream["fix"].as_str().unwrap().contains("activate"),
        "{stream}"
    );
    okta_relay_e2e::moto::put_parameter(
        &world.ssm,
        "/okta-relay/okta-api-token",
        "00revoked",
        true,
    )
    .await
    .unwrap();
    let (code, checks) = world.doctor(&[]).await;
    assert_eq!(code, 1);
    let okta = step(&checks, "Okta API");
    assert_eq!(okta["verdict"], "fail");
    assert!(
        okta["fix"]
            .as_str()
            .unwrap()
            .contains("/okta-relay/okta-api-token"),
        "{okta}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oauth_route_client_is_checked_by_getting_a_token_and_never_invoking_the_flow() {
    use okta_relay_e2e::authorization_server::{ServiceApp, rsa_pem, thumbprint};
    let world = World::start().await;
    let pem = rsa_pem().unwrap();
    okta_relay_e2e::moto::put_parameter(&world.ssm, "/okta-relay/workflows/flows-key", &pem, true)
        .await
        .unwrap();
    let routes = json!({"version": 1, "routes": [
        {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
         "endpoint": "http://127.0.0.1:9/api/flo/sessions/invoke",
         "auth": {"scheme": "oauth2", "clientId": "0oa-doctor-flows",
                  "privateKeyParameter": "/okta-relay/workflows/flows-key"}}]});
    okta_relay_e2e::moto::put_parameter(
        &world.ssm,
        "/okta-relay/routes",
        &routes.to_string(),
        false,
    )
    .await
    .unwrap();

    // Not registered in Okta yet: a FAIL naming the fix.
    let (code, checks) = world.doctor(&[]).await;
    assert_eq!(code, 1, "{checks:#?}");
    let client = step(&checks, "OAuth client 0oa-doctor-flows");
    assert_eq!(client["verdict"], "fail", "{client}");
    assert!(
        client["detail"]
            .as_str()
            .unwrap()
            .contains("Invalid value for 'client_id' parameter."),
        "{client}"
    );
    assert!(
        client["fix"]
            .as_str()
            .unwrap()
            .contains("okta-relay auth jwks"),
        "{client}"
    );

    // Registered with the key's public half: a token is issued, and nothing was invoked.
    let (code, jwks) = world
        .run(&[
            "auth",
            "jwks",
            "--private-key-parameter",
            "/okta-relay/workflows/flows-key",
        ])
        .await;
    assert_eq!(code, 0, "{jwks}");
    let jwk = serde_json::from_str::<Value>(&jwks).unwrap()["keys"][0].clone();
    assert_eq!(jwk["kid"], thumbprint(&jwk).as_str());
    world.okta.authorization_server().register(
        "0oa-doctor-flows",
        ServiceApp {
            jwks: vec![jwk],
            granted_scopes: vec!["okta.workflows.invoke.manage".into()],
            require_dpop: false,
            admin_role: None,
        },
    );
    let (_, checks) = world.doctor(&[]).await;
    assert_eq!(
        step(&checks, "OAuth client 0oa-doctor-flows")["verdict"],
        "ok",
        "{checks:#?}"
    );
    assert_eq!(
        world
            .okta
            .authorization_server()
            .counts("0oa-doctor-flows")
            .issued,
        1
    );
    let pem_line = pem.lines().nth(2).unwrap();
    assert!(!jwks.contains(pem_line));
}
