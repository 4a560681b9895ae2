//! `okta-relay auth jwks`: the public key okta-relay signs OAuth client assertions with, as a JWK
//! set to paste into the Okta API service app ("Public key / Private key" > Add key > paste).
//! The private key is never read here: a KMS key's public half comes from `GetPublicKey`.

use std::process::ExitCode;

use okta_oauth::{AssertionKey, KmsKey, PemKey};
use secrecy::ExposeSecret;

use crate::stack::{StackArgs, StackValue, required};

#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Print the JWK set of the key that signs client assertions.
    Jwks(JwksArgs),
}

#[derive(Debug, clap::Args)]
pub struct JwksArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// The KMS signing key (id, ARN or alias; default: the stack's OAuthSigningKeyArn output).
    #[arg(long, value_name = "KEY", conflicts_with = "private_key_parameter")]
    signing_key: Option<String>,
    /// An SSM SecureString (or a Secrets Manager secret's ARN) holding a PEM private key instead
    /// (its public half is printed).
    #[arg(long, value_name = "NAME")]
    private_key_parameter: Option<String>,
}

impl AuthCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Self::Jwks(args) => jwks(args).await,
        }
    }
}

async fn jwks(mut args: JwksArgs) -> anyhow::Result<ExitCode> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let key = match args.private_key_parameter.take() {
        Some(parameter) => {
            let pem = aws_adapters::SecretReader::new(&aws)
                .read(&parameter, "the Okta OAuth private key")
                .await?;
            AssertionKey::Pem(PemKey::parse(
                pem.expose_secret().as_bytes(),
                relay_core::TokenSource::named(&parameter).to_string(),
            )?)
        }
        None => {
            let stack = args.stack.describe(&aws).await?;
            let key_id = required(
                args.signing_key.take(),
                "--signing-key",
                stack.as_ref(),
                StackValue::Output("OAuthSigningKeyArn"),
            )?;
            AssertionKey::Kms(KmsKey::new(aws_sdk_kms::Client::new(&aws), key_id))
        }
    };
    let jwk = key.public_jwk().await?;
    let set = serde_json::json!({"keys": [jwk.published()]});
    println!("{}", serde_json::to_string_pretty(&set)?);
    Ok(ExitCode::SUCCESS)
}
