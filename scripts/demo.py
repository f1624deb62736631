#!/usr/bin/env python3
"""The whole job on this machine, with no AWS account.

`make demo` runs this: it starts the SNS/SQS emulator (moto's server mode), creates the two
topics and the subscriptions template.yaml creates (with the template's default filter
policies; the email address is stood in for by a queue subscribed to the notifications topic
without raw delivery, which receives what an email carries: the text and its subject), runs the
function with `cargo lambda watch`, sends it every sample Qase webhook over HTTP plus a few bad
requests, prints what each subscriber received and one email in full, and stops everything it
started, also on Ctrl-C or failure. It exits non-zero when any event did not arrive exactly
where its subscriber's filter policy says.

Enrichment is on: a mock Qase API on loopback (a thread of this script) answers the function's
`GET /v1/defect/ID/1` with the demo's defect, so the email for `defect.resolved`, whose webhook
carries only the id, shows the defect's title, severity and status.

Then an outage: a proxy between the function and SNS answers `500 InternalError` for three
webhooks; each is answered `202` and parked in the parking queue, nothing reaches a
subscriber; SNS comes back, the demo hands the parking queue's batch to the function as
Lambda's SQS event source would, and each subscriber receives each parked event once.

`make watch` runs it with --serve: the same set-up on fixed ports, then it waits for you to
send requests (curl, or `make invoke EVENT=events/<file>.json`) until Ctrl-C.
"""

import argparse
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import boto3
from cfnlint.decode.cfn_yaml import load

ROOT = Path(__file__).resolve().parents[1]
FUNCTION = "qase-defect-fanout"
# The secret the sample events carry (tests/common/demo.rs); never a production secret.
SECRET = json.loads((ROOT / "events" / "defect-created.json").read_text())["headers"]["x-qase-secret"]
QASE_API_TOKEN = "local-demo-qase-token"  # what the mock Qase API accepts; never a real token
# What the mock Qase API says of defect 1 of project ID (the fixtures' defect).
DEFECT = {
    "id": 1, "title": "Example defect", "actual_result": "Something", "severity": "normal",
    "status": "resolved", "milestone_id": None,
    "tags": [{"title": "login", "internal_id": 1}, {"title": "checkout", "internal_id": 2}],
    "resolved_at": "2026-11-22T10:00:00+00:00",
}
REGION = "us-east-1"
TOPIC_NAME = "qase-defect-fanout-demo-events"
NOTIFICATION_TOPIC_NAME = "qase-defect-fanout-demo-notifications"
CHAT_TOPIC_NAME = "qase-defect-fanout-demo-chat"
LOG_DIR = ROOT / "target" / "demo"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, what, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}; see {LOG_DIR}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


class MockQaseApi(http.server.BaseHTTPRequestHandler):
    """`GET /v1/defect/ID/1` with the demo's token: the demo's defect; anything else: 404."""

    def do_GET(self):
        if self.headers.get("Token") != QASE_API_TOKEN:
            self.answer(401, {"status": False, "errorMessage": "API token is invalid"})
        elif self.path == "/v1/defect/ID/1":
            self.answer(200, {"status": True, "result": DEFECT})
        else:
            self.answer(404, {"status": False, "errorMessage": "Defect not found"})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # quiet: the function's log says what it asked
        pass


