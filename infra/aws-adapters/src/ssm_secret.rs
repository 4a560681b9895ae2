//! Single SSM reads, for values a command or function needs once: the Okta API token (a
//! SecureString, never in an error) and a route table.

use secrecy::SecretString;

use crate::describe;

/// Reads (and decrypts) `name`; `what` names the value in errors ("the Okta API token").
pub async fn read_parameter(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    what: &str,
) -> Result<String, String> {
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
        .map(str::to_string)
        .ok_or_else(|| format!("SSM parameter {name} is empty: store {what} in it"))
}

/// [`read_parameter`] for a secret: the value is only ever held as a [`SecretString`].
pub async fn read_secret(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    what: &str,
) -> Result<SecretString, String> {
    read_parameter(ssm, name, what)
        .await
        .map(SecretString::from)
}
