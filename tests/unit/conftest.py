"""Fixtures of the keystore tests: test certificates, and Java's own tools as the reference.

Java is required, not optional: `make test` installs openjdk-17-jdk-headless (scripts/setup-system.sh),
and when keytool, java or javac is missing the `java_tools` fixture fails every test that needs it.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from support.keystore_helpers import JAVA_SOURCE, JavaTools, make_certificate


@pytest.fixture(scope="session")
def ca_certs():
    """Three distinct CA certificates: a root, an intermediate signed by it, and an unrelated one."""
    root = make_certificate("Test Root CA")
    intermediate = make_certificate("Test Intermediate CA", root)
    other = make_certificate("Other CA")
    return [root[0], intermediate[0], other[0]]


@pytest.fixture(scope="session")
def java_tools(tmp_path_factory: pytest.TempPathFactory) -> JavaTools:
    tools = {name: shutil.which(name) for name in ("keytool", "java", "javac")}
    missing = [name for name, path in tools.items() if not path]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: the keystore round-trip tests need Java's own tools; install "
            "openjdk-17-jdk-headless (scripts/setup-system.sh, which `make test` runs)",
            pytrace=False,
        )
    classes = tmp_path_factory.mktemp("java-classes")
    subprocess.run([tools["javac"], "-d", str(classes), str(JAVA_SOURCE)], check=True, capture_output=True)
    return JavaTools(tools["keytool"], tools["java"], classes)
