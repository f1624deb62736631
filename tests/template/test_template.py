"""What cfn-lint and `sam validate` cannot check in template.yaml: that its filter policies,
permissions, conditions and outputs say what the README promises.

Run by `make test` (pytest from .venv). The template is read with cfn-lint's YAML loader, which
understands CloudFormation's short tags (!Ref, !If, ...)."""

import json
import re
import sys
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from editions import NO_VALUE, PSEUDO_PARAMETERS, references  # noqa: E402  (one walker of Ref, GetAtt, Sub)
TEMPLATE = load(str(ROOT / "template.yaml"))
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]


def published_attributes():
    """The attribute names the function publishes: the `pub const ATTR_*` in src/message/."""
    source = (ROOT / "src" / "message" / "attributes.rs").read_text()
    names = re.findall(r'pub const ATTR_\w+: &str = "(\w+)";', source)
    assert "event_name" in names
    return set(names)


def default_policy(parameter):
    return json.loads(PARAMETERS[parameter]["Default"])


def evaluate(condition, parameters):
    """Evaluates a CloudFormation condition for concrete parameter values."""
    if isinstance(condition, dict):
        (fn, arg), = condition.items()
        if fn == "Ref":
            return parameters.get(arg, PARAMETERS[arg].get("Default"))
        if fn == "Condition":
            return evaluate(TEMPLATE["Conditions"][arg], parameters)
        if fn == "Fn::Equals":
            return evaluate(arg[0], parameters) == evaluate(arg[1], parameters)
        if fn == "Fn::Not":
            return not evaluate(arg[0], parameters)
        if fn == "Fn::And":
            return all(evaluate(c, parameters) for c in arg)
        if fn == "Fn::Or":
            return any(evaluate(c, parameters) for c in arg)
        raise AssertionError(f"unexpected function {fn}")
    return condition


def resource_created(name, parameters):
    condition = RESOURCES[name].get("Condition")
    return condition is None or evaluate({"Condition": condition}, parameters)


def test_email_filter_defaults_to_what_a_human_wants_in_an_inbox():
    assert default_policy("EmailFilterPolicy") == {
        "event_name": ["defect.created", "defect.resolved"]
    }
    email = RESOURCES["EmailSubscription"]["Properties"]
    assert email["Protocol"] == "email"
    # People read the notifications topic's text, not the events topic's JSON body.
    assert email["TopicArn"] == {"Ref": "NotificationTopic"}
    assert email["FilterPolicy"] == {"Ref": "EmailFilterPolicy"}
    assert email["FilterPolicyScope"] == "MessageAttributes"


def test_queue_filter_defaults_to_every_defect_event_with_raw_delivery():
    assert default_policy("QueueFilterPolicy") == {"event_name": [{"prefix": "defect."}]}
    queue = RESOURCES["QueueSubscription"]["Properties"]
    assert queue["Protocol"] == "sqs"
    assert queue["RawMessageDelivery"] is True
    assert queue["FilterPolicy"] == {"Ref": "QueueFilterPolicy"}
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["SubscriptionDeadLetterQueue", "Arn"]
    }


@pytest.mark.parametrize("parameter", ["EmailFilterPolicy", "QueueFilterPolicy", "ChatFilterPolicy"])
def test_default_filter_policies_only_name_attributes_the_function_publishes(parameter):
    assert set(default_policy(parameter)) <= published_attributes()


@pytest.mark.parametrize(
    "fifo, email, created",
    [
        ("false", "qa@example.com", True),
        ("false", "", False),
        ("true", "qa@example.com", True),
        ("true", "", False),
    ],
)
def test_email_subscription_exists_with_an_address_fifo_events_topic_or_not(fifo, email, created):
    parameters = {"FifoTopic": fifo, "NotificationEmail": email}
    assert resource_created("EmailSubscription", parameters) is created


def test_notifications_topic_is_always_a_standard_topic_for_email():
    # SNS delivers FIFO topics to SQS queues only (SNS Developer Guide, "Message delivery for
    # FIFO topics"), never to email: the notifications topic never is one, whatever FifoTopic says.
    topic = RESOURCES["NotificationTopic"]
    assert "Condition" not in topic
    assert "FifoTopic" not in topic["Properties"]
    assert "TopicName" not in topic["Properties"], "a generated name never ends in .fifo"


def test_fifo_switch_makes_topic_and_queues_fifo_together():
    fifo_if = {"Fn::If": ["IsFifo", True, {"Ref": "AWS::NoValue"}]}
    assert RESOURCES["Topic"]["Properties"]["FifoTopic"] == fifo_if
    for queue in ["Queue", "QueueDeadLetterQueue", "SubscriptionDeadLetterQueue"]:
        assert RESOURCES[queue]["Properties"]["FifoQueue"] == fifo_if, queue
    assert evaluate({"Condition": "IsFifo"}, {"FifoTopic": "true"}) is True
    assert evaluate({"Condition": "IsFifo"}, {}) is False


@pytest.mark.parametrize("topic", ["Topic", "NotificationTopic", "ChatTopic"])
def test_every_topic_is_encrypted_with_kms(topic):
    assert RESOURCES[topic]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"


