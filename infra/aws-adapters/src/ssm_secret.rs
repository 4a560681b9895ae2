//! One SecureString read, for secrets a function needs once per invocation (the Okta API token).

use secrecy::SecretString;

use crate::describe;

/// Reads and decrypts `name`; `what` names the secret in errors ("the Okta API token"). The
/// value never appears in an error.
pub async fn read_secret(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    what: &str,
) -> Result<SecretString, String> {
    let read = ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|error| {
            format!(
                "reading {what} from SSM parameter {name}: {}",
                describe(&error)
            )
        })?;
    read.parameter()
        .and_then(|parameter| parameter.value())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(|value| SecretString::from(value.to_string()))
        .ok_or_else(|| format!("SSM parameter {name} is empty: store {what} in it"))
}
