"""`make package`: the application as it deploys without a Rust toolchain.

Reads the bootstraps `sam build` made for both architectures (.aws-sam/check-<arch>/, the
builds `make arm64-check` also tests) and writes dist/qase-defect-fanout-<version>/:

    arm64/ x86_64/   template.json (scripts/editions.py), bootstrap.zip, README.md, docs/,
                     CHANGELOG.md, LICENSE.txt (the README's links work in the directory)
    sar/             the Serverless Application Repository edition (arm64)

then the same as a .tar.gz. Deploy one with `sam deploy --guided --template-file template.json`
in its directory; publish the SAR one with `sam package` and `sam publish`
(docs/deploying.md). SOURCE_CODE_URL, when set, becomes the SAR metadata's SourceCodeUrl and
HomePageUrl (SAR needs them to make an application public).
"""

import json
import os
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import editions

ROOT = editions.ROOT
# Both functions share one build: `sam build` names its directory after the first.
BUILT = ROOT / ".aws-sam" / "check-{arch}" / "WebhookFunction-Shared" / "bootstrap"
SAR_ARCHITECTURE = "arm64"


def bootstrap_zip(bootstrap, zip_path):
    """`bootstrap` as Lambda wants it: at the zip's root, executable."""
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(info, bootstrap.read_bytes(), compresslevel=9)


def write_edition(directory, tpl, bootstrap):
    directory.mkdir(parents=True)
    (directory / "template.json").write_text(json_text(tpl))
    bootstrap_zip(bootstrap, directory / "bootstrap.zip")
    for name in ("README.md", "CHANGELOG.md", "LICENSE.txt"):
        shutil.copy(ROOT / name, directory / name)
    shutil.copytree(ROOT / "docs", directory / "docs")
    left = editions.dangling(tpl)
    if left:
        sys.exit(f"package: {directory.name}'s template names what it does not define: {left}")


def json_text(tpl):
    return json.dumps(tpl, indent=2) + "\n"


def main():
    tpl = editions.template()
    version = editions.version(tpl)
    name = f"qase-defect-fanout-{version}"
    out = ROOT / "dist" / name
    if out.exists():
        shutil.rmtree(out)
    for arch in editions.ARCHITECTURES:
        bootstrap = Path(str(BUILT).format(arch=arch))
        if not bootstrap.exists():
            sys.exit(f"package: {bootstrap} is missing: `make package` runs `sam build` first")
        write_edition(out / arch, editions.for_architecture(tpl, arch), bootstrap)
    source = os.environ.get("SOURCE_CODE_URL") or None
    sar = editions.for_sar(editions.for_architecture(tpl, SAR_ARCHITECTURE), source)
    write_edition(out / "sar", sar, Path(str(BUILT).format(arch=SAR_ARCHITECTURE)))
    with tarfile.open(ROOT / "dist" / f"{name}.tar.gz", "w:gz") as archive:
        archive.add(out, arcname=name)
    print(f"package: dist/{name}/ and dist/{name}.tar.gz (version {version})")
    if not source:
        print("package: SOURCE_CODE_URL unset: the SAR edition can be published privately, "
              "not made public (SAR needs a source code URL for that)")


if __name__ == "__main__":
    main()
