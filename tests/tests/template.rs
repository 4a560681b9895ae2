#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! `template.yaml` is wired the way the code expects: the relay's failures reach the DLQ, alarms
//! and the dashboard name metrics the functions really emit, every function logs to a group with
//! retention, IAM never grants every action, and the custom resource targets the relay.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use serde_yaml_ng::Value as Yaml;

/// The template as JSON, with CloudFormation's short tags in their long form
/// (`!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`).
fn template() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let yaml: Yaml = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    to_json(yaml)
}

fn to_json(yaml: Yaml) -> Value {
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => json!(b),
        Yaml::Number(n) => serde_json::to_value(n).unwrap(),
        Yaml::String(s) => json!(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.as_str().unwrap().to_string(), to_json(v)))
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = to_json(tagged.value);
            match (name, value) {
                ("Ref", value) => json!({ "Ref": value }),
                ("GetAtt", Value::String(path)) => {
                    let (resource, attribute) = path.split_once('.').unwrap();
                    json!({ "Fn::GetAtt": [resource, attribute] })
                }
                (name, value) => json!({ format!("Fn::{name}"): value }),
            }
        }
    }
}

fn resources(template: &Value) -> impl Iterator<Item = (&String, &Value)> {
    template["Resources"].as_object().unwrap().iter()
}

fn of_type<'a>(
    template: &'a Value,
    kind: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Value)> {
    resources(template).filter(move |(_, resource)| resource["Type"] == kind)
}

