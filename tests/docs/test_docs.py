"""The README and docs/ cannot drift from the code, the template or each other (run by
`make test`, offline).

Every name below is read from where it is defined: the `pub const`s in src/ (environment
variables, attributes, metrics), every `fn code` in src/ (error codes), template.yaml
(parameters, outputs, alarms), Cargo.toml and the template's SAR metadata (the version). No
list of names is kept here, so a constant renamed, added or removed without its page fails."""

import re
import tomllib
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
MARKDOWN = [README, ROOT / "CHANGELOG.md", *PAGES]
TEMPLATE = load(str(ROOT / "template.yaml"))
README_MAX_LINES = 300


def prose(path):
    """(line number, line) of the file's text outside fenced code blocks (links and headings
    live there)."""
    text, fenced = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            text.append((number, line))
    return text


def slug(heading):
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped (letters,
    digits, `_` and `-` kept), spaces as hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    seen, found = {}, set()
    for _, line in prose(path):
        match = re.match(r"^#{1,6} (.+)$", line)
        if match:
            base = slug(match.group(1))
            n = seen.get(base, 0)
            found.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
    return found


def links(path):
    """(target, line number) of every inline Markdown link outside code."""
    for number, line in prose(path):
        line = re.sub(r"`[^`]*`", "", line)
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            yield target, number


def test_the_readme_is_a_front_door_of_at_most_300_lines():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the reference goes in docs/"


