"""The editions `make package` writes (scripts/editions.py): a template per architecture that
deploys the bootstrap.zip beside it, and one the AWS Serverless Application Repository (SAR)
accepts. The rules below are stated from AWS's pages, not from the code under test; cfn-lint
does not check SAR's metadata or resource types (an invalid Name or 12 Labels lint clean), so
these tests are where the template meets them before `sam publish` would refuse it."""

import json
import re
import sys
from pathlib import Path

import pytest
from cfnlint.api import lint_file

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import editions  # noqa: E402  (scripts/ is not a package)

TEMPLATE = editions.template()
METADATA = TEMPLATE["Metadata"]["AWS::ServerlessRepo::Application"]
ARM64 = editions.for_architecture(TEMPLATE, "arm64")
SAR = editions.for_sar(ARM64, "https://example.com/qase-defect-fanout")

# SAM Developer Guide, "AWS SAM template Metadata section properties"
# (serverless-sam-template-publishing-applications-metadata-properties.html): each property's
# length and pattern as the page states them.
SAR_RULES = {
    "Name": (140, r"[a-zA-Z0-9\-]+"),
    "Description": (256, r"(?s).+"),
    "Author": (127, r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?"),
}
LABEL_RULE = (127, r"[a-zA-Z0-9+\-_:\/@]+")
MAX_LABELS = 10
MAX_FILE_BYTES = 5 * 1024 * 1024  # LicenseUrl, ReadmeUrl: "Maximum size: 5 MB."
SEMVER = r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
# Resource types SAR refuses: "Error: The template contains unsupported resource types.
# [AWS::Lambda::Url]" (aws/serverless-application-model#3402, closed wontfix); the Amazon Q
# Developer (Chatbot) channel configurations are not in SAR's "List of supported AWS resources".
REFUSED_BY_SAR = {
    "AWS::Lambda::Url",
    "AWS::Chatbot::SlackChannelConfiguration",
    "AWS::Chatbot::MicrosoftTeamsChannelConfiguration",
}


@pytest.mark.parametrize("prop", sorted(SAR_RULES))
def test_the_sar_metadata_meets_the_length_and_pattern_the_sam_guide_states(prop):
    longest, pattern = SAR_RULES[prop]
    value = METADATA[prop]
    assert isinstance(value, str) and 1 <= len(value) <= longest, (prop, len(value))
    assert re.fullmatch(pattern, value), (prop, value)


def test_the_sar_labels_are_at_most_ten_and_each_matches_the_pattern():
    longest, pattern = LABEL_RULE
    labels = METADATA["Labels"]
    assert 1 <= len(labels) <= MAX_LABELS
    for label in labels:
        assert 1 <= len(label) <= longest and re.fullmatch(pattern, label), label


def test_the_sar_metadata_has_no_intrinsic_function_and_a_semantic_version():
    """The guide: "AWS CloudFormation intrinsic functions aren't supported by the
    AWS::ServerlessRepo::Application metadata key"; SemanticVersion follows semver.org."""
    for prop, value in METADATA.items():
        values = value if isinstance(value, list) else [value]
        assert all(isinstance(v, str) for v in values), f"{prop} is not plain text: {value}"
    assert re.fullmatch(SEMVER, METADATA["SemanticVersion"])


def test_the_licence_and_readme_are_local_files_sam_package_can_upload():
    assert METADATA["SpdxLicenseId"] == "MIT"
    assert (ROOT / METADATA["LicenseUrl"]).read_text().startswith("MIT License")
    for prop in ("LicenseUrl", "ReadmeUrl"):
        path = ROOT / METADATA[prop]
        assert path.is_file() and path.stat().st_size <= MAX_FILE_BYTES, prop


def test_the_sar_edition_holds_no_resource_type_sar_refuses_and_names_nothing_it_dropped():
    assert REFUSED_BY_SAR & {r["Type"] for r in TEMPLATE["Resources"].values()}, \
        "template.yaml no longer has what the SAR edition must drop: update this test"
    assert not REFUSED_BY_SAR & {r["Type"] for r in SAR["Resources"].values()}
    assert editions.dangling(SAR) == []
    # SAR accepts the SAM transform and no other ("Provided Transform [...] is unsupported.
    # Please use one of the following: ['AWS::Serverless-2016-10-31']", aws/aws-sam-cli#7231).
    assert SAR["Transform"] == "AWS::Serverless-2016-10-31"


def test_the_sar_edition_keeps_the_http_api_and_every_output_the_readme_names():
    assert "HttpApi" in SAR["Resources"] and "WebhookFunctionUrl" not in SAR["Resources"]
    url = json.dumps(SAR["Outputs"]["WebhookUrl"]["Value"])
    assert "${HttpApi}.execute-api" in url and "lambda-url" not in url, url
    for output in ("WebhookUrl", "TopicArn", "NotificationTopicArn", "QueueUrl", "ChatTopicArn"):
        assert output in SAR["Outputs"], output
    for name in editions.SAR_CHANNEL_PARAMETERS:
        assert "Amazon Q Developer console" in SAR["Parameters"][name]["Description"]
    metadata = SAR["Metadata"]["AWS::ServerlessRepo::Application"]
    assert metadata["SourceCodeUrl"] == metadata["HomePageUrl"] == "https://example.com/qase-defect-fanout"


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_an_architecture_edition_deploys_its_zip_and_changes_nothing_else(arch):
    edition = editions.for_architecture(TEMPLATE, arch)
    # Both functions (the webhook's and the parking queue's delivery) run the one bootstrap.
    functions = ["DeliveryFunction", "WebhookFunction"]
    assert sorted(n for n, r in edition["Resources"].items()
                  if r["Type"] == "AWS::Serverless::Function") == functions
    for name in functions:
        function = edition["Resources"][name]
        assert function["Properties"]["CodeUri"] == "bootstrap.zip", name
        assert "Metadata" not in function, "a BuildMethod would make `sam deploy` want a Rust build"
    assert edition["Parameters"]["Architecture"]["AllowedValues"] == [arch]
    # Everything else is template.yaml's.
    original = json.loads(json.dumps(TEMPLATE))
    for name in functions:
        original["Resources"][name].pop("Metadata")
        original["Resources"][name]["Properties"]["CodeUri"] = "bootstrap.zip"
    original["Parameters"]["Architecture"] = edition["Parameters"]["Architecture"]
    assert edition == original


@pytest.mark.parametrize("name", ["arm64", "x86_64", "sar"])
def test_cfn_lint_finds_nothing_in_each_edition(name, tmp_path):
    edition = SAR if name == "sar" else editions.for_architecture(TEMPLATE, name)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(edition, indent=2))
    (tmp_path / "bootstrap.zip").write_bytes(b"")
    findings = lint_file(path)
    assert findings == [], "\n".join(str(f) for f in findings)


def test_every_parameter_a_sar_user_fills_in_is_described():
    """SAR's console form shows each parameter's Description; CloudFormation allows 4,000
    characters ("Parameters" section, Description: "A string of up to 4000 characters")."""
    for name, parameter in SAR["Parameters"].items():
        description = parameter.get("Description", "")
        assert 20 <= len(description) <= 4000, (name, description)
