//! `--stack NAME`: what a deployed stack knows, so an operator types a stack name instead of queue
//! URLs, table and parameter names. One `DescribeStacks` call reads the stack's outputs and
//! parameters (template.yaml's `Outputs` and `Parameters`); a flag given on the command line
//! always wins over what the stack says.

use std::collections::HashMap;

use anyhow::Context;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct StackArgs {
    /// The deployed okta-relay stack (CloudFormation): its outputs and parameters fill every
    /// flag not given (queue URLs, table, routes and token parameters, org URL, names).
    #[arg(long, env = "OKTA_RELAY_STACK", value_name = "NAME")]
    pub stack: Option<String>,
}

/// A stack as `DescribeStacks` describes it.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    pub name: String,
    /// The stack's id (its ARN): the owner of what its provisioner made.
    pub id: String,
    outputs: HashMap<String, String>,
    parameters: HashMap<String, String>,
}

impl StackArgs {
    /// The stack, when `--stack` was given.
    pub async fn describe(&self, aws: &aws_config::SdkConfig) -> anyhow::Result<Option<Stack>> {
        let Some(name) = &self.stack else {
            return Ok(None);
        };
        let client = aws_sdk_cloudformation::Client::new(aws);
        let described = client
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .map_err(aws_sdk_cloudformation::Error::from)
            .with_context(|| {
                format!(
                    "cannot describe stack {name} (cloudformation:DescribeStacks): check the \
                     name, the region (AWS_REGION) and your credentials"
                )
            })?;
        let stack = described
            .stacks()
            .first()
            .with_context(|| format!("no stack {name} in this account and region"))?;
        Ok(Some(Stack {
            name: name.clone(),
            id: stack.stack_id().unwrap_or_default().to_string(),
            outputs: stack
                .outputs()
                .iter()
                .filter_map(|output| {
                    Some((
                        output.output_key()?.to_string(),
                        output.output_value()?.to_string(),
                    ))
                })
                .collect(),
            parameters: stack
                .parameters()
                .iter()
                .filter_map(|parameter| {
                    Some((
                        parameter.parameter_key()?.to_string(),
                        parameter.parameter_value()?.to_string(),
                    ))
                })
                .collect(),
        }))
    }
}

impl Stack {
    /// An output of the stack (template.yaml's `Outputs`).
    pub fn output(&self, key: &str) -> anyhow::Result<String> {
        self.outputs.get(key).cloned().with_context(|| {
            format!(
                "stack {} has no output {key}: it was deployed from an older template; update \
                 it, or give the value as a flag",
                self.name
            )
        })
    }

    /// A parameter of the stack (template.yaml's `Parameters`), as deployed.
    pub fn parameter(&self, key: &str) -> anyhow::Result<String> {
        self.parameters.get(key).cloned().with_context(|| {
            format!(
                "stack {} has no parameter {key}: is it an okta-relay stack?",
                self.name
            )
        })
    }
}

/// Where a value comes from when its flag is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackValue {
    Output(&'static str),
    Parameter(&'static str),
}

/// `given` when the flag was given; otherwise the stack's output or parameter; otherwise an
/// error naming the flag and the stack value that would fill it.
pub fn required(
    given: Option<String>,
    flag: &str,
    stack: Option<&Stack>,
    from: StackValue,
) -> anyhow::Result<String> {
    match (given, stack) {
        (Some(value), _) => Ok(value),
        (None, Some(stack)) => match from {
            StackValue::Output(key) => stack.output(key),
            StackValue::Parameter(key) => stack.parameter(key),
        },
        (None, None) => {
            let (kind, key) = match from {
                StackValue::Output(key) => ("output", key),
                StackValue::Parameter(key) => ("parameter", key),
            };
            anyhow::bail!(
                "{flag} is required, or --stack NAME (which reads the stack's {key} {kind})"
            )
        }
    }
}

/// `given`, else the stack's value when it has one (a conditional output may be absent: the
/// idempotency table without de-duplication), else `None`.
pub fn optional(given: Option<String>, stack: Option<&Stack>, from: StackValue) -> Option<String> {
    given.or_else(|| {
        let stack = stack?;
        let value = match from {
            StackValue::Output(key) => stack.outputs.get(key),
            StackValue::Parameter(key) => stack.parameters.get(key),
        };
        value.filter(|value| !value.is_empty()).cloned()
    })
}