#[test]
fn what_the_relay_cannot_settle_goes_to_the_dead_letter_queue() {
    let template = template();
    let relay = &template["Resources"]["RelayFunction"]["Properties"];
    assert!(
        relay["EventInvokeConfig"].is_null(),
        "one way in: the relay is never invoked asynchronously"
    );
    assert_eq!(
        relay["Environment"]["Variables"]["DEAD_LETTER_QUEUE_URL"],
        json!({"Ref": "RelayDeadLetterQueue"})
    );
    let inbox = &template["Resources"]["InboxQueue"]["Properties"];
    assert_eq!(
        inbox["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["RelayDeadLetterQueue", "Arn"]})
    );
    assert_eq!(inbox["KmsMasterKeyId"], json!({"Ref": "RelayKey"}));
    assert_eq!(inbox["MessageRetentionPeriod"], json!(14 * 24 * 3600));
    assert_eq!(
        inbox["MaximumMessageSize"],
        json!(relay_core::inbox::MAX_MESSAGE_BYTES)
    );
    let stream = &template["Resources"]["OktaLogStream"]["Properties"];
    assert_eq!(
        stream["DeadLetterQueueArn"],
        json!({"Fn::GetAtt": ["RelayDeadLetterQueue", "Arn"]})
    );
    let dlq = &template["Resources"]["RelayDeadLetterQueue"]["Properties"];
    assert_eq!(dlq["KmsMasterKeyId"], json!({"Ref": "RelayKey"}));
}

#[test]
fn the_inbox_timeouts_batch_and_concurrency_agree() {
    let template = template();
    let relay = &template["Resources"]["RelayFunction"]["Properties"];
    let timeout = relay["Timeout"].as_u64().unwrap();
    assert_eq!(timeout, relay_wiring::RELAY_TIMEOUT.as_secs());
    assert!(
        timeout > relay_core::routes::DEFAULT_ATTEMPT_TIMEOUT.as_secs() + 5,
        "an attempt of the default timeout fits one invocation with room to settle it"
    );
    let visibility = template["Resources"]["InboxQueue"]["Properties"]["VisibilityTimeout"]
        .as_u64()
        .unwrap();
    assert!(
        visibility >= 6 * timeout,
        "AWS: the visibility timeout at least six times the function's ({visibility} < 6 x {timeout})"
    );
    let source = &relay["Events"]["Inbox"];
    assert_eq!(source["Type"], "SQS");
    let mapping = &source["Properties"];
    assert_eq!(
        mapping["Queue"],
        json!({"Fn::GetAtt": ["InboxQueue", "Arn"]})
    );
    assert_eq!(
        mapping["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(mapping["BatchSize"], json!({"Ref": "RelayBatchSize"}));
    assert_eq!(
        mapping["MaximumBatchingWindowInSeconds"],
        json!({"Ref": "RelayBatchWindowSeconds"})
    );
    // The pacer's share is 1/MAX_CONCURRENCY of each flow's rate: the mapping must never run
    // more containers than that, and reserved concurrency keeps them available.
    assert_eq!(
        mapping["ScalingConfig"]["MaximumConcurrency"],
        json!({"Ref": "RelayMaxConcurrency"})
    );
    assert_eq!(
        relay["ReservedConcurrentExecutions"],
        json!({"Ref": "RelayMaxConcurrency"})
    );
    assert_eq!(
        relay["Environment"]["Variables"]["MAX_CONCURRENCY"],
        json!({"Ref": "RelayMaxConcurrency"})
    );
    // A full batch tells the relay more is waiting (relay_core::pacing::HOLD_WHEN_FULL).
    assert_eq!(
        relay["Environment"]["Variables"]["INBOX_BATCH_SIZE"],
        json!({"Ref": "RelayBatchSize"})
    );
    let parameters = &template["Parameters"];
    assert_eq!(
        parameters["RelayMaxConcurrency"]["MinValue"],
        json!(2),
        "Lambda's smallest MaximumConcurrency"
    );
    assert!(
        parameters["RelayBatchWindowSeconds"]["Default"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(parameters["MaxEventAgeHours"]["Default"], json!(24));
    assert!(
        parameters["MaxEventAgeHours"]["MaxValue"].as_u64().unwrap() * 3600
            <= template["Resources"]["InboxQueue"]["Properties"]["MessageRetentionPeriod"]
                .as_u64()
                .unwrap(),
        "an event is dead-lettered before the inbox would expire it"
    );
}

#[test]
fn the_rule_targets_the_inbox_which_only_that_rule_may_write() {
    let template = template();
    let stream = &template["Resources"]["OktaLogStream"];
    assert_eq!(
        stream["Properties"]["ServiceToken"],
        json!({"Fn::GetAtt": ["ProvisionerFunction", "Arn"]})
    );
    assert_eq!(
        stream["Properties"]["TargetArn"],
        json!({"Fn::GetAtt": ["InboxQueue", "Arn"]})
    );
    assert!(template["Resources"]["RelayInvokedByRule"].is_null());
    let policy = &template["Resources"]["InboxQueuePolicy"]["Properties"];
    assert_eq!(policy["Queues"], json!([{"Ref": "InboxQueue"}]));
    let statement = &policy["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(statement["Action"], "sqs:SendMessage");
    assert_eq!(
        statement["Condition"]["ArnEquals"]["aws:SourceArn"],
        json!({"Fn::GetAtt": ["OktaLogStream", "RuleArn"]})
    );
    let watchdog =
        &template["Resources"]["WatchdogFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        watchdog["RULE_TARGET_ARN"],
        json!({"Fn::GetAtt": ["InboxQueue", "Arn"]})
    );
    // The properties are names the provisioner accepts (it refuses unknown ones); intrinsic
    // functions stand in for strings CloudFormation resolves.
    let mut properties = stream["Properties"].clone();
    for value in properties.as_object_mut().unwrap().values_mut() {
        let default = value["Ref"]
            .as_str()
            .map(|name| template["Parameters"][name]["Default"].clone())
            .filter(|default| !default.is_null());
        if value.is_object() {
            *value = default.unwrap_or_else(|| json!("resolved by CloudFormation"));
        }
    }
    let input: Result<provisioning::SpecInput, _> = serde_json::from_value(properties);
    assert!(input.is_ok(), "{input:?}");
}

#[test]
fn the_watchdog_timeout_matches_the_code() {
    let template = template();
    let function = &template["Resources"]["WatchdogFunction"]["Properties"];
    assert_eq!(
        function["Timeout"].as_u64(),
        Some(watchdog::TIMEOUT.as_secs())
    );
}

#[test]
fn the_provisioner_answers_before_cloudformation_stops_waiting() {
    let template = template();
    let function = &template["Resources"]["ProvisionerFunction"]["Properties"];
    assert_eq!(
        function["Timeout"].as_u64(),
        Some(provisioner::TIMEOUT.as_secs())
    );
    let service_timeout = template["Resources"]["OktaLogStream"]["Properties"]["ServiceTimeout"]
        .as_u64()
        .unwrap();
    assert!(service_timeout > provisioner::TIMEOUT.as_secs());
    let wait = template["Resources"]["OktaLogStream"]["Properties"]["PartnerSourceWaitSeconds"]
        .as_u64()
        .unwrap();
    assert!(
        wait + 60 < provisioner::TIMEOUT.as_secs(),
        "room for Okta and EventBridge calls after the wait"
    );
}

/// Metric names the functions emit in namespace `OktaRelay`.
fn emitted() -> BTreeSet<&'static str> {
    relay_core::metrics::METRICS
        .iter()
        .map(|(name, _)| *name)
        .chain([
            provisioner::custom_resource::FAILED_METRIC,
            watchdog::REACTIVATED_METRIC,
            watchdog::MISSING_METRIC,
            watchdog::BACKFILLED_METRIC,
            watchdog::BACKFILL_PENDING_METRIC,
            watchdog::DEACTIVATED_BY_PERSON_METRIC,
            watchdog::PATH_BROKEN_METRIC,
        ])
        .collect()
}

#[test]
fn alarms_watch_metrics_the_functions_emit() {
    let template = template();
    let mut watched = BTreeSet::new();
    for (name, alarm) in of_type(&template, "AWS::CloudWatch::Alarm") {
        let properties = &alarm["Properties"];
        assert_eq!(
            properties["AlarmActions"],
            json!([{"Ref": "AlarmTopic"}]),
            "{name}"
        );
        // A period without data points (a function that did not run, a metric only emitted
        // when something happens) is not an incident; except for the silence alarm, where it is
        // the incident.
        let missing = if name == "PartnerSourceSilentAlarm" {
            "breaching"
        } else {
            "notBreaching"
        };
        assert_eq!(properties["TreatMissingData"], missing, "{name}");
        if properties["Namespace"] == "OktaRelay" {
            let metric = properties["MetricName"].as_str().unwrap();
            assert!(
                emitted().contains(metric),
                "{name} watches {metric}, which nothing emits"
            );
            watched.insert(metric.to_string());
        }
    }
    for metric in [
        "DeliveryFailed",
        "ProvisionerFailed",
        watchdog::REACTIVATED_METRIC,
        watchdog::MISSING_METRIC,
        watchdog::DEACTIVATED_BY_PERSON_METRIC,
        watchdog::PATH_BROKEN_METRIC,
        watchdog::BACKFILL_PENDING_METRIC,
    ] {
        assert!(
            watched.contains(metric),
            "no alarm on {metric}: {watched:?}"
        );
    }
    let alarms: BTreeSet<&str> = of_type(&template, "AWS::CloudWatch::Alarm")
        .map(|(n, _)| n.as_str())
        .collect();
    for expected in [
        "DeadLettersWaitingAlarm",
        "RelayErrorsAlarm",
        "InboxBacklogAlarm",
        "PartnerSourceSilentAlarm",
    ] {
        assert!(alarms.contains(expected), "{alarms:?}");
    }
    let silent = &template["Resources"]["PartnerSourceSilentAlarm"];
    assert_eq!(silent["Condition"], "HasSilenceAlarm");
    assert_eq!(
        (
            &silent["Properties"]["Namespace"],
            &silent["Properties"]["MetricName"]
        ),
        (&json!("AWS/Events"), &json!("Events")),
        "EventBridge's count of ingested partner events"
    );
    assert_eq!(
        silent["Properties"]["Dimensions"][0],
        json!({"Name": "EventSourceName", "Value": {"Fn::GetAtt": ["OktaLogStream", "PartnerEventSource"]}})
    );
}

#[test]
fn the_dashboard_shows_the_flow_with_real_metric_names() {
    let template = template();
    let body = &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0];
    let text = body
        .as_str()
        .unwrap()
        .replace("${AWS::Region}", "us-east-1")
        .replace("${PerRoute}", "");
    let text = regex_free_substitute(&text);
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let mut shown = BTreeSet::new();
    for widget in dashboard["widgets"].as_array().unwrap() {
        let (mut namespace, mut metric) = (String::new(), String::new());
        for row in widget["properties"]["metrics"].as_array().unwrap() {
            let row = row.as_array().unwrap();
            if row[0] != "..." {
                if row[0] != "." {
                    namespace = row[0].as_str().unwrap().into();
                }
                if row[1] != "." {
                    metric = row[1].as_str().unwrap().into();
                }
            }
            if namespace == "OktaRelay" {
                assert!(
                    emitted().contains(metric.as_str()),
                    "the dashboard shows {metric}, which nothing emits"
                );
                shown.insert(metric.clone());
            }
        }
    }
    for flow in [
        "EventsReceived",
        "EventsMatched",
        "Delivered",
        "DeadLettered",
        "DeliveryLatency",
        "EndToEndLag",
    ] {
        assert!(
            shown.contains(flow),
            "{flow} missing from the dashboard: {shown:?}"
        );
    }
}

/// Replaces `${Name}` placeholders with a plain word so the body parses as JSON.
fn regex_free_substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str("placeholder");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn every_function_logs_to_a_group_with_retention() {
    let template = template();
    let functions: Vec<_> = of_type(&template, "AWS::Serverless::Function").collect();
    assert_eq!(functions.len(), 4);
    for (name, function) in functions {
        // Lambda gives a JSON line without `level` the level INFO (Lambda's "Log-level
        // filtering"), and every metric line is one: an application log level above INFO would
        // drop every custom metric and silence the alarms on them.
        let logging = &function["Properties"]["LoggingConfig"];
        assert_eq!(logging["LogFormat"], "JSON", "{name}");
        assert!(
            ["TRACE", "DEBUG", "INFO"].contains(&logging["ApplicationLogLevel"].as_str().unwrap()),
            "{name}: metric lines are INFO records"
        );
        let group = logging["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no LogGroup"));
        let group = &template["Resources"][group];
        assert_eq!(group["Type"], "AWS::Logs::LogGroup", "{name}");
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionInDays"}),
            "{name}"
        );
        assert!(
            group["Properties"]["KmsKeyId"].is_object(),
            "{name}'s logs are encrypted"
        );
    }
}

/// Every IAM statement in the template: function policies, queue and key policies.
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (name, resource) in resources(template) {
        let properties = &resource["Properties"];
        let documents = properties["Policies"]
            .as_array()
            .into_iter()
            .flatten()
            .chain([&properties["PolicyDocument"], &properties["KeyPolicy"]]);
        for document in documents {
            for statement in document["Statement"].as_array().into_iter().flatten() {
                // A conditional statement (`!If [Condition, Statement, Statement or !Ref
                // AWS::NoValue]`) is checked as granted, both branches.
                match statement.get("Fn::If") {
                    Some(branches) => {
                        for branch in [&branches[1], &branches[2]] {
                            if branch.get("Ref").is_none() {
                                found.push((name.clone(), branch.clone()));
                            }
                        }
                    }
                    None => found.push((name.clone(), statement.clone())),
                }
            }
        }
    }
    found
}

#[test]
fn no_statement_grants_every_action_or_every_resource() {
    let template = template();
    let statements = statements(&template);
    assert!(statements.len() >= 10, "{}", statements.len());
    for (resource, statement) in statements {
        let actions = match &statement["Action"] {
            Value::String(one) => vec![one.clone()],
            Value::Array(many) => many
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
            other => panic!("{resource}: Action {other}"),
        };
        assert!(
            !actions.iter().any(|a| a == "*"),
            "{resource} grants every action: {statement}"
        );
        let is_key_policy = template["Resources"][&resource]["Type"] == "AWS::KMS::Key";
        // In a key policy, `Resource: "*"` means "this key"; everywhere else it is a wildcard.
        if !is_key_policy {
            assert_ne!(statement["Resource"], "*", "{resource}: {statement}");
        } else if actions.iter().any(|a| a == "kms:*") {
            assert_eq!(
                statement["Principal"]["AWS"]["Fn::Sub"],
                "arn:${AWS::Partition}:iam::${AWS::AccountId}:root",
                "only the account administers the key"
            );
        }
    }
}

/// A function's environment as the code reads it: parameters at their defaults, other `!Ref`s,
/// `!GetAtt`s and `!If`s as plausible names and URLs.
fn environment(template: &Value, function: &str) -> std::collections::HashMap<String, String> {
    let variables = &template["Resources"][function]["Properties"]["Environment"]["Variables"];
    let resolve = |value: &Value| -> String {
        let parameter_default =
            value["Ref"]
                .as_str()
                .and_then(|name| match &template["Parameters"][name]["Default"] {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                });
        match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ if parameter_default.is_some() => parameter_default.unwrap_or_default(),
            _ if value.to_string().contains("OktaOrgUrl") => "https://example.okta.com".into(),
            _ if value.to_string().contains("AccountId") => "123456789012".into(),
            // A condition's default side (the parameters' defaults leave every switch off).
            _ if value["Fn::If"][2].is_string() => {
                value["Fn::If"][2].as_str().unwrap_or_default().into()
            }
            _ if value["Fn::GetAtt"][1] == "Arn" => format!(
                "arn:aws:sqs:us-east-1:123456789012:{}",
                value["Fn::GetAtt"][0].as_str().unwrap_or_default()
            ),
            _ if value.to_string().contains("RelayDeadLetterQueue") => {
                "https://sqs.us-east-1.amazonaws.com/123456789012/dlq".into()
            }
            _ => "/resolved/by/cloudformation".into(),
        }
    };
    variables
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), resolve(value)))
        .collect()
}