class SnsOutage(http.server.BaseHTTPRequestHandler):
    """A proxy between the function and the emulator's SNS: it forwards every request, or,
    while `refusing`, answers what SNS answers when it fails (500 InternalError)."""

    refusing = False
    upstream = ""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if SnsOutage.refusing:
            error = (b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code>"
                     b"<Message>the demo's outage</Message></Error></ErrorResponse>")
            return self.answer(500, {"Content-Type": "text/xml"}, error)
        request = urllib.request.Request(SnsOutage.upstream + self.path, data=body, method="POST",
                                         headers={k: v for k, v in self.headers.items()
                                                  if k.lower() not in ("host", "content-length")})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self.answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as e:
            self.answer(e.code, dict(e.headers), e.read())

    def answer(self, status, headers, body):
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding",
                                    "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_sns_proxy(upstream):
    """The SNS proxy on a free loopback port, in a thread that ends with this script."""
    SnsOutage.upstream = upstream
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SnsOutage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def start_mock_qase_api():
    """The mock Qase API on a free loopback port, in a thread that ends with this script."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MockQaseApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


class Processes:
    """Every process this script starts, each in its own process group, stopped on exit."""

    def __init__(self):
        self.running = []

    def start(self, name, argv, env=None):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"{name}.log", "w")
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.running.append((name, process))
        return process

    def stop_all(self):
        for name, process in reversed(self.running):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in reversed(self.running):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.running.clear()


def template_subscriptions():
    """The subscriptions template.yaml creates, with its default filter policies; the chat
    channel's (Amazon Q Developer makes it, without a filter policy: the function applies
    ChatFilterPolicy before it publishes to the chat topic)."""
    template = load(str(ROOT / "template.yaml"))
    parameters, resources = template["Parameters"], template["Resources"]
    topic_of = {  # subscription resource -> "events" or "notifications", as the template wires it
        name: {"Topic": "events", "NotificationTopic": "notifications"}[
            resources[name]["Properties"]["TopicArn"]["Ref"]]
        for name in ("EmailSubscription", "QueueSubscription")
    }
    assert resources["SlackChannel"]["Properties"]["SnsTopicArns"] == [{"Ref": "ChatTopic"}]
    return [
        # (name, topic, filter policy, applied by SNS, raw delivery, what it stands for)
        ("email", topic_of["EmailSubscription"],
         json.loads(parameters["EmailFilterPolicy"]["Default"]), True, False,
         "email subscription on the notifications topic (stand-in queue)"),
        ("queue", topic_of["QueueSubscription"],
         json.loads(parameters["QueueFilterPolicy"]["Default"]), True, True,
         "SQS queue on the events topic, raw delivery"),
        ("chat", "chat",
         json.loads(parameters["ChatFilterPolicy"]["Default"]), False, False,
         "Slack/Teams channel on the chat topic (stand-in queue; the function applies the policy)"),
    ]


def chat_schema_problems(message):
    """What Amazon Q Developer would drop (its custom notification schema, Administrator
    Guide, "Custom notifications using Amazon Q Developer in chat applications")."""
    try:
        chat = json.loads(message)
    except ValueError:
        return ["the chat message is not JSON"]
    problems = []
    if chat.get("version") != "1.0" or chat.get("source") != "custom":
        problems.append(f"version/source not 1.0/custom: {chat.get('version')}/{chat.get('source')}")
    content = chat.get("content") or {}
    if content.get("textType") != "client-markdown":
        problems.append("content.textType is not client-markdown")
    if not str(content.get("description", "")).strip():
        problems.append("content.description is missing")
    if set(chat) - {"version", "source", "id", "content", "metadata"}:
        problems.append(f"keys outside the schema: {sorted(set(chat))}")
    return problems


def as_read_in_the_channel(message):
    """The chat message as a person in Slack or Teams reads it: it has no markup, one fact a
    paragraph."""
    content = json.loads(message)["content"]
    lines = [content["title"], *(p for p in content["description"].split("\n\n") if p)]
    return lines + list(content.get("nextSteps", []))

def policy_selects(policy, attributes):
    """SNS filter policy semantics for the operators the template uses: exact strings and
    `prefix`. Every key must match; a key matches when any of its values does."""
    for key, allowed in policy.items():
        value = attributes.get(key)
        if value is None:
            return False
        if not any(
            value == rule if isinstance(rule, str)
            else value.startswith(rule["prefix"]) if set(rule) == {"prefix"}
            else sys.exit(f"demo: unsupported filter operator {rule}")
            for rule in allowed
        ):
            return False
    return True


class Emulator:
    def __init__(self, port):
        self.endpoint = f"http://127.0.0.1:{port}"
        kwargs = dict(endpoint_url=self.endpoint, region_name=REGION,
                      aws_access_key_id="demo", aws_secret_access_key="demo")
        self.sns = boto3.client("sns", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)

    def set_up(self):
        topics = {
            "events": self.sns.create_topic(Name=TOPIC_NAME)["TopicArn"],
            "notifications": self.sns.create_topic(Name=NOTIFICATION_TOPIC_NAME)["TopicArn"],
            "chat": self.sns.create_topic(Name=CHAT_TOPIC_NAME)["TopicArn"],
        }
        queues = {}
        for name, topic, policy, by_sns, raw, _ in template_subscriptions():
            url = self.sqs.create_queue(QueueName=f"demo-{name}")["QueueUrl"]
            arn = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attributes = {"RawMessageDelivery": str(raw).lower()}
            if by_sns:
                attributes["FilterPolicy"] = json.dumps(policy)
            self.sns.subscribe(TopicArn=topics[topic], Protocol="sqs", Endpoint=arn,
                               Attributes=attributes)
            queues[name] = url
        queues["parking"] = self.sqs.create_queue(QueueName="demo-parking")["QueueUrl"]
        return topics, queues

    def drain(self, url):
        messages = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                MessageAttributeNames=["All"]).get("Messages", [])
            if not batch:
                return messages
            for m in batch:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            messages.extend(batch)


def start_everything(processes, moto_port, watch_port):
    venv_bin = Path(sys.executable).parent
    moto = processes.start("moto", [str(venv_bin / "moto_server"), "-H", "127.0.0.1",
                                    "-p", str(moto_port)])
    wait_for_port(moto_port, moto, "moto_server", 60)
    emulator = Emulator(moto_port)
    topics, queues = emulator.set_up()

    chat_policy = next(p for n, _, p, _, _, _ in template_subscriptions() if n == "chat")
    env = dict(os.environ,
               TOPIC_ARN=topics["events"], NOTIFICATION_TOPIC_ARN=topics["notifications"],
               CHAT_TOPIC_ARN=topics["chat"], CHAT_FILTER_POLICY=json.dumps(chat_policy),
               QASE_WEBHOOK_SECRET=SECRET,
               QASE_API_URL=start_mock_qase_api(), QASE_API_TOKEN=QASE_API_TOKEN,
               AWS_ENDPOINT_URL=emulator.endpoint, AWS_REGION=REGION,
               AWS_ENDPOINT_URL_SNS=start_sns_proxy(emulator.endpoint),
               PARKING_QUEUE_URL=queues["parking"],
               AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo",
               RUST_LOG=os.environ.get("RUST_LOG", "info"))
    # cargo-lambda and the zig it builds with live in the venv next to this interpreter.
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    watch = processes.start("function", ["cargo", "lambda", "watch", "--ignore-changes",
                                         "-A", "127.0.0.1", "-P", str(watch_port)], env=env)
    wait_for_port(watch_port, watch, "cargo lambda watch", 900)
    url = f"http://127.0.0.1:{watch_port}/lambda-url/{FUNCTION}/qase/webhook"
    # The first request waits for the function to compile and start.
    deadline = time.monotonic() + 900
    while send(url, "GET", b"", {})[0] != 405:
        if watch.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the function did not start; see {LOG_DIR}/function.log")
        time.sleep(0.5)
    return emulator, topics, queues, url


def send(url, method, body, headers):
    request = urllib.request.Request(url, data=body if method != "GET" else None,
                                     method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        payload = e.read()
        try:
            return e.code, json.loads(payload)
        except ValueError:
            return e.code, payload.decode(errors="replace")
    except (urllib.error.URLError, ConnectionError):
        return None, None


def requests_to_send():
    """(label, event name or None, method, body, headers) for every request the demo sends."""
    ok = {"Content-Type": "application/json", "X-Qase-Secret": SECRET}
    fixtures = sorted((ROOT / "tests" / "fixtures" / "qase").glob("*.json"))
    extra = [ROOT / "tests" / "fixtures" / "defect.created.case-step.json",
             ROOT / "tests" / "fixtures" / "defect.resolved.legacy-envelope.json"]
    out = []
    for path in fixtures + extra:
        body = path.read_bytes()
        label = path.stem.replace(".case-step", " (case+step)").replace(
            ".legacy-envelope", " (pre-2022 envelope)")
        out.append((label, body, "POST", ok))
    created = (ROOT / "tests" / "fixtures" / "qase" / "defect.created.json").read_text()

    def retitled(title):  # a body of its own, so that any copy that leaked would be seen
        return created.replace('"Example defect"', json.dumps(title)).encode()

    out += [
        ("defect.created, wrong secret", retitled("Sent with a wrong secret"), "POST",
         dict(ok, **{"X-Qase-Secret": "nope"})),
        ("defect.created, no secret", retitled("Sent without a secret"), "POST",
         {"Content-Type": "application/json"}),
        ("not JSON", b'{"event_name": "defect.created", "payload": {', "POST", ok),
        ("GET instead of POST", b"", "GET", ok),
    ]
    return out


def received_by(emulator, queues, subscriptions):
    """What each subscriber's queue holds: (the message id, the text, its attributes)."""
    received = {}
    for name, _, _, _, raw, _ in subscriptions:
        for message in emulator.drain(queues[name]):
            if raw:  # the body as published; SQS gives the attributes beside it
                text = message["Body"]
                attributes = {k: v["StringValue"]
                              for k, v in message.get("MessageAttributes", {}).items()}
                message_id = None
            else:  # the SNS envelope an email is made of: Message, Subject, MessageAttributes
                envelope = json.loads(message["Body"])
                text = envelope["Message"]
                attributes = {k: v["Value"]
                              for k, v in envelope.get("MessageAttributes", {}).items()}
                attributes["_subject"] = envelope.get("Subject", "")
                message_id = envelope["MessageId"]
            received.setdefault(name, []).append((message_id, text, attributes))
    return received


