//! Single SSM reads, for values a command or function needs once: the Okta API token (a
//! SecureString, never in an error) and a route table.

use secrecy::SecretString;

use crate::describe;

/// An SSM parameter that could not be used; never holds the value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParameterError {
    /// `name` is an SSM parameter's name, or a Secrets Manager secret described as such.
    #[error("reading {what} from {}: {reason}", place(name))]
    Unreadable {
        what: String,
        name: String,
        reason: String,
    },
    #[error("{} is empty: store {what} in it", place(name))]
    Empty { what: String, name: String },
}

fn place(name: &str) -> String {
    if name.starts_with("Secrets Manager ") {
        name.to_owned()
    } else {
        format!("SSM parameter {name}")
    }
}

/// Reads (and decrypts) `name`; `what` names the value in errors ("the Okta API token").
pub async fn read_parameter(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    what: &str,
) -> Result<String, ParameterError> {
    let read = ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|error| ParameterError::Unreadable {
            what: what.to_owned(),
            name: name.to_owned(),
            reason: describe(&error),
        })?;
    read.parameter()
        .and_then(|parameter| parameter.value())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ParameterError::Empty {
            what: what.to_owned(),
            name: name.to_owned(),
        })
}

/// [`read_parameter`] for a secret: the value is only ever held as a [`SecretString`].
pub async fn read_secret(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    what: &str,
) -> Result<SecretString, ParameterError> {
    read_parameter(ssm, name, what)
        .await
        .map(SecretString::from)
}
