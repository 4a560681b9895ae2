#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! `okta-relay auth jwks` against moto's KMS: the JWK set to paste into the Okta service app, its
//! `kid` the key's RFC 7638 thumbprint; a PEM in SSM gives its public half and never its private
//! one.

use std::process::Command;

use okta_relay_e2e::authorization_server::{rsa_pem, thumbprint};
use okta_relay_e2e::moto::MotoServer;
use serde_json::Value;

async fn jwks(moto: &MotoServer, args: &[&str], secrets: &[&str]) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_okta-relay"));
    command
        .args(["auth", "jwks"])
        .args(args)
        .envs(moto.process_env());
    let ran = okta_relay_e2e::command::run(command, secrets)
        .await
        .unwrap();
    assert_eq!(ran.code, 0, "{}", ran.text());
    serde_json::from_str(&ran.stdout).unwrap()
}

#[tokio::test]
async fn prints_the_public_jwk_of_a_kms_key_and_of_a_pem() {
    let moto = MotoServer::start().unwrap();
    let aws = moto.sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&aws);
    let key_id = okta_relay_e2e::moto::create_signing_key(&kms)
        .await
        .unwrap();
    let set = jwks(&moto, &["--signing-key", &key_id], &[]).await;
    let jwk = &set["keys"][0];
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["kid"], thumbprint(jwk).as_str());
    assert!(jwk.get("d").is_none());

    let pem = rsa_pem().unwrap();
    let ssm = aws_sdk_ssm::Client::new(&aws);
    ssm.put_parameter()
        .name("/okta-relay/oauth/key")
        .value(&pem)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let set = jwks(
        &moto,
        &["--private-key-parameter", "/okta-relay/oauth/key"],
        &[&body[..64]],
    )
    .await;
    assert_eq!(set["keys"][0]["kty"], "RSA");
    assert!(set["keys"][0].get("d").is_none());
}