#[test]
fn the_redrive_function_reads_with_the_relays_settings_and_the_watchdog_feeds_its_inbox() {
    let template = template();
    let relay = &template["Resources"]["RelayFunction"]["Properties"]["Environment"]["Variables"];
    let other = &template["Resources"]["RedriveFunction"]["Properties"]["Environment"]["Variables"];
    for name in relay.as_object().unwrap().keys() {
        assert_eq!(
            other[name], relay[name],
            "RedriveFunction {name}: as the relay"
        );
    }
    let redrive = environment(&template, "RedriveFunction");
    let config = relay_wiring::RelayConfig::from_env(|name| redrive.get(name).cloned());
    assert!(config.is_ok(), "{config:?}");
    assert_eq!(
        template["Resources"]["RedriveFunction"]["Properties"]["Timeout"],
        json!(redrive::TIMEOUT.as_secs())
    );
    let watchdog =
        &template["Resources"]["WatchdogFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(watchdog["EVENT_PATTERN"], json!({"Ref": "EventPattern"}));
    assert_eq!(watchdog["INBOX_QUEUE_URL"], relay["INBOX_QUEUE_URL"]);
    let mut env = environment(&template, "WatchdogFunction");
    env.insert("AWS_REGION".into(), "us-east-1".into());
    let config = watchdog::WatchdogConfig::from_env(|name| env.get(name).cloned());
    assert!(config.is_ok(), "{config:?}");
    let repair = config
        .unwrap()
        .repair
        .expect("the watchdog repairs the stack's path");
    assert_eq!(
        repair.spec.rule.target.dead_letter_arn.as_deref(),
        Some("arn:aws:sqs:us-east-1:123456789012:RelayDeadLetterQueue"),
        "the target as the provisioner puts it"
    );
}

#[test]
fn deduplication_is_one_parameter_off_by_default_and_the_table_fits_the_adapter() {
    let template = template();
    assert_eq!(
        template["Parameters"]["Deduplication"]["Default"],
        "Disabled"
    );
    let table = &template["Resources"]["DeduplicationTable"];
    assert_eq!(table["Condition"], "DeduplicationEnabled");
    let properties = &table["Properties"];
    assert_eq!(
        properties["KeySchema"],
        json!([{"AttributeName": "key", "KeyType": "HASH"}])
    );
    assert_eq!(
        properties["TimeToLiveSpecification"],
        json!({"AttributeName": "expiresAt", "Enabled": true})
    );
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        properties["SSESpecification"]["KMSMasterKeyId"],
        json!({"Ref": "RelayKey"})
    );
    for function in ["RelayFunction", "RedriveFunction"] {
        let properties = &template["Resources"][function]["Properties"];
        assert_eq!(
            properties["Environment"]["Variables"]["DEDUP_TABLE"],
            json!({"Fn::If": ["DeduplicationEnabled", {"Ref": "DeduplicationTable"}, ""]}),
            "{function}"
        );
        let statements = properties["Policies"][0]["Statement"].to_string();
        let claims = function == "RelayFunction";
        assert_eq!(
            statements.contains("dynamodb:PutItem") && statements.contains("dynamodb:DeleteItem"),
            claims,
            "{function}: only the relay delivers, so only it claims and releases deliveries \
             (the redrive puts letters back in the inbox)"
        );
    }
}