def test_function_may_publish_to_exactly_its_topics_and_read_only_its_own_secret():
    policies = RESOURCES["WebhookFunction"]["Properties"]["Policies"]
    assert policies == [
        {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["ParkingQueue", "QueueName"]}}},
        {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["Topic", "TopicName"]}}},
        {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["NotificationTopic", "TopicName"]}}},
        {
            "Fn::If": [
                "WantsChat",
                {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["ChatTopic", "TopicName"]}}},
                {"Ref": "AWS::NoValue"},
            ]
        },
        {
            "Fn::If": [
                "UseSecretsManager",
                {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "QaseWebhookSecretArn"}}},
                {"Ref": "AWS::NoValue"},
            ]
        },
        {
            "Fn::If": [
                "HasApiTokenArn",
                {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "QaseApiTokenArn"}}},
                {"Ref": "AWS::NoValue"},
            ]
        },
    ]


@pytest.mark.parametrize(
    "secret, arn, valid",
    [
        ("a" * 24, "", True),
        ("", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-AbCd", True),
        ("", "", False),
        ("a" * 24, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-AbCd", False),
    ],
)
def test_exactly_one_secret_source_is_required(secret, arn, valid):
    parameters = {"QaseWebhookSecret": secret, "QaseWebhookSecretArn": arn}
    assert rules_hold(parameters) is valid
    for name, value in parameters.items():
        assert re.fullmatch(PARAMETERS[name]["AllowedPattern"], value), name


def rules_hold(parameters):
    """Whether every template rule's assertions hold for these parameters."""
    return all(
        evaluate(assertion["Assert"], parameters)
        for rule in TEMPLATE["Rules"].values()
        for assertion in rule["Assertions"]
    )


@pytest.mark.parametrize(
    "token, arn, valid",
    [
        ("", "", True),
        ("qase-token", "", True),
        ("", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-api-AbCd", True),
        ("qase-token", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-api-AbCd", False),
    ],
)
def test_at_most_one_qase_api_token_source(token, arn, valid):
    parameters = {
        "QaseWebhookSecret": "a" * 24,
        "QaseApiToken": token,
        "QaseApiTokenArn": arn,
    }
    assert rules_hold(parameters) is valid


def test_qase_api_token_is_a_noecho_parameter_passed_only_when_set():
    token = PARAMETERS["QaseApiToken"]
    assert token["NoEcho"] is True
    assert token["Default"] == "", "enrichment is off unless a token is given"
    env = RESOURCES["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert env["QASE_API_TOKEN"] == {
        "Fn::If": ["HasApiToken", {"Ref": "QaseApiToken"}, {"Ref": "AWS::NoValue"}]
    }
    assert env["QASE_API_TOKEN_ARN"] == {
        "Fn::If": ["HasApiTokenArn", {"Ref": "QaseApiTokenArn"}, {"Ref": "AWS::NoValue"}]
    }
    assert env["QASE_API_URL"] == {"Ref": "QaseApiUrl"}
    assert PARAMETERS["QaseApiUrl"]["Default"] == "https://api.qase.io/v1"
    pattern = PARAMETERS["QaseApiUrl"]["AllowedPattern"]
    assert re.fullmatch(pattern, "https://api-example.qase.io/v1")
    assert re.fullmatch(pattern, "https://localhost:8443/v1")
    for refused in ["http://api.qase.io/v1", "https://user:pw@api.qase.io/v1",
                    "https://api.qase.io/v1?x=1", "https://api.qase.io:port/v1"]:
        assert not re.fullmatch(pattern, refused), f"the function refuses {refused} too"


def test_queue_policy_admits_only_this_topic():
    policy = RESOURCES["QueuePolicy"]["Properties"]
    assert {q["Ref"] for q in policy["Queues"]} == {"Queue", "SubscriptionDeadLetterQueue"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "Topic"}}}


def test_function_is_a_cargo_lambda_build_that_answers_before_qase_gives_up():
    function = RESOURCES["WebhookFunction"]
    props = function["Properties"]
    assert function["Metadata"]["BuildMethod"] == "rust-cargolambda"
    assert props["Runtime"] == "provided.al2023"
    assert props["Handler"] == "bootstrap"
    assert props["MemorySize"] == 128
    assert props["Architectures"] == [{"Ref": "Architecture"}]
    assert PARAMETERS["Architecture"]["Default"] == "arm64"
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    # A Qase API lookup's budget and the SNS client's whole-publish budget, one after the other,
    # must fit inside the function timeout, and that inside Qase's 15 s.
    aws = (ROOT / "src" / "aws" / "mod.rs").read_text()
    publish_s = int(re.search(r"PUBLISH_TIMEOUT: Duration = Duration::from_secs\((\d+)\)", aws)[1])
    enrichment = (ROOT / "src" / "enrichment.rs").read_text()
    lookup_ms = int(re.search(r"BUDGET: Duration = Duration::from_millis\((\d+)\)", enrichment)[1])
    assert publish_s + lookup_ms / 1000 < props["Timeout"] < 15


def test_secret_is_a_noecho_parameter_passed_only_when_no_secret_arn_is():
    secret = PARAMETERS["QaseWebhookSecret"]
    assert secret["NoEcho"] is True
    assert secret["Default"] == "", "no value is ever committed"
    assert not re.fullmatch(secret["AllowedPattern"], "too-short")
    env = RESOURCES["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert env["QASE_WEBHOOK_SECRET"] == {
        "Fn::If": ["UseSecretsManager", {"Ref": "AWS::NoValue"}, {"Ref": "QaseWebhookSecret"}]
    }
    assert env["QASE_WEBHOOK_SECRET_ARN"] == {
        "Fn::If": ["UseSecretsManager", {"Ref": "QaseWebhookSecretArn"}, {"Ref": "AWS::NoValue"}]
    }
    assert env["ALLOWED_SOURCE_IPS"] == {"Ref": "AllowedSourceIps"}
    assert env["TOPIC_ARN"] == {"Ref": "Topic"}
    assert env["NOTIFICATION_TOPIC_ARN"] == {"Ref": "NotificationTopic"}


def rust_constant(path, name):
    """The value of `pub const NAME: usize = N;` in src/PATH."""
    source = (ROOT / "src" / path).read_text()
    (value,) = re.findall(rf"pub const {name}: usize = ([0-9_]+);", source)
    return int(value.replace("_", ""))


def test_the_secret_minimum_is_the_functions():
    """The template refuses what the function would refuse at init (src/auth.rs), so a
    deploy with a short secret fails at once, not at the first cold start."""
    minimum = rust_constant("auth.rs", "MIN_SECRET_CHARS")
    secret = PARAMETERS["QaseWebhookSecret"]
    for parameter in (secret, PARAMETERS["QaseWebhookPreviousSecret"]):
        (stated,) = re.findall(r"\{([0-9]+),\}", parameter["AllowedPattern"])
        assert int(stated) == minimum
        assert re.fullmatch(parameter["AllowedPattern"], "x" * minimum)
        assert not re.fullmatch(parameter["AllowedPattern"], "x" * (minimum - 1))
    for text in (secret["ConstraintDescription"], secret["Description"],
                 PARAMETERS["QaseWebhookPreviousSecret"]["ConstraintDescription"]):
        assert re.findall(r"[Aa]t least ([0-9]+) characters", text) == [str(minimum)], text


ENDPOINTS = ["HttpApi", "FunctionUrl"]
# What each Endpoint option creates, and only it.
ENDPOINT_RESOURCES = {
    "HttpApi": {"HttpApi", "HttpApiApiGatewayDefaultStage", "WebhookFunctionQaseWebhookPermission",
                "ApiAccessLogGroup", "Api5xxAlarm"},
    "FunctionUrl": {"WebhookFunctionUrl", "FunctionUrlPermission", "FunctionUrlInvokePermission"},
}


def resolve(node, parameters):
    """A template node as CloudFormation deploys it for these parameters: each Fn::If
    chosen, each AWS::NoValue dropped."""
    if isinstance(node, dict):
        if list(node) == ["Fn::If"]:
            condition, if_true, if_false = node["Fn::If"]
            chosen = if_true if evaluate({"Condition": condition}, parameters) else if_false
            return resolve(chosen, parameters)
        resolved = {k: resolve(v, parameters) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v != NO_VALUE}
    if isinstance(node, list):
        return [v for v in (resolve(v, parameters) for v in node) if v != NO_VALUE]
    return node


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("token", ["", "qase-token"])
def test_each_endpoint_option_deploys_a_whole_template(endpoint, token):
    """Every resource and output CloudFormation creates for these parameters refers only to
    resources it also creates (a reference to a resource whose condition is false fails
    the deployment)."""
    parameters = {"Endpoint": endpoint, "QaseApiToken": token, "QaseWebhookSecret": "a" * 24}
    assert rules_hold(parameters)
    created = {name for name in RESOURCES if resource_created(name, parameters)}
    assert ENDPOINT_RESOURCES[endpoint] <= created
    for other in set(ENDPOINTS) - {endpoint}:
        assert not ENDPOINT_RESOURCES[other] & created, f"{other} resources with {endpoint}"
    outputs = {
        f"output {name}": output
        for name, output in TEMPLATE["Outputs"].items()
        if output.get("Condition") is None or evaluate({"Condition": output["Condition"]}, parameters)
    }
    known = created | set(PARAMETERS) | PSEUDO_PARAMETERS
    for name, node in [*((n, RESOURCES[n]) for n in created), *outputs.items()]:
        deployed = resolve({k: v for k, v in node.items() if k != "Condition"}, parameters)
        dangling = set(references(deployed)) - known
        assert not dangling, f"{name} refers to {dangling}, not created with Endpoint={endpoint}"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_webhook_url_output_is_the_webhook_path_on_either_endpoint(endpoint):
    url = resolve(TEMPLATE["Outputs"]["WebhookUrl"]["Value"], {"Endpoint": endpoint})["Fn::Sub"]
    if endpoint == "HttpApi":
        assert url == "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/qase/webhook"
    else:
        # FunctionUrl ends in "/" (https://<id>.lambda-url.<region>.on.aws/); the function
        # answers on any path, the README's URL is the same on both.
        assert url == "${WebhookFunctionUrl.FunctionUrl}qase/webhook"


def test_http_api_is_post_only_on_the_webhook_path_with_stage_throttling():
    body = RESOURCES["HttpApi"]["Properties"]["Body"]
    assert list(body["paths"]) == ["/qase/webhook"]
    assert list(body["paths"]["/qase/webhook"]) == ["post"]
    integration = body["paths"]["/qase/webhook"]["post"]["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy"
    assert integration["payloadFormatVersion"] == "2.0"
    assert "${WebhookFunction.Arn}/invocations" in integration["uri"]["Fn::Sub"]
    # The API waits for the function's whole timeout, and answers before Qase's 15 s.
    timeout_ms = RESOURCES["WebhookFunction"]["Properties"]["Timeout"] * 1000
    assert timeout_ms < integration["timeoutInMillis"] < 15_000
    stage = RESOURCES["HttpApiApiGatewayDefaultStage"]["Properties"]
    assert stage["ApiId"] == {"Ref": "HttpApi"}
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    assert stage["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    json.loads(stage["AccessLogSettings"]["Format"])
    permission = RESOURCES["WebhookFunctionQaseWebhookPermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["SourceArn"]["Fn::Sub"].endswith("${HttpApi}/*/POST/qase/webhook")


def test_an_http_api_deployed_by_an_earlier_version_is_updated_in_place():
    """Until the Endpoint option, SAM made the API from an HttpApi event: an
    AWS::ApiGatewayV2::Api with logical id HttpApi and an OpenAPI Body (no ProtocolType), a
    stage HttpApiApiGatewayDefaultStage and a permission WebhookFunctionQaseWebhookPermission.
    ProtocolType is create-only (CloudFormation resource schema of AWS::ApiGatewayV2::Api):
    setting it, or renaming the API, would replace the API and change the URL Qase posts to,
    losing every webhook until someone pastes the new one."""
    api = RESOURCES["HttpApi"]
    assert api["Type"] == "AWS::ApiGatewayV2::Api"
    assert "Body" in api["Properties"] and "ProtocolType" not in api["Properties"]
    assert RESOURCES["HttpApiApiGatewayDefaultStage"]["Type"] == "AWS::ApiGatewayV2::Stage"
    assert RESOURCES["WebhookFunctionQaseWebhookPermission"]["Type"] == "AWS::Lambda::Permission"
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::ApiGatewayV2::Api")
    assert "/properties/ProtocolType" in schema.schema["createOnlyProperties"]


def test_function_url_is_public_buffered_and_has_both_permissions_aws_requires():
    url = RESOURCES["WebhookFunctionUrl"]["Properties"]
    # AuthType NONE: Qase cannot sign requests; the X-Qase-Secret check is in the function.
    assert url["AuthType"] == "NONE"
    assert url["InvokeMode"] == "BUFFERED"
    assert url["TargetFunctionArn"] == {"Fn::GetAtt": ["WebhookFunction", "Arn"]}
    # Lambda Developer Guide, "Control access to Lambda function URLs": "Starting in October
    # 2025, new function URLs will require both lambda:InvokeFunctionUrl and
    # lambda:InvokeFunction permissions"; with AuthType NONE the resource-based policy "must
    # grant public access".
    permissions = {
        r["Properties"]["Action"]: r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Lambda::Permission" and r.get("Condition") == "UseFunctionUrl"
    }
    assert set(permissions) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    for permission in permissions.values():
        assert permission["Principal"] == "*"
        assert permission["FunctionName"] == {"Ref": "WebhookFunction"}
    assert permissions["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    # The public InvokeFunction is limited to calls through the function URL.
    assert permissions["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True


@pytest.mark.parametrize(
    "endpoint, reserved, reserves",
    [("HttpApi", "10", False), ("FunctionUrl", "10", True), ("FunctionUrl", "0", False),
     ("FunctionUrl", "3", True)],
)
def test_reserved_concurrency_throttles_a_function_url_only(endpoint, reserved, reserves):
    # CloudFormation hands Number parameters to Fn::Equals as strings.
    props = resolve(RESOURCES["WebhookFunction"]["Properties"],
                    {"Endpoint": endpoint, "ReservedConcurrency": reserved})
    expected = {"Ref": "ReservedConcurrency"} if reserves else None
    assert props.get("ReservedConcurrentExecutions") == expected
    assert str(PARAMETERS["ReservedConcurrency"]["Default"]) == "20"


# A run of 5,000 test results reported within a minute (Qase's result events): 84 a second.
BURST_PER_SECOND = 5_000 / 60


def test_the_defaults_admit_a_burst_of_5000_results_in_a_minute_on_either_endpoint():
    # HTTP API: the stage's steady rate (API Gateway: "the steady-state rate ... per second").
    assert int(PARAMETERS["ThrottlingRateLimit"]["Default"]) >= 2 * BURST_PER_SECOND
    assert int(PARAMETERS["ThrottlingBurstLimit"]["Default"]) >= int(PARAMETERS["ThrottlingRateLimit"]["Default"])
    # Function URL: "the maximum rate ... is 10 times the reserved concurrency" (Lambda
    # Developer Guide, "Function URL throttling"); and the concurrency itself at 50 ms a
    # webhook (in-region SNS latency, well above the 0.4 ms of CPU make bench measures).
    reserved = int(PARAMETERS["ReservedConcurrency"]["Default"])
    assert 10 * reserved >= 2 * BURST_PER_SECOND
    assert reserved / 0.050 >= 2 * BURST_PER_SECOND


@pytest.mark.parametrize(
    "secret, previous, arn, valid",
    [
        ("a" * 24, "b" * 24, "", True),
        ("a" * 24, "", "", True),
        ("", "b" * 24, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-AbCd", False),
    ],
)
def test_the_previous_secret_goes_with_the_value_and_is_passed_only_when_set(secret, previous, arn, valid):
    parameters = {"QaseWebhookSecret": secret, "QaseWebhookPreviousSecret": previous,
                  "QaseWebhookSecretArn": arn}
    assert rules_hold(parameters) is valid
    parameter = PARAMETERS["QaseWebhookPreviousSecret"]
    assert parameter["NoEcho"] is True and parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], previous)
    assert not re.fullmatch(parameter["AllowedPattern"], "too-short")
    env = resolve(RESOURCES["WebhookFunction"]["Properties"]["Environment"]["Variables"], parameters)
    assert env.get("QASE_WEBHOOK_SECRET_PREVIOUS") == ({"Ref": "QaseWebhookPreviousSecret"} if previous else None)


def emitted_metrics():
    """What the function writes as EMF: src/metrics.rs's namespace, metric and dimension
    names."""
    source = (ROOT / "src" / "metrics.rs").read_text()
    consts = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', source))
    names = {v for k, v in consts.items() if not k.startswith("DIM_") and k != "NAMESPACE"}
    dimensions = {v for k, v in consts.items() if k.startswith("DIM_")}
    return consts["NAMESPACE"], names, dimensions


def error_codes():
    """The error codes the function answers with: the strings of every `fn code` in src/."""
    codes = set()
    for path in (ROOT / "src").rglob("*.rs"):
        for body in re.findall(r"fn code\(.*?\n    \}\n", path.read_text(), re.S):
            codes |= set(re.findall(r'=> "([a-z_]+)"', body))
    return codes


# The dimension sets src/metrics.rs declares for each metric (its `Dimensions` arrays).
DIMENSION_SETS = {
    "Webhooks": [{"FunctionName", "Outcome"}, {"FunctionName", "Code"}],
    "PublishLatency": [{"FunctionName"}],
    "NotificationFailures": [{"FunctionName"}],
    "ChatFailures": [{"FunctionName"}],
    "PreviousSecretUsed": [{"FunctionName"}],
    "EnrichmentLookups": [{"FunctionName"}],
    "EnrichmentFailures": [{"FunctionName"}],
    "Delivered": [{"FunctionName"}],
    "DeliveryRetries": [{"FunctionName"}],
}


def test_the_dimension_sets_are_the_ones_the_code_declares():
    # Without white space: rustfmt decides where the lines break.
    source = re.sub(r"\s+", "", (ROOT / "src" / "metrics.rs").read_text())
    assert "&[&[DIM_FUNCTION_NAME,DIM_OUTCOME],&[DIM_FUNCTION_NAME,DIM_CODE],]" in source
    assert "&[&[DIM_FUNCTION_NAME,DIM_OUTCOME]]" in source
    assert "dimensions:&[&[DIM_FUNCTION_NAME]]," in source
    assert set(DIMENSION_SETS) == emitted_metrics()[1]


def alarms():
    return {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def metric_stats(alarm):
    """(namespace, metric name, dimensions) of each metric an alarm watches."""
    if "MetricName" in alarm:
        yield alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", [])
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            yield metric["Namespace"], metric["MetricName"], metric.get("Dimensions", [])


def test_alarms_watch_what_the_issue_and_readme_promise():
    watched = {
        name: {(ns, metric) for ns, metric, _ in metric_stats(alarm)}
        for name, alarm in alarms().items()
    }
    assert watched == {
        "FunctionErrorsAlarm": {("AWS/Lambda", "Errors")},
        "Api5xxAlarm": {("AWS/ApiGateway", "5xx")},
        "QueueDeadLetterAlarm": {("AWS/SQS", "ApproximateNumberOfMessagesVisible")},
        "SubscriptionDeadLetterAlarm": {("AWS/SQS", "ApproximateNumberOfMessagesVisible")},
        "UnauthorizedRequestsAlarm": {("QaseDefectFanout", "Webhooks")},
        "PublishFailuresAlarm": {("QaseDefectFanout", "Webhooks")},
        "NotificationFailuresAlarm": {("QaseDefectFanout", "NotificationFailures")},
        "ChatFailuresAlarm": {("QaseDefectFanout", "ChatFailures")},
        "EnrichmentFailingAlarm": {("QaseDefectFanout", "EnrichmentFailures"),
                                   ("QaseDefectFanout", "EnrichmentLookups")},
        "ParkingQueueAgeAlarm": {("AWS/SQS", "ApproximateAgeOfOldestMessage")},
        "ParkedWebhooksAlarm": {("QaseDefectFanout", "Webhooks")},
        "ParkingDeadLetterAlarm": {("AWS/SQS", "ApproximateNumberOfMessagesVisible")},
        "DeliveryErrorsAlarm": {("AWS/Lambda", "Errors")},
    }
    dlq = sorted(a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
                 for a in alarms().values() if a.get("MetricName") == "ApproximateNumberOfMessagesVisible")
    assert dlq == ["ParkingDeadLetterQueue", "QueueDeadLetterQueue", "SubscriptionDeadLetterQueue"]
    assert RESOURCES["EnrichmentFailingAlarm"]["Condition"] == "HasEnrichment"
    assert RESOURCES["ChatFailuresAlarm"]["Condition"] == "WantsChat"
    # What each alarm means and what to do: docs/operating.md (tests/docs checks it names each).


def test_alarms_on_the_functions_metrics_name_what_it_writes():
    """A typo in a metric, dimension or code would make an alarm that never fires: CloudWatch
    accepts an alarm on a metric that does not exist."""
    namespace, names, dimensions = emitted_metrics()
    codes = error_codes()
    assert {"wrong_secret", "missing_secret", "sns_unavailable", "qase_timeout"} <= codes
    assert not {"published", "added"} & codes
    for name, alarm in alarms().items():
        for ns, metric, dims in metric_stats(alarm):
            if ns != namespace:
                continue
            assert metric in names, f"{name}: {metric}"
            # CloudWatch has a series only for a declared set of dimensions, as a whole.
            assert {d["Name"] for d in dims} in DIMENSION_SETS[metric], f"{name}: {dims}"
            for dim in dims:
                assert dim["Name"] in dimensions, f"{name}: {dim['Name']}"
                if dim["Name"] == "FunctionName":
                    assert dim["Value"] == {"Ref": "WebhookFunction"}
                if dim["Name"] == "Outcome":
                    assert dim["Value"] in {"published", "parked", "rejected", "failed"}
                if dim["Name"] == "Code":
                    assert dim["Value"] in codes, f"{name}: no such code {dim['Value']}"
            # EMF metrics exist only when requests come: no data is no failure
            # (CloudWatch User Guide, "Setting alarms on metrics created with the embedded
            # metric format").
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert alarm["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }, name


def dashboard():
    """The dashboard body as CloudWatch gets it, each ${...} replaced by a plain value."""
    text, variables = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    body = re.sub(r"\$\{([^}]+)\}", lambda m: f"sub-{m[1].replace(':', '-')}", text)
    return json.loads(body), variables


def test_dashboard_body_is_json_and_shows_what_the_issue_asks():
    body, variables = dashboard()
    assert set(variables) == {"QueueDlq", "SubscriptionDlq", "ParkingQueueName", "ParkingDlq"}
    widgets = [w["properties"] for w in body["widgets"]]
    namespace, names, _ = emitted_metrics()
    shown = set()
    for widget in widgets:
        previous = None
        for row in widget["metrics"]:
            row = [c for c in row if not isinstance(c, dict)]
            if row and row[0] == "...":
                row = previous[: len(previous) - len(row) + 1] + row[1:]
            elif previous and row:
                row = [p if c == "." else c for c, p in zip(row, previous + row[len(previous):])]
            if len(row) >= 2:
                shown.add((row[0], row[1]))
                if row[0] == namespace:
                    assert row[1] in names, row
            previous = row
        search = json.dumps(widget["metrics"])
        if "SEARCH(" in search:
            shown.add(("SEARCH", search))
    assert {
        (namespace, "Webhooks"),
        (namespace, "PublishLatency"),
        (namespace, "NotificationFailures"),
        (namespace, "EnrichmentFailures"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "ConcurrentExecutions"),
        (namespace, "Delivered"),
        (namespace, "DeliveryRetries"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
    } <= shown
    searches = [text for kind, text in shown if kind == "SEARCH"]
    assert len(searches) == 1 and "{QaseDefectFanout,FunctionName,Code}" in searches[0], \
        "a widget of the webhooks by error code"
    latency = next(w for w in widgets if "PublishLatency" in json.dumps(w["metrics"]))
    stats = {c["stat"] for row in latency["metrics"] for c in row if isinstance(c, dict)}
    assert stats == {"p50", "p99"}
    assert all(w["region"] == "sub-AWS--Region" for w in widgets)


def test_outputs_give_the_webhook_url_dashboard_topics_and_queue():
    outputs = TEMPLATE["Outputs"]
    assert outputs["TopicArn"]["Value"] == {"Ref": "Topic"}
    assert outputs["NotificationTopicArn"]["Value"] == {"Ref": "NotificationTopic"}
    assert outputs["QueueUrl"]["Value"] == {"Ref": "Queue"}
    assert "#dashboards:name=${Dashboard}" in outputs["DashboardUrl"]["Value"]["Fn::Sub"]


def test_events_directory_matches_the_deployed_api_type():
    event = json.loads((ROOT / "events" / "defect-created.json").read_text())
    assert event["version"] == "2.0", "the template deploys an HTTP API (payload 2.0)"
    assert event["routeKey"] == "POST /qase/webhook"


def test_no_secret_is_committed_in_config_or_events():
    samconfig = (ROOT / "samconfig.toml").read_text()
    assert "QaseWebhookSecret" not in samconfig
    (demo,) = re.findall(r'pub const SECRET: &str = "([^"]+)";',
                         (ROOT / "tests" / "common" / "demo.rs").read_text())
    for path in (ROOT / "events").glob("*.json"):
        headers = json.loads(path.read_text()).get("headers", {})
        secret = {k.lower(): v for k, v in headers.items()}.get("x-qase-secret")
        assert secret in (None, demo, "not-the-secret"), path.name


SLACK = {"SlackWorkspaceId": "T0123ABCD", "SlackChannelId": "C0123ABCD"}
TEAMS = {
    "TeamsTenantId": "a1b2c3d4-0000-1111-2222-333344445555",
    "TeamsTeamId": "b1b2c3d4-0000-1111-2222-333344445555",
    "TeamsChannelId": "19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2",
}
CHAT_TOPIC_RESOURCES = {"ChatTopic", "ChatFailuresAlarm"}
ALONE = {"CreateChatTopic": "true"}


@pytest.mark.parametrize(
    "channels, slack, teams",
    [({}, False, False), (SLACK, True, False), (TEAMS, False, True), ({**SLACK, **TEAMS}, True, True),
     ({"SlackWorkspaceId": "T0123ABCD"}, False, False), (ALONE, False, False),
     ({**ALONE, **SLACK}, True, False)],
)
def test_a_chat_topic_exists_with_a_channel_or_alone_and_configurations_only_with_a_channel(
        channels, slack, teams):
    # AWS allows one channel configuration per Slack channel
    # (aws-cloudformation/cloudformation-coverage-roadmap#1155), so a channel that already has
    # one gets the chat topic alone (CreateChatTopic) and adds the ChatTopicArn output to it.
    parameters = {"QaseWebhookSecret": "a" * 24, **channels}
    for name, value in channels.items():
        allowed = PARAMETERS[name].get("AllowedPattern")
        assert re.fullmatch(allowed, value) if allowed else value in PARAMETERS[name]["AllowedValues"], name
    topic = slack or teams or channels.get("CreateChatTopic") == "true"
    created = {name for name in RESOURCES if resource_created(name, parameters)}
    assert (CHAT_TOPIC_RESOURCES <= created) is topic
    assert not (CHAT_TOPIC_RESOURCES & created) or topic
    assert ("ChatChannelRole" in created) is (slack or teams), "a role only for a configuration"
    assert ("SlackChannel" in created) is slack
    assert ("TeamsChannel" in created) is teams
    env = resolve(RESOURCES["WebhookFunction"]["Properties"]["Environment"]["Variables"], parameters)
    assert ("CHAT_TOPIC_ARN" in env) is topic
    assert ("CHAT_FILTER_POLICY" in env) is topic
    # Every reference of what is created resolves (as for the endpoint options).
    outputs = {
        f"output {name}": output
        for name, output in TEMPLATE["Outputs"].items()
        if output.get("Condition") is None or evaluate({"Condition": output["Condition"]}, parameters)
    }
    assert ("output ChatTopicArn" in outputs) is topic
    known = created | set(PARAMETERS) | PSEUDO_PARAMETERS
    for name, node in [*((n, RESOURCES[n]) for n in created), *outputs.items()]:
        deployed = resolve({k: v for k, v in node.items() if k != "Condition"}, parameters)
        assert not set(references(deployed)) - known, name


def test_the_chat_topic_is_standard_and_the_channels_subscribe_only_it():
    # SNS delivers FIFO topics only to SQS; Amazon Q Developer subscribes over HTTPS.
    topic = RESOURCES["ChatTopic"]["Properties"]
    assert "FifoTopic" not in topic and "TopicName" not in topic
    env = RESOURCES["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CHAT_TOPIC_ARN"] == {"Fn::If": ["WantsChat", {"Ref": "ChatTopic"}, NO_VALUE]}
    assert env["CHAT_FILTER_POLICY"] == {"Fn::If": ["WantsChat", {"Ref": "ChatFilterPolicy"}, NO_VALUE]}
    for channel in ["SlackChannel", "TeamsChannel"]:
        properties = RESOURCES[channel]["Properties"]
        assert properties["SnsTopicArns"] == [{"Ref": "ChatTopic"}], channel
        assert properties["IamRoleArn"] == {"Fn::GetAtt": ["ChatChannelRole", "Arn"]}, channel


def configuration_name(channel, parameters, stack_id):
    """The ConfigurationName CloudFormation gives `channel` (Fn::Sub over Fn::Select of
    Fn::Split of AWS::StackId, and parameters)."""
    text, variables = RESOURCES[channel]["Properties"]["ConfigurationName"]["Fn::Sub"]
    values = {**{k: v.get("Default") for k, v in PARAMETERS.items()}, **parameters}
    for name, node in variables.items():
        index, split = node["Fn::Select"]
        separator, source = split["Fn::Split"]
        assert source == {"Ref": "AWS::StackId"}, name
        values[name] = stack_id.split(separator)[index]
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text)


STACK = "arn:aws:cloudformation:{region}:123456789012:stack/{name}/{uuid}"
LONGEST = {  # the longest values each parameter admits
    "SlackWorkspaceId": "T" * 80, "SlackChannelId": "C" * 256,
    **{k: "f" * 8 + "-ffff" * 3 + "-" + "f" * 12 for k in ["TeamsTenantId", "TeamsTeamId"]},
}


@pytest.mark.parametrize("channel, kind, parameters", [
    ("SlackChannel", "AWS::Chatbot::SlackChannelConfiguration", SLACK),
    ("TeamsChannel", "AWS::Chatbot::MicrosoftTeamsChannelConfiguration", TEAMS),
])
def test_channel_configuration_names_are_valid_unique_and_new_on_every_replacement(channel, kind, parameters):
    # The resource schema (CloudFormation's, as cfn-lint ships it): ConfigurationName is 1 to
    # 128 of [A-Za-z0-9-_], unique in the account; a change of any createOnlyProperties
    # replaces the resource, and the new one is created while the old one still holds its name.
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
    rule = schema["properties"]["ConfigurationName"]
    stack = STACK.format(region="eu-west-1", name="q" * 128, uuid="0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9")
    for values in [parameters, {**parameters, **LONGEST}]:
        name = configuration_name(channel, values, stack)
        assert rule["minLength"] <= len(name) <= rule["maxLength"], name
        assert re.fullmatch(rule["pattern"], name), name
    name = configuration_name(channel, parameters, stack)
    # The same stack name in another region, or a stack deleted and created again: another id.
    other = STACK.format(region="us-east-1", name="q" * 128, uuid="11111111-2222-3333-4444-555555555555")
    assert configuration_name(channel, parameters, other) != name
    create_only = [p.rsplit("/", 1)[1] for p in schema["createOnlyProperties"]]
    for prop in create_only:
        if prop == "ConfigurationName":
            continue
        (parameter,) = {v["Ref"] for v in [RESOURCES[channel]["Properties"][prop]]}
        changed = {**parameters, parameter: parameters[parameter].replace("0", "9")}
        assert configuration_name(channel, changed, stack) != name, f"{prop} replaces: a new name"


def test_nobody_in_the_channel_can_run_aws_commands_through_it():
    # Without guardrails a channel configuration gets AdministratorAccess (CloudFormation
    # reference, GuardrailPolicies); AWSDenyAll denies every action, and the channel role
    # has no permission at all (custom notifications need none).
    for channel in ["SlackChannel", "TeamsChannel"]:
        properties = RESOURCES[channel]["Properties"]
        assert properties["GuardrailPolicies"] == [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSDenyAll"}]
        assert properties["UserRoleRequired"] is True
    role = RESOURCES["ChatChannelRole"]["Properties"]
    assert set(role) == {"AssumeRolePolicyDocument"}, "no policies, no managed policies"
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement == {"Effect": "Allow", "Principal": {"Service": "chatbot.amazonaws.com"},
                         "Action": "sts:AssumeRole"}


def test_chat_filter_defaults_to_new_and_resolved_defects():
    assert default_policy("ChatFilterPolicy") == {"event_name": ["defect.created", "defect.resolved"]}


def test_a_refused_webhook_is_parked_apart_from_the_topics_key_and_delivered_by_the_same_build():
    queue = RESOURCES["ParkingQueue"]["Properties"]
    # SSE-SQS: the topics' KMS key (alias/aws/sns) cannot block parking.
    assert queue["SqsManagedSseEnabled"] is True and "KmsMasterKeyId" not in queue
    # "The maximum size is 1 MiB or 1,048,576 bytes" (SQS API Reference, SendMessage).
    assert queue["MaximumMessageSize"] == 1_048_576
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ParkingDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 12,
    }
    delivery = RESOURCES["DeliveryFunction"]
    webhook = RESOURCES["WebhookFunction"]
    # What `sam build` builds once for both: the same code, metadata, runtime and handler.
    assert delivery["Metadata"] == webhook["Metadata"]
    for key in ("CodeUri", "Handler", "Runtime", "Architectures"):
        assert delivery["Properties"][key] == webhook["Properties"][key], key
    # "set the source queue's visibility timeout to at least six times the timeout that you
    # configure on your function" (Lambda Developer Guide, "Using Lambda with Amazon SQS").
    assert queue["VisibilityTimeout"] >= 6 * delivery["Properties"]["Timeout"]
    mapping = RESOURCES["DeliveryEventSource"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ParkingQueue", "Arn"]}
    assert mapping["FunctionName"] == {"Ref": "DeliveryFunction"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # A batch, one publish after another within the SNS client's 7 s each, fits the timeout.
    assert mapping["BatchSize"] * 7 < delivery["Properties"]["Timeout"]
    assert delivery["Properties"]["Policies"] == [
        {"SQSPollerPolicy": {"QueueName": {"Fn::GetAtt": ["ParkingQueue", "QueueName"]}}},
        {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["Topic", "TopicName"]}}},
        {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["NotificationTopic", "TopicName"]}}},
        {
            "Fn::If": [
                "WantsChat",
                {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["ChatTopic", "TopicName"]}}},
                {"Ref": "AWS::NoValue"},
            ]
        },
    ]
    assert "Events" not in delivery["Properties"], "no API invokes it"
    variables = delivery["Properties"]["Environment"]["Variables"]
    assert variables["PARKING_QUEUE_URL"] == {"Ref": "ParkingQueue"}
    assert webhook["Properties"]["Environment"]["Variables"]["PARKING_QUEUE_URL"] == {"Ref": "ParkingQueue"}
    assert not {"QASE_API_TOKEN", "QASE_API_TOKEN_ARN", "QASE_WEBHOOK_SECRET_ARN"} & set(variables)


def test_what_the_security_scan_skips_is_skipped_in_the_template_with_its_reason():
    """`make template-check` runs checkov (requirements/checkov.txt) and fails on any finding;
    each check it skips is skipped on its resource, with the reason a security review reads
    (docs/reliability-and-security.md, "The security scan")."""
    skipped = {}
    for name, resource in RESOURCES.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert set(skip) == {"id", "comment"} and len(skip["comment"]) > 80, (name, skip)
            skipped.setdefault(skip["id"], set()).add(name)
    functions = {"WebhookFunction", "DeliveryFunction"}
    assert skipped == {
        "CKV_AWS_116": functions,  # no DLQ: no asynchronous invocation
        "CKV_AWS_117": functions,  # no VPC: public endpoints only
        "CKV_AWS_173": functions,  # environment keys: Secrets Manager is the way
        "CKV_AWS_115": functions,  # concurrency bounded by throttling and the mapping
        "CKV_AWS_158": {"FunctionLogGroup", "DeliveryLogGroup", "ApiAccessLogGroup"},
        "CKV_AWS_27": {"ParkingQueue", "ParkingDeadLetterQueue", "Queue", "QueueDeadLetterQueue",
                       "SubscriptionDeadLetterQueue"},
    }
    for name in skipped["CKV_AWS_27"]:
        assert RESOURCES[name]["Properties"]["SqsManagedSseEnabled"] is True, name