def copies_of(row, name, raw, received):
    """The messages subscriber `name` received for the request `row`: the events topic's by
    body (byte for byte), the notifications and chat topics' by the id the 202 answered."""
    answer = row["answer"] if isinstance(row["answer"], dict) else {}
    if raw:
        return [m for m in received.get(name, []) if m[1] == row["body"]]
    key = "chat_id" if name == "chat" else "notification_id"
    return [m for m in received.get(name, [])
            if m[0] is not None and m[0] == answer.get(key)]


def emf_documents(expected, timeout=10.0):
    """The function's metrics documents (the `{"_aws": ...}` lines of its log), once there are
    `expected` of them: cargo lambda watch copies the function's output to the log a little
    after the answers."""
    deadline = time.monotonic() + timeout
    while True:
        lines = (LOG_DIR / "function.log").read_text(errors="replace").splitlines()
        documents = [json.loads(line) for line in lines
                     if line.startswith("{") and '"_aws"' in line]
        if len(documents) >= expected or time.monotonic() > deadline:
            return documents
        time.sleep(0.1)


def run_demo(emulator, queues, url):
    subscriptions = template_subscriptions()
    rows = []
    for label, body, method, headers in requests_to_send():
        status, answer = send(url, method, body, headers)
        rows.append({"label": label, "body": body.decode(), "status": status, "answer": answer})
    received = received_by(emulator, queues, subscriptions)

    problems = []
    width = max(len(r["label"]) for r in rows)
    names = [s[0] for s in subscriptions]
    print()
    for name, topic, policy, _, _, meaning in subscriptions:
        print(f"  {name:<6} {meaning}; filter policy {json.dumps(policy)}")
    print()
    print(f"  {'request':<{width}}  status  {'  '.join(f'{n:<6}' for n in names)}  answer")
    print(f"  {'-' * width}  ------  {'  '.join('------' for _ in names)}  ------")
    for row in rows:
        marks = []
        for name, _, policy, _, raw, _ in subscriptions:
            got = len(copies_of(row, name, raw, received))
            # The template's policies route on event_name, which the 202 answer echoes.
            want = int(row["status"] == 202
                       and policy_selects(policy, {"event_name": row["answer"]["event_name"]}))
            if got != want:
                problems.append(f"{row['label']}: {name} received {got}, its filter wants {want}")
            marks.append("yes" if got else "-")
        answer = row["answer"]
        if isinstance(answer, dict) and "error" in answer:
            detail = f"refused: {answer['error']}"
        elif row["status"] == 202:
            detail = "published" if "yes" in marks else "published; no filter selects it"
            for failed in ("notification_error", "chat_error"):
                if failed in answer:
                    problems.append(f"{row['label']}: {failed}: {answer[failed]}")
        else:
            detail = str(answer)
        print(f"  {row['label']:<{width}}  {row['status']!s:<6}  "
              f"{'  '.join(f'{m:<6}' for m in marks)}  {detail}")

    published = sum(r["status"] == 202 for r in rows)
    print()
    print(f"  {len(rows)} requests, {published} published (202), "
          f"{len(rows) - published} refused and not published.")
    for name in names:
        events = sorted({a["event_name"] for _, _, a in received.get(name, [])})
        print(f"  {name} received {len(received.get(name, []))}: {', '.join(events) or 'nothing'}")
    # The resolved defect's email: its webhook carries only the id; the rest is enrichment.
    emails = [m for m in received.get("email", []) if m[2].get("event_name") == "defect.resolved"]
    if emails:
        _, text, attributes = emails[0]
        print(f"\n  The email for defect.resolved (its webhook has only the id), as its subscriber "
              f"reads it:\n    Subject: {attributes['_subject']}")
        print("".join(f"    {line}\n" for line in text.splitlines()), end="")
        if text.lstrip().startswith("{"):
            problems.append("the email carries the JSON body, not the text people read")
        if "Example defect" not in text or "Severity: normal" not in text:
            problems.append("the resolved defect's email lacks the title and severity "
                            "the Qase API gave")
    else:
        problems.append("no email for defect.resolved arrived")
    chats = [m for m in received.get("chat", []) if m[2].get("event_name") == "defect.created"]
    if chats:
        _, message, _ = chats[0]
        problems += chat_schema_problems(message)
        if not problems:
            print("\n  The chat message for defect.created, as a person in the channel reads it:")
            print("".join(f"    {line}\n" for line in as_read_in_the_channel(message)), end="")
    else:
        problems.append("no chat message for defect.created arrived")
    for _, _, attributes in [m for m in received.get("queue", [])
                             if m[2].get("event_name") == "defect.resolved"][:1]:
        shown = {k: v for k, v in attributes.items() if not k.startswith("_")}
        print(f"\n  The queue message's attributes for defect.resolved: "
              f"{json.dumps(shown, sort_keys=True)}")
    # What CloudWatch would extract from the function's log: one document per request, after
    # the GET that waited for the function to start.
    warm_up, *documents = emf_documents(len(rows) + 1) or [None]
    if warm_up is None or warm_up.get("Code") != "method_not_allowed":
        problems.append(f"the first metrics document is not the start-up GET's: {warm_up}")
    outcomes = Counter(d["Outcome"] for d in documents)
    codes = Counter(d["Code"] for d in documents if "Code" in d)
    lookups = sum(d.get("EnrichmentLookups", 0) for d in documents)
    failures = sum(d.get("EnrichmentFailures", 0) for d in documents)
    print(f"\n  Metrics (namespace QaseDefectFanout, from the {len(documents)} EMF lines the "
          f"function printed): Webhooks {dict(sorted(outcomes.items()))}; by code "
          f"{dict(sorted(codes.items()))}; EnrichmentLookups {lookups}, EnrichmentFailures "
          f"{failures}")
    if len(documents) != len(rows) or outcomes["published"] != published:
        problems.append(f"{len(documents)} metrics documents for {len(rows)} requests, "
                        f"{outcomes['published']} published for {published}")
    unmatched = [
        (name, text[:60]) for name, _, _, _, raw, _ in subscriptions
        for message in received.get(name, [])
        for text in [message[1]]
        if not any(message in copies_of(r, name, raw, received) for r in rows)
    ]
    problems += [f"{name} received a message nobody sent: {t!r}" for name, t in unmatched]
    print()
    if problems:
        print("demo FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("demo OK: every event arrived where its filter policy says, exactly once, and "
          "nowhere else; no refused request was published.")
    return 0