#[test]
fn no_route_can_reach_the_okta_api_token_and_every_letter_fits_the_queue() {
    let template = template();
    let okta_token = "parameter${OktaApiTokenParameterName}";
    for function in ["RelayFunction", "RedriveFunction"] {
        let denied = statements(&template).into_iter().any(|(name, statement)| {
            name == function
                && statement["Effect"] == "Deny"
                && statement["Action"] == "ssm:*"
                && statement["Resource"]["Fn::Sub"]
                    .as_str()
                    .is_some_and(|arn| arn.ends_with(okta_token))
        });
        assert!(
            denied,
            "{function} must be denied the Okta API token's parameter (WorkflowsTokensPath may be a prefix of it)"
        );
        let env = environment(&template, function);
        assert_eq!(
            env["OKTA_API_TOKEN_PARAMETER"],
            "/okta-relay/okta-api-token"
        );
        assert_eq!(env["WORKFLOWS_TOKENS_PATH"], "/okta-relay/workflows");
    }
    for function in ["RelayFunction", "RedriveFunction"] {
        let variables = &template["Resources"][function]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            variables["ALLOWED_ENDPOINT_HOSTS"],
            json!({"Ref": "AllowedEndpointHosts"}),
            "{function}"
        );
    }
    let default = template["Parameters"]["AllowedEndpointHosts"]["Default"]
        .as_str()
        .unwrap();
    assert_eq!(
        relay_core::LoadOptions::parse_allowed_hosts(default),
        Ok(Vec::new())
    );
    // The relay sizes letters for the queue's limit, keeping 1 KiB for the message attributes.
    let queue = &template["Resources"]["RelayDeadLetterQueue"]["Properties"];
    assert_eq!(
        queue["MaximumMessageSize"],
        json!(relay_core::dead_letter::MAX_LETTER_BYTES + 1024)
    );
}