def test_every_reference_page_is_linked_from_the_readme():
    linked = {target.split("#")[0] for target, _ in links(README)}
    missing = [p.name for p in PAGES if f"docs/{p.name}" not in linked]
    assert PAGES and not missing, f"docs/ pages the README does not link: {missing}"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    broken = []
    for target, number in links(path):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto: are not checked offline
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            broken.append(f"line {number}: {target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"line {number}: {target}: no heading #{anchor} in {resolved.name}")
    assert not broken, "\n".join(broken)


def constants(pattern, where):
    """The values of the `pub const`s whose name matches `pattern`, in the files `where`."""
    values = set()
    for path in where:
        values |= set(re.findall(rf'pub const {pattern}: &str = "([^"]+)";', path.read_text()))
    assert values, f"no {pattern} constants found: has the code moved?"
    return values


def error_codes(files):
    """The strings every `fn code` in `files` answers."""
    codes = set()
    for path in files:
        for body in re.findall(r"fn code\(.*?\n    \}\n", path.read_text(), re.S):
            codes |= set(re.findall(r'=> "([a-z_]+)"', body))
    return codes


SOURCES = sorted((ROOT / "src").rglob("*.rs"))
LOOKUP_SOURCES = [ROOT / "src" / "qase_api.rs", ROOT / "src" / "enrichment.rs"]


def names_of(kind):
    """What each reference page must name, by kind, from its definition."""
    resources = TEMPLATE["Resources"]
    return {
        "environment variable": (
            constants(r"ENV_\w+", (ROOT / "src" / "config").rglob("*.rs")),
            "configuration.md",
        ),
        "error code answered": (
            error_codes(s for s in SOURCES if s not in LOOKUP_SOURCES),
            "requests-and-responses.md",
        ),
        "lookup code": (error_codes(LOOKUP_SOURCES), "enrichment.md"),
        "attribute": (constants(r"ATTR_\w+", [ROOT / "src" / "message" / "attributes.rs"]), "subscribers.md"),
        "metric": (
            constants(r"(?!DIM_|NAMESPACE)[A-Z_]+", [ROOT / "src" / "metrics.rs"]),
            "operating.md",
        ),
        "template parameter": (set(TEMPLATE["Parameters"]), "configuration.md"),
        "template output": (set(TEMPLATE["Outputs"]), "deploying.md"),
        "alarm": (
            {n for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"},
            "operating.md",
        ),
    }[kind]


KINDS = [
    "environment variable", "error code answered", "lookup code", "attribute", "metric",
    "template parameter", "template output", "alarm",
]


@pytest.mark.parametrize("kind", KINDS)
def test_every_name_the_code_and_template_define_is_in_its_reference_page(kind):
    names, page = names_of(kind)
    text = (DOCS / page).read_text()
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"docs/{page} does not name these {kind}s (in backticks): {missing}"


def test_the_changelog_the_sar_metadata_and_the_crate_name_one_version():
    changelog = re.search(r"^## (\d+\.\d+\.\d+)\b", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert changelog, "CHANGELOG.md has no `## x.y.z` entry"
    sar = TEMPLATE["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"]
    crate = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    assert changelog.group(1) == sar == crate, (changelog.group(1), sar, crate)


def layout_block():
    """The fenced block under docs/development.md's "## Layout": one entry a line, a path at
    its start, continued by indented lines."""
    text = (DOCS / "development.md").read_text()
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```\n", 1)[1].split("```", 1)[0]


def layout_entries():
    """{path: the entry's text} for each entry of the layout."""
    entries, path = {}, None
    for line in layout_block().splitlines():
        if line[:1].strip():
            path, _, rest = line.partition(" ")
            entries[path] = rest
        elif path:
            entries[path] += " " + line.strip()
    return entries


def test_the_layout_names_every_module_under_src_and_nothing_else():
    entries = layout_entries()
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "src").rglob("*.rs"))
    missing = []
    for module in modules:
        folder, _, name = module.rpartition("/")
        if module in entries:
            continue
        # A module in a folder of its own: the folder's entry names the file.
        if f"{folder}/" in entries and re.search(rf"\b{re.escape(name)}\b", entries[f"{folder}/"]):
            continue
        missing.append(module)
    assert not missing, f"docs/development.md's layout does not name: {missing}"
    named = [p for p in entries if p.startswith("src/")]
    gone = [p for p in named if not (ROOT / p).exists()]
    for folder in (p for p in named if p.endswith("/")):
        for name in re.findall(r"\b([a-z_]+\.rs)\b", entries[folder]):
            if not (ROOT / folder / name).exists():
                gone.append(folder + name)
    assert not gone, f"docs/development.md's layout names what src/ does not have: {gone}"


def test_the_qase_rate_limit_is_stated_as_qase_states_it():
    """developers.qase.io: "Your application can make up to 600 API requests per minute." It
    says nothing of a limit per token."""
    text = (DOCS / "enrichment.md").read_text()
    assert "up to 600 API requests per minute" in text
    assert "per token" not in text


def rust_usize(path, name):
    """The value of `pub const NAME: usize = N;` in `path`."""
    (value,) = re.findall(rf"pub const {name}: usize = ([0-9_]+);", (ROOT / path).read_text())
    return int(value.replace("_", ""))


def test_the_chat_page_states_the_limits_the_code_holds_policies_and_messages_to():
    text = " ".join((DOCS / "chat.md").read_text().split())
    keys, combinations = rust_usize("src/filter/rules.rs", "MAX_KEYS"), rust_usize("src/filter/rules.rs", "MAX_COMBINATIONS")
    assert f"at most {keys} keys" in text and f"at most {combinations} combinations" in text
    assert f"Filter policy can not have more than {keys} keys" in text
    title = rust_usize("src/summary/chat.rs", "MAX_CHAT_TITLE_CHARS")
    assert f"The title is at most {title} characters" in text
    code = rust_usize("src/summary/mod.rs", "MAX_CODE_CHARS")
    assert f"Project codes are cut at {code} characters" in text


def test_amazon_q_throttling_and_its_log_group_are_where_a_user_looks():
    """Amazon Q troubleshooting guide: "Amazon Q Developer in chat applications allows for 10
    events per second. If more than 10 events per second are received, any event above 10 is
    throttled." Its logs: "/aws/chatbot/configuration-name", in US East (N. Virginia)."""
    description = " ".join(TEMPLATE["Parameters"]["ChatFilterPolicy"]["Description"].split())
    assert "10 events a second" in description
    text = " ".join((DOCS / "chat.md").read_text().split())
    assert "allows for 10 events per second" in text
    assert "/aws/chatbot/<configuration name>" in text and "US East (N. Virginia)" in text
    assert "run or result events" in text and "run or result events" in description