def run_outage(emulator, queues, url):
    """SNS refuses three webhooks: each is parked (202); SNS comes back, the parking queue's
    batch is delivered, and each subscriber receives each event once. Answers the problems."""
    subscriptions = template_subscriptions()
    created = (ROOT / "tests" / "fixtures" / "qase" / "defect.created.json").read_text()
    ok = {"Content-Type": "application/json", "X-Qase-Secret": SECRET}
    titles = [f"Parked during the outage {n}" for n in (1, 2, 3)]
    problems = []
    print("\n  An outage: SNS answers 500 InternalError to every publish.")
    SnsOutage.refusing = True
    for title in titles:
        body = created.replace('"Example defect"', json.dumps(title)).encode()
        status, answer = send(url, "POST", body, ok)
        parked = isinstance(answer, dict) and answer.get("parked") is True
        print(f"    defect.created \"{title}\": {status} "
              f"{'parked, ' + answer['queue_message_id'] if parked else answer}")
        if status != 202 or not parked:
            problems.append(f"{title}: answered {status} {answer}, not parked")
    SnsOutage.refusing = False
    during = received_by(emulator, queues, subscriptions)
    if any(during.values()):
        problems.append(f"subscribers received something during the outage: {during}")
    # SNS is back: the parking queue's batch, handed to the function as Lambda's SQS event
    # source hands it over (cargo lambda watch answers the Lambda Invoke API).
    messages = emulator.sqs.receive_message(
        QueueUrl=queues["parking"], MaxNumberOfMessages=10, WaitTimeSeconds=0,
        AttributeNames=["All"]).get("Messages", [])
    event = {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {},
        "eventSource": "aws:sqs", "awsRegion": REGION,
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:demo-parking"} for m in messages]}
    invoke = url.split("/lambda-url/")[0] + f"/2015-03-31/functions/{FUNCTION}/invocations"
    status, answer = send(invoke, "POST", json.dumps(event).encode(),
                          {"Content-Type": "application/json"})
    failed = {f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])}
    for m in messages:
        if m["MessageId"] not in failed:  # what the event source mapping deletes
            emulator.sqs.delete_message(QueueUrl=queues["parking"],
                                        ReceiptHandle=m["ReceiptHandle"])
    print(f"  SNS is back: the parking queue's batch of {len(messages)} delivered, "
          f"{len(failed)} handed back.")
    if status != 200 or failed or len(messages) != len(titles):
        problems.append(f"delivery: {status} {answer}; {len(messages)} parked messages")
    received = received_by(emulator, queues, subscriptions)
    for name, _, policy, _, _, _ in subscriptions:
        want = int(policy_selects(policy, {"event_name": "defect.created"}))
        for title in titles:
            got = sum(title in text for _, text, _ in received.get(name, []))
            if got != want:
                problems.append(f"{title}: {name} received {got}, its filter wants {want}")
        print(f"    {name} received {len(received.get(name, []))}"
              f"{' (each parked event once)' if want else ' (its filter selects none)'}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true",
                        help="set up, then wait for requests until Ctrl-C (make watch)")
    parser.add_argument("--moto-port", type=int, default=0)
    parser.add_argument("--watch-port", type=int, default=0)
    args = parser.parse_args()

    processes = Processes()
    # Even when started with SIGINT ignored (a background job), Ctrl-C must clean up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        moto_port = args.moto_port or free_port()
        watch_port = args.watch_port or free_port()
        print(f"demo: emulator on 127.0.0.1:{moto_port}, function on 127.0.0.1:{watch_port} "
              f"(logs in {LOG_DIR.relative_to(ROOT)}/)", flush=True)
        emulator, topics, queues, url = start_everything(processes, moto_port, watch_port)
        if args.serve:
            print(f"\nTopics {', '.join(topics.values())}; queues {', '.join(queues.values())}")
            print(f"Send webhooks:  curl -X POST -H 'X-Qase-Secret: {SECRET}' "
                  f"--data @tests/fixtures/qase/defect.created.json {url}")
            print(f"Or events:      make invoke EVENT=events/defect-created.json")
            print("Ctrl-C stops the function and the emulator.", flush=True)
            while all(p.poll() is None for _, p in processes.running):
                time.sleep(1)
            return 1
        status = run_demo(emulator, queues, url)
        problems = run_outage(emulator, queues, url) if status == 0 else []
        if problems:
            print("\ndemo FAILED:\n  " + "\n  ".join(problems))
            return 1
        if status == 0:
            print("demo OK: during the outage every webhook was answered 202 and parked, and "
                  "each subscriber received each one once SNS was back.")
        return status
    except KeyboardInterrupt:
        print("\ndemo: interrupted", file=sys.stderr)
        return 130
    finally:
        processes.stop_all()
        print("demo: stopped the function and the emulator.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
