"""Helpers of the keystore tests: test certificates, and Java's own tools as the reference (see conftest.py)."""

from __future__ import annotations

import datetime
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

JAVA_SOURCE = (
    Path(__file__).resolve().parents[1]
    / "unit"
    / "plugins"
    / "module_utils"
    / "keystore"
    / "java"
    / "KeystoreCheck.java"
)


def make_certificate(
    common_name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
):
    """A small CA certificate (EC P-256) and its key; signed by `issuer` when given, else self-signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name, signing_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(signing_key, hashes.SHA256())
    )
    return cert, key


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class JavaTools:
    keytool: str
    java: str
    classes: Path

    def keytool_run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.keytool, *args], capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"keytool {' '.join(args)} failed: {proc.stdout} {proc.stderr}")
        return proc

    def check(self, *args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [self.java, "-cp", str(self.classes), "KeystoreCheck", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(f"KeystoreCheck {args[0]} failed: {proc.stdout} {proc.stderr}")
        return proc

    def entries(
        self, path: Path, store_type: str, store_password: str, **key_passwords: str
    ) -> dict[str, dict]:
        """What Java's KeyStore API sees: alias -> {type, algorithm, bits, sha256}."""
        out = self.check(
            "list", str(path), store_type, store_password, *(f"{a}={p}" for a, p in key_passwords.items())
        )
        found = {}
        for line in out.stdout.splitlines():
            alias, kind, algorithm, bits, digest = line.split("\t")
            found[alias] = {"type": kind, "algorithm": algorithm, "bits": bits, "sha256": digest}
        return found

    def listing(self, path: Path, store_type: str, store_password: str) -> dict[str, dict]:
        """`keytool -list -v` parsed: alias -> {entry_type, sha256}."""
        out = self.keytool_run(
            "-list", "-v", "-keystore", str(path), "-storetype", store_type, "-storepass", store_password
        ).stdout
        found: dict[str, dict] = {}
        for block in out.split("Alias name: ")[1:]:
            alias = block.splitlines()[0].strip()
            entry_type = re.search(r"Entry type: (\S+)", block).group(1)
            digest = re.search(r"SHA256: ([0-9A-F:]+)", block)
            found[alias] = {"entry_type": entry_type, "sha256": digest.group(1) if digest else None}
        return found
