"""Editions of template.yaml that deploy without building Rust (`make package`).

- One per architecture, for `sam deploy`: the function's code is the `bootstrap.zip` beside
  the template (built by `sam build`), not a cargo-lambda build, and the architecture is the
  zip's.
- One for the AWS Serverless Application Repository (SAR), which refuses templates holding
  resource types it does not support: AWS::Lambda::Url ("The template contains unsupported
  resource types. [AWS::Lambda::Url]", aws/serverless-application-model#3402, closed
  wontfix) and the Amazon Q Developer (Chatbot) channel configurations, absent from SAR's
  "List of supported AWS resources". That edition keeps the HTTP API endpoint only and the
  chat topic without the channel configurations (a channel is then connected in the Amazon Q
  Developer console). Everything a removed resource made necessary (its conditions,
  parameters, outputs) goes with it, and what is left must refer only to what is left.

Pure functions over the template as CloudFormation reads it (cfn-lint's loader, so the short
tags !Ref, !If... are their long forms); written out as JSON, which CloudFormation and SAM
read as well as YAML.
"""

import copy
import json
import re
from pathlib import Path

from cfnlint.decode.cfn_yaml import load

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURES = ("arm64", "x86_64")
SAR_UNSUPPORTED = (
    "AWS::Lambda::Url",
    "AWS::Chatbot::SlackChannelConfiguration",
    "AWS::Chatbot::MicrosoftTeamsChannelConfiguration",
)
# The SAR edition's endpoint: the HTTP API (a function URL is an AWS::Lambda::Url).
SAR_FIXED_PARAMETERS = {"Endpoint": "HttpApi"}
PSEUDO_PARAMETERS = {
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
    "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}
NO_VALUE = {"Ref": "AWS::NoValue"}
SAR_METADATA = "AWS::ServerlessRepo::Application"
# What the channel parameters still do in the SAR edition, said where its user reads them.
SAR_CHANNEL_NOTE = (
    " In this edition the IDs only create the chat topic: connect the channel to the"
    " ChatTopicArn output in the Amazon Q Developer console."
)
SAR_CHANNEL_PARAMETERS = ("SlackWorkspaceId", "TeamsTenantId")


def template(path=ROOT / "template.yaml"):
    """template.yaml as plain dicts, lists and strings (its short tags in long form)."""
    return json.loads(json.dumps(load(str(path))))


def version(tpl):
    """The application's version: the SAR metadata's SemanticVersion."""
    return tpl["Metadata"][SAR_METADATA]["SemanticVersion"]


def for_architecture(tpl, arch):
    """The template for `sam deploy` of the bootstrap.zip built for `arch` beside it."""
    assert arch in ARCHITECTURES, arch
    out = copy.deepcopy(tpl)
    parameter = out["Parameters"]["Architecture"]
    parameter["Default"] = arch
    parameter["AllowedValues"] = [arch]
    # Both functions run the one bootstrap (BuildMethod rust-cargolambda): nothing to build.
    for resource in out["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource.pop("Metadata", None)
            resource["Properties"]["CodeUri"] = "bootstrap.zip"
    return out


def for_sar(tpl, source_code_url=None):
    """The SAR edition of an architecture's template (see the module's doc)."""
    out = copy.deepcopy(tpl)
    for name, value in SAR_FIXED_PARAMETERS.items():
        out["Parameters"][name]["Default"] = value
        out["Parameters"][name]["AllowedValues"] = [value]
    decided = decidable_conditions(out, SAR_FIXED_PARAMETERS)
    prune(out, decided)
    removed = {n for n, r in out["Resources"].items() if r["Type"] in SAR_UNSUPPORTED}
    for name in removed:
        del out["Resources"][name]
    out["Outputs"] = {
        name: output
        for name, output in out["Outputs"].items()
        if not set(references(output)) & removed
    }
    drop_unused_parameters(out)
    for name in SAR_CHANNEL_PARAMETERS:
        out["Parameters"][name]["Description"] += SAR_CHANNEL_NOTE
    if source_code_url:
        metadata = out["Metadata"][SAR_METADATA]
        metadata["SourceCodeUrl"] = source_code_url
        metadata["HomePageUrl"] = source_code_url
    out["Description"] = (
        out["Description"]
        + " (Serverless Application Repository edition: HTTP API endpoint; connect a Slack or"
        " Teams channel to the ChatTopicArn output in the Amazon Q Developer console.)"
    )
    return out


def evaluate(condition, conditions, parameters):
    """A condition's value when it depends only on `parameters`, else None."""
    if isinstance(condition, dict):
        (fn, arg), = condition.items()
        if fn == "Ref":
            return parameters.get(arg)
        if fn == "Condition":
            return evaluate(conditions[arg], conditions, parameters)
        values = [evaluate(c, conditions, parameters) for c in arg]
        if fn == "Fn::Equals":
            return None if None in values else values[0] == values[1]
        if fn == "Fn::Not":
            return None if values[0] is None else not values[0]
        if fn == "Fn::And":
            return False if False in values else (None if None in values else True)
        if fn == "Fn::Or":
            return True if True in values else (None if None in values else False)
        raise AssertionError(f"unexpected function {fn}")
    return condition


def decidable_conditions(tpl, parameters):
    conditions = tpl.get("Conditions", {})
    decided = {}
    for name, condition in conditions.items():
        value = evaluate(condition, conditions, parameters)
        if value is not None:
            decided[name] = value
    return decided


def prune(tpl, decided):
    """Drops what a false condition would not create, and every decided Fn::If's other
    branch; decided conditions are then no longer named, and go."""
    for section in ("Resources", "Outputs"):
        tpl[section] = {
            name: node
            for name, node in tpl[section].items()
            if decided.get(node.get("Condition"), True)
        }
        for node in tpl[section].values():
            if node.get("Condition") in decided:
                del node["Condition"]
    for section in ("Resources", "Outputs"):
        tpl[section] = choose(tpl[section], decided)
    tpl["Conditions"] = {
        name: choose(condition, decided)
        for name, condition in tpl["Conditions"].items()
        if name not in decided
    }


def choose(node, decided):
    """`node` with each Fn::If on a decided condition replaced by its chosen branch."""
    if isinstance(node, dict):
        if list(node) == ["Fn::If"] and node["Fn::If"][0] in decided:
            condition, if_true, if_false = node["Fn::If"]
            return choose(if_true if decided[condition] else if_false, decided)
        if list(node) == ["Fn::If"]:
            # Undecided: both branches stay, an AWS::NoValue one included (it is the point).
            condition, *branches = node["Fn::If"]
            return {"Fn::If": [condition, *(choose(b, decided) for b in branches)]}
        if list(node) == ["Condition"] and node["Condition"] in decided:
            raise AssertionError(f"a condition names decided {node['Condition']}")
        chosen = {k: choose(v, decided) for k, v in node.items()}
        return {k: v for k, v in chosen.items() if v != NO_VALUE}
    if isinstance(node, list):
        return [v for v in (choose(v, decided) for v in node) if v != NO_VALUE]
    return node


def references(node):
    """Every logical id, parameter or pseudo parameter a node names (Ref, Fn::GetAtt,
    ${...} in Fn::Sub)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".")[0]
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if name not in variables:
                        yield name.split(".")[0]
                yield from references(variables)
            else:
                yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def named_conditions(node):
    """Every condition a node names (Condition keys, Fn::If, {"Condition": ...})."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Condition" and isinstance(value, str):
                yield value
            elif key == "Fn::If":
                yield value[0]
                yield from named_conditions(value[1:])
            else:
                yield from named_conditions(value)
    elif isinstance(node, list):
        for value in node:
            yield from named_conditions(value)


def drop_unused_parameters(tpl):
    """Parameters nothing names any more go, from the console's groups too."""
    used = set(references([tpl["Resources"], tpl["Outputs"], tpl["Conditions"], tpl.get("Rules", {})]))
    unused = set(tpl["Parameters"]) - used
    for name in unused:
        del tpl["Parameters"][name]
    interface = tpl["Metadata"].get("AWS::CloudFormation::Interface", {})
    for group in interface.get("ParameterGroups", []):
        group["Parameters"] = [p for p in group["Parameters"] if p not in unused]
    interface["ParameterGroups"] = [g for g in interface.get("ParameterGroups", []) if g["Parameters"]]


def dangling(tpl):
    """What the template names but does not define: (where, name) pairs."""
    known = set(tpl["Resources"]) | set(tpl["Parameters"]) | PSEUDO_PARAMETERS
    found = []
    for section in ("Resources", "Outputs"):
        for name, node in tpl[section].items():
            found += [(f"{section}.{name}", ref) for ref in references(node) if ref not in known]
            found += [
                (f"{section}.{name}", f"condition {c}")
                for c in named_conditions(node)
                if c not in tpl.get("Conditions", {})
            ]
    for name, condition in tpl.get("Conditions", {}).items():
        found += [(f"Conditions.{name}", f"condition {c}") for c in named_conditions(condition) if c not in tpl["Conditions"]]
        found += [(f"Conditions.{name}", ref) for ref in references(condition) if ref not in known]
    return found
