//! Okta's own OpenAPI description (`tests/fixtures/okta/`, copied from `../shared/okta/`) as a
//! checker: which operations exist, and whether a request or a response honours the schemas.
//!
//! OpenAPI 3.0 schemas are JSON Schema with three twists handled here:
//! - `readOnly` properties are required in responses only, and must not be sent in requests;
//!   `writeOnly` ones (a Splunk stream's token) the other way round;
//! - `discriminator.mapping` picks the concrete schema (`aws_eventbridge` → `LogStreamAws`);
//! - `$ref`s point into `components`, so every schema is checked with the components beside it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{Value, json};

pub const CONTRACT_FILE: &str = "okta-management-logstreams-logs.openapi.yaml";

/// The fixture inside the project.
pub fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/okta")
        .join(CONTRACT_FILE)
}

/// An operation of the contract, matched from a request's method and path.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub template: String,
    spec: Value,
}

impl Operation {
    /// The OAuth 2.0 scopes the contract's `security` accepts for this operation (any one).
    pub fn oauth_scopes(&self) -> Vec<String> {
        self.spec["security"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|requirement| requirement.get("oauth2")?.as_array())
            .flatten()
            .filter_map(|scope| scope.as_str().map(str::to_owned))
            .collect()
    }
}

pub struct Contract {
    paths: Value,
    request_components: Value,
    response_components: Value,
    validators: Mutex<HashMap<(bool, String), jsonschema::Validator>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

impl Contract {
    pub fn load() -> Result<Self, String> {
        let path = fixture_path();
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let mut doc: Value = serde_yaml_ng::from_str(&text)
            .map_err(|error| format!("{} is not YAML: {error}", path.display()))?;
        // The published pattern allows one character; min/max length say 1 to 75 (see README).
        doc["components"]["schemas"]["AwsEventSourceName"]["pattern"] =
            json!("^[a-zA-Z0-9.\\-_]+$");
        let components = doc["components"].clone();
        let view = |direction: Direction| {
            let mut components = components.clone();
            if let Some(schemas) = components.get_mut("schemas") {
                let all = schemas.clone();
                if let Some(map) = schemas.as_object_mut() {
                    for schema in map.values_mut() {
                        direction_view(schema, &all, direction);
                    }
                }
            }
            components
        };
        Ok(Self {
            paths: doc["paths"].clone(),
            request_components: view(Direction::Request),
            response_components: view(Direction::Response),
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// The operation serving `method path`, if the contract has one.
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation> {
        let method = method.to_ascii_lowercase();
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.paths.as_object()?.iter().find_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    (part.starts_with('{') && !segment.is_empty()) || part == segment
                });
            let spec = item.get(&method).filter(|_| matches)?;
            Some(Operation {
                id: spec["operationId"].as_str().unwrap_or_default().into(),
                method: method.clone(),
                template: template.clone(),
                spec: spec.clone(),
            })
        })
    }

    /// Every way the request breaks the contract: unknown or ill-typed query parameters, a
    /// missing, unexpected or invalid JSON body.
    pub fn check_request(
        &self,
        operation: &Operation,
        query: &[(String, String)],
        body: &[u8],
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let parameters = self.parameters(operation);
        for (name, value) in query {
            let Some(parameter) = parameters
                .iter()
                .find(|p| p["name"] == *name && p["in"] == "query")
            else {
                problems.push(format!("query parameter `{name}` is not in the contract"));
                continue;
            };
            let schema = &parameter["schema"];
            let typed = match schema["type"].as_str() {
                Some("integer") => match value.parse::<i64>() {
                    Ok(number) => json!(number),
                    Err(_) => {
                        problems.push(format!(
                            "query parameter `{name}`=`{value}` is not an integer"
                        ));
                        continue;
                    }
                },
                _ => json!(value),
            };
            for error in self.errors(Direction::Request, schema, &typed) {
                problems.push(format!("query parameter `{name}`: {error}"));
            }
        }
        let schema = &operation.spec["requestBody"]["content"]["application/json"]["schema"];
        match (schema.is_null(), body.is_empty()) {
            (true, true) => {}
            (true, false) => {
                problems.push("a body was sent to an operation that takes none".into())
            }
            (false, true) => problems.push("the required JSON body is missing".into()),
            (false, false) => match serde_json::from_slice::<Value>(body) {
                Err(error) => problems.push(format!("the body is not JSON: {error}")),
                Ok(instance) => {
                    for error in self.errors(Direction::Request, schema, &instance) {
                        problems.push(format!("body: {error}"));
                    }
                }
            },
        }
        problems
    }