#[test]
fn the_outputs_and_parameters_the_cli_reads_with_stack_exist() {
    // cli/src/{stack,provision,backfill,redrive,route_source}.rs read these by name.
    let template = template();
    for output in [
        "InboxQueueUrl",
        "InboxQueueArn",
        "RelayDeadLetterQueueUrl",
        "RelayDeadLetterQueueArn",
        "DeduplicationTableName",
        "ArchiveArn",
        "EventBusArn",
        "RuleArn",
    ] {
        assert!(template["Outputs"][output].is_object(), "output {output}");
    }
    for parameter in [
        "OktaOrgUrl",
        "OktaApiTokenParameterName",
        "LogStreamName",
        "EventSourceName",
        "RuleName",
        "EventPattern",
        "AdoptExisting",
        "RoutesParameterName",
        "AllowedEndpointHosts",
    ] {
        assert!(
            template["Parameters"][parameter].is_object(),
            "parameter {parameter}"
        );
    }
}

#[test]
fn the_published_application_has_the_workspace_version_and_every_function_is_traced() {
    let template = template();
    let application = &template["Metadata"]["AWS::ServerlessRepo::Application"];
    assert_eq!(application["SemanticVersion"], env!("CARGO_PKG_VERSION"));
    for field in [
        "Name",
        "Description",
        "Author",
        "SpdxLicenseId",
        "SourceCodeUrl",
    ] {
        assert!(application[field].is_string(), "{field}");
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in ["LicenseUrl", "ReadmeUrl"] {
        let path = root.join(application[file].as_str().unwrap());
        assert!(path.is_file(), "{file}: {}", path.display());
    }
    assert_eq!(template["Globals"]["Function"]["Tracing"], "Active");
}

#[test]
fn per_route_metrics_are_one_switch_for_the_relay_and_the_dashboard() {
    let template = template();
    assert_eq!(
        template["Parameters"]["PerRouteMetrics"]["Default"],
        "Disabled"
    );
    let relay = &template["Resources"]["RelayFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        relay["PER_ROUTE_METRICS"],
        json!({"Fn::If": ["PerRouteMetricsEnabled", "true", "false"]})
    );
    let widget = &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][1]["PerRoute"]
        ["Fn::If"];
    assert_eq!(widget[0], "PerRouteMetricsEnabled");
    assert_eq!(widget[2], "");
    let text = widget[1]["Fn::Sub"].as_str().unwrap();
    let text = regex_free_substitute(text.trim_start_matches(','));
    let widget: Value = serde_json::from_str(&text).unwrap();
    let route_metrics: Vec<&str> = relay_core::metrics::ROUTE_METRICS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    for row in widget["properties"]["metrics"].as_array().unwrap() {
        let expression = row[0]["expression"].as_str().unwrap();
        assert!(
            expression.contains("{OktaRelay,FunctionName,Route}"),
            "{expression}"
        );
        let metric = expression
            .split("MetricName=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        assert!(
            route_metrics.contains(&metric),
            "{metric} is not written per route"
        );
    }
}

