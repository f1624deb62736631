"""What cfn-lint and `sam validate` cannot check in template.yaml: that its filter policies,
permissions, conditions and outputs say what the README promises.

Run by `make test` (pytest from .venv). The template is read with cfn-lint's YAML loader, which
understands CloudFormation's short tags (!Ref, !If, ...)."""

import json
import re
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load(str(ROOT / "template.yaml"))
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]


def published_attributes():
    """The attribute names the function publishes: the `pub const ATTR_*` in src/message.rs."""
    source = (ROOT / "src" / "message.rs").read_text()
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


@pytest.mark.parametrize("parameter", ["EmailFilterPolicy", "QueueFilterPolicy"])
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


@pytest.mark.parametrize("topic", ["Topic", "NotificationTopic"])
def test_both_topics_are_encrypted_with_kms(topic):
    assert RESOURCES[topic]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"


def test_function_may_publish_to_exactly_these_two_topics_and_read_only_its_own_secret():
    policies = RESOURCES["WebhookFunction"]["Properties"]["Policies"]
    assert policies == [
        {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["Topic", "TopicName"]}}},
        {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["NotificationTopic", "TopicName"]}}},
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


def test_api_is_post_only_on_the_webhook_path_with_stage_throttling():
    (event,) = RESOURCES["WebhookFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "HttpApi"
    assert event["Properties"]["Method"] == "POST"
    assert event["Properties"]["Path"] == "/qase/webhook"
    throttling = RESOURCES["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert throttling == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }


def test_alarms_watch_function_errors_api_5xx_and_both_dead_letter_queues():
    alarms = {
        name: r["Properties"]
        for name, r in RESOURCES.items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    watched = {(a["Namespace"], a["MetricName"]) for a in alarms.values()}
    assert ("AWS/Lambda", "Errors") in watched
    assert ("AWS/ApiGateway", "5xx") in watched
    dlq_alarms = [
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms.values()
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert sorted(dlq_alarms) == ["QueueDeadLetterQueue", "SubscriptionDeadLetterQueue"]


def test_outputs_give_the_webhook_url_both_topics_and_queue():
    outputs = TEMPLATE["Outputs"]
    assert outputs["WebhookUrl"]["Value"]["Fn::Sub"].endswith("/qase/webhook")
    assert outputs["TopicArn"]["Value"] == {"Ref": "Topic"}
    assert outputs["NotificationTopicArn"]["Value"] == {"Ref": "NotificationTopic"}
    assert outputs["QueueUrl"]["Value"] == {"Ref": "Queue"}


def test_events_directory_matches_the_deployed_api_type():
    event = json.loads((ROOT / "events" / "defect-created.json").read_text())
    assert event["version"] == "2.0", "the template deploys an HTTP API (payload 2.0)"
    assert event["routeKey"] == "POST /qase/webhook"


def test_no_secret_is_committed_in_config_or_events():
    samconfig = (ROOT / "samconfig.toml").read_text()
    assert "QaseWebhookSecret" not in samconfig
    for path in (ROOT / "events").glob("*.json"):
        headers = json.loads(path.read_text()).get("headers", {})
        secret = {k.lower(): v for k, v in headers.items()}.get("x-qase-secret")
        assert secret in (None, "local-demo-secret", "not-the-secret"), path.name