    /// Every way a response breaks the contract: an undocumented status or a body that does not
    /// match its schema. 401 and 5xx are documented by Okta for every operation, not per path,
    /// so their bodies are checked against `Error`.
    pub fn check_response(&self, operation: &Operation, status: u16, body: &[u8]) -> Vec<String> {
        let documented = &operation.spec["responses"][status.to_string()];
        let response = match documented.get("$ref").and_then(Value::as_str) {
            Some(reference) => self.response_components["responses"]
                [reference.trim_start_matches("#/components/responses/")]
            .clone(),
            None => documented.clone(),
        };
        let schema = if response.is_null() {
            if status == 401 || status >= 500 {
                json!({"$ref": "#/components/schemas/Error"})
            } else {
                return vec![format!(
                    "{} does not document status {status}",
                    operation.id
                )];
            }
        } else {
            response["content"]["application/json"]["schema"].clone()
        };
        match (schema.is_null(), body.is_empty()) {
            (true, true) => Vec::new(),
            (true, false) => vec![format!("status {status} takes no body")],
            (false, true) => vec![format!("status {status} needs a JSON body")],
            (false, false) => match serde_json::from_slice::<Value>(body) {
                Err(error) => vec![format!("the body is not JSON: {error}")],
                Ok(mut instance) => {
                    // Okta's schemas never say `nullable`, yet Okta sends nulls (its own examples
                    // are full of them): a null stands for an absent value.
                    strip_nulls(&mut instance);
                    self.errors(Direction::Response, &schema, &instance)
                        .into_iter()
                        .map(|error| format!("response {status}: {error}"))
                        .collect()
                }
            },
        }
    }

    fn parameters(&self, operation: &Operation) -> Vec<Value> {
        let mut all = Vec::new();
        let item = &self.paths[&operation.template];
        for list in [&item["parameters"], &operation.spec["parameters"]] {
            for parameter in list.as_array().into_iter().flatten() {
                let resolved = match parameter.get("$ref").and_then(Value::as_str) {
                    Some(reference) => self.response_components["parameters"]
                        [reference.trim_start_matches("#/components/parameters/")]
                    .clone(),
                    None => parameter.clone(),
                };
                all.push(resolved);
            }
        }
        all
    }

    fn errors(&self, direction: Direction, schema: &Value, instance: &Value) -> Vec<String> {
        // Arrays of discriminated objects: check each item against its concrete schema.
        if schema["type"] == "array"
            && let (Some(items), Some(reference)) =
                (instance.as_array(), schema["items"]["$ref"].as_str())
        {
            return items
                .iter()
                .enumerate()
                .flat_map(|(index, item)| {
                    self.errors_for_ref(direction, reference, item)
                        .into_iter()
                        .map(move |error| format!("[{index}] {error}"))
                })
                .collect();
        }
        match schema["$ref"].as_str() {
            Some(reference) => self.errors_for_ref(direction, reference, instance),
            None => self.errors_for_schema(direction, schema.to_string(), schema.clone(), instance),
        }
    }

    fn errors_for_ref(
        &self,
        direction: Direction,
        reference: &str,
        instance: &Value,
    ) -> Vec<String> {
        let components = self.components(direction);
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &components["schemas"][name];
        let concrete = target["discriminator"]["propertyName"]
            .as_str()
            .and_then(|property| instance[property].as_str())
            .and_then(|value| target["discriminator"]["mapping"][value].as_str())
            .unwrap_or(reference);
        self.errors_for_schema(
            direction,
            concrete.into(),
            json!({"$ref": concrete}),
            instance,
        )
    }

    fn errors_for_schema(
        &self,
        direction: Direction,
        key: String,
        schema: Value,
        instance: &Value,
    ) -> Vec<String> {
        let Ok(mut validators) = self.validators.lock() else {
            return vec!["contract validators poisoned".into()];
        };
        let cache_key = (direction == Direction::Request, key);
        if !validators.contains_key(&cache_key) {
            let mut root = schema;
            root["components"] = self.components(direction).clone();
            match jsonschema::options()
                .with_draft(jsonschema::Draft::Draft4)
                .should_validate_formats(true)
                .build(&root)
            {
                Ok(validator) => {
                    validators.insert(cache_key.clone(), validator);
                }
                Err(error) => return vec![format!("contract schema does not compile: {error}")],
            }
        }
        validators
            .get(&cache_key)
            .map(|validator| {
                validator
                    .iter_errors(instance)
                    .map(|error| format!("{} at `{}`", error, error.instance_path()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn components(&self, direction: Direction) -> &Value {
        match direction {
            Direction::Request => &self.request_components,
            Direction::Response => &self.response_components,
        }
    }
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// A schema as one direction must honour it (OpenAPI 3.0): in requests, `readOnly` properties
/// are not required and not allowed ("SHOULD NOT be sent as part of the request"); in
/// responses, `writeOnly` ones the same ("SHOULD NOT be sent as part of the response").
fn direction_view(schema: &mut Value, all: &Value, direction: Direction) {
    let (flag, refusal) = match direction {
        Direction::Request => ("readOnly", "readOnly: not accepted in requests"),
        Direction::Response => ("writeOnly", "writeOnly: never sent in responses"),
    };
    if let Some(parts) = schema.get_mut("allOf").and_then(Value::as_array_mut) {
        for part in parts {
            direction_view(part, all, direction);
        }
    }
    let one_way: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(_, property)| is_flagged(property, all, flag))
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default();
    if one_way.is_empty() {
        return;
    }
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|name| !one_way.iter().any(|r| name == r));
    }
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for name in &one_way {
            properties.insert(name.clone(), json!({"not": {}, "description": refusal}));
        }
    }
}

fn is_flagged(property: &Value, all: &Value, flag: &str) -> bool {
    if property[flag] == true {
        return true;
    }
    property["$ref"]
        .as_str()
        .map(|reference| all[reference.trim_start_matches("#/components/schemas/")][flag] == true)
        .unwrap_or(false)
}