#[test]
fn the_partner_bus_is_archived_only_when_asked() {
    let template = template();
    assert_eq!(template["Parameters"]["ArchiveRetentionDays"]["Default"], 0);
    let archive = &template["Resources"]["PartnerBusArchive"];
    assert_eq!(archive["Condition"], "ArchiveEnabled");
    assert_eq!(
        archive["Properties"]["SourceArn"],
        json!({"Fn::GetAtt": ["OktaLogStream", "EventBusArn"]})
    );
    assert_eq!(
        template["Outputs"]["ArchiveArn"]["Condition"],
        "ArchiveEnabled"
    );
}

#[test]
fn oauth_keys_sign_for_the_functions_that_call_okta_and_the_pem_stays_from_the_relay() {
    let template = template();
    let statements = statements(&template);
    let signers: Vec<&str> = statements
        .iter()
        .filter(|(_, statement)| statement["Sid"] == "SignOAuthAssertions")
        .map(|(function, statement)| {
            assert_eq!(statement["Action"], json!(["kms:Sign", "kms:GetPublicKey"]));
            assert_eq!(
                statement["Resource"],
                json!({"Fn::GetAtt": ["OAuthSigningKey", "Arn"]})
            );
            function.as_str()
        })
        .collect();
    assert_eq!(
        signers,
        ["ProvisionerFunction", "RelayFunction", "WatchdogFunction"]
    );
    let key = &template["Resources"]["OAuthSigningKey"]["Properties"];
    assert_eq!(key["KeySpec"], "RSA_2048");
    assert_eq!(key["KeyUsage"], "SIGN_VERIFY");
    for function in ["ProvisionerFunction", "WatchdogFunction"] {
        let env = environment(&template, function);
        for name in [
            "OKTA_OAUTH_CLIENT_ID",
            "OKTA_OAUTH_SIGNING_KEY",
            "OKTA_OAUTH_PRIVATE_KEY_PARAMETER",
            "OKTA_OAUTH_DPOP",
        ] {
            assert!(env.contains_key(name), "{function} lacks {name}");
        }
    }
    let relay_denied: Vec<&Value> = statements
        .iter()
        .filter(|(function, statement)| {
            function == "RelayFunction"
                && statement["Sid"] == "NeverTheOktaOAuthPrivateKey"
                && statement["Effect"] == "Deny"
        })
        .map(|(_, statement)| &statement["Action"])
        .collect();
    assert_eq!(relay_denied, [&json!("secretsmanager:*"), &json!("ssm:*")]);
}
