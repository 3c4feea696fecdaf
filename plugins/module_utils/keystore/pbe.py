# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Password-based encryption used by Java keystores.

- Sun's proprietary PBEWithMD5AndTripleDES (JCEKS key sealing).
- PBES2 with PBKDF2 and AES-CBC (what JDK 12+ writes into PKCS#12; also what we write).
- The PKCS#12 key derivation function (RFC 7292 appendix B) for the MAC and for the legacy PKCS#12
  PBE schemes (3DES, RC2) that older JDKs and OpenSSL 1.x wrote; read only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from ansible_collections.redundant.kube.plugins.module_utils.keystore import der
from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import (
    KeystoreError,
    KeystoreFormatError,
    KeystoreInputError,
)

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:  # cryptography >= 43 keeps 3DES among the "decrepit" algorithms
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:  # pragma: no cover - older cryptography
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR: ImportError | None = None
except ImportError as exc:  # reported by the module with missing_required_lib
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

# Java refuses PBE parameters above this iteration count (KeyProtector / PKCS12KeyStore); so do we,
# which also bounds the work a hostile file can make us do.
MAX_ITERATIONS = 5_000_000

OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_SUN_PBE_MD5_3DES = "1.3.6.1.4.1.42.2.19.1"
OID_PKCS12_PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3"
OID_PKCS12_PBE_SHA1_2DES = "1.2.840.113549.1.12.1.4"
OID_PKCS12_PBE_SHA1_RC2_128 = "1.2.840.113549.1.12.1.5"
OID_PKCS12_PBE_SHA1_RC2_40 = "1.2.840.113549.1.12.1.6"
OID_DES_EDE3_CBC = "1.2.840.113549.3.7"

# PBKDF2 PRF OIDs and the hashlib names behind them.
HMAC_OIDS = {
    "1.2.840.113549.2.7": "sha1",
    "1.2.840.113549.2.8": "sha224",
    "1.2.840.113549.2.9": "sha256",
    "1.2.840.113549.2.10": "sha384",
    "1.2.840.113549.2.11": "sha512",
}
OID_HMAC_SHA256 = "1.2.840.113549.2.9"
AES_CBC_OIDS = {
    "2.16.840.1.101.3.4.1.2": 16,
    "2.16.840.1.101.3.4.1.22": 24,
    "2.16.840.1.101.3.4.1.42": 32,
}
OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"

# Digest OIDs of a PKCS#12 MAC and the hashlib names behind them.
DIGEST_OIDS = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}


def check_iterations(count: int, what: str) -> None:
    if count < 1:
        raise KeystoreFormatError(f"{what}: iteration count {count} is not positive")
    if count > MAX_ITERATIONS:
        raise KeystoreFormatError(
            f"{what}: iteration count {count} is above Java's limit of {MAX_ITERATIONS}"
        )


class BadDecrypt(Exception):
    """Decryption produced garbage: in practice, a wrong password."""


def _pad(data: bytes, block: int) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


def _unpad(data: bytes, block: int) -> bytes:
    n = data[-1] if data else 0
    if not 1 <= n <= block or data[-n:] != bytes([n]) * n:
        raise BadDecrypt()
    return data[:-n]


def _cbc(cipher: str, key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    """AES or 3DES in CBC mode, without padding (the callers pad)."""
    if not HAS_CRYPTOGRAPHY:
        raise KeystoreError(
            f"the Python package cryptography is needed for keystores ({CRYPTOGRAPHY_IMPORT_ERROR})"
        )
    if not encrypt and (not data or len(data) % len(iv)):
        raise BadDecrypt()
    algorithm = algorithms.AES(key) if cipher == "AES" else TripleDES(key)
    engine = Cipher(algorithm, modes.CBC(iv))
    ctx = engine.encryptor() if encrypt else engine.decryptor()
    return ctx.update(data) + ctx.finalize()


# --- Sun's PBEWithMD5AndTripleDES ------------------------------------------------------------------


def sun_password_bytes(password: str) -> bytes:
    """Java's PBEKey takes printable ASCII only (0x20..0x7E) and uses one byte per character."""
    if any(not (0x20 <= ord(c) <= 0x7E) for c in password):
        raise KeystoreInputError(
            "a JCEKS key password must be printable ASCII (Java's PBEWithMD5AndTripleDES refuses anything else)"
        )
    return password.encode("ascii")


def _sun_derive(password: bytes, salt: bytes, iterations: int, legacy: bool = False) -> tuple[bytes, bytes]:
    if len(salt) != 8:
        raise KeystoreFormatError(f"PBEWithMD5AndTripleDES needs an 8-byte salt, found {len(salt)} bytes")
    first, second = salt[:4], salt[4:]
    if first == second:
        # When both halves are equal Java inverts the first one: JDK 17 reverses it; very old JCE
        # releases had a typo (salt[3-1]) that turned [a, b, c, d] into [d, a, b, d].
        first = bytes([first[3], first[0], first[1], first[3]]) if legacy else first[::-1]
    derived = b""
    for half in (first, second):
        block = half
        for _iteration in range(iterations):
            block = hashlib.md5(block + password).digest()
        derived += block
    return derived[:24], derived[24:]


def sun_pbe_encrypt(data: bytes, password: str, salt: bytes, iterations: int) -> bytes:
    key, iv = _sun_derive(sun_password_bytes(password), salt, iterations)
    return _cbc("3DES", key, iv, _pad(data, 8), encrypt=True)


def sun_pbe_decrypt(data: bytes, password: str, salt: bytes, iterations: int) -> bytes:
    """Raises BadDecrypt when the padding is wrong (wrong password)."""
    check_iterations(iterations, "PBEWithMD5AndTripleDES")
    secret = sun_password_bytes(password)
    key, iv = _sun_derive(secret, salt, iterations)
    try:
        return _unpad(_cbc("3DES", key, iv, data, encrypt=False), 8)
    except BadDecrypt:
        if salt[:4] != salt[4:]:
            raise
    key, iv = _sun_derive(secret, salt, iterations, legacy=True)
    return _unpad(_cbc("3DES", key, iv, data, encrypt=False), 8)


# --- PKCS#12 key derivation (RFC 7292 appendix B.2) ------------------------------------------------

PKCS12_KEY, PKCS12_IV, PKCS12_MAC = 1, 2, 3


def pkcs12_password_bytes(password: str) -> bytes:
    """BMPString of the password with a two-byte NUL terminator, as RFC 7292 and Java use it."""
    if not password:
        return b""
    return password.encode("utf-16-be") + b"\x00\x00"


def pkcs12_kdf(
    hash_name: str, password: str, salt: bytes, purpose: int, iterations: int, length: int
) -> bytes:
    h = hashlib.new(hash_name)
    u, v = h.digest_size, h.block_size
    pw = pkcs12_password_bytes(password)
    d = bytes([purpose]) * v

    def stretch(data: bytes) -> bytes:
        if not data:
            return b""
        n = v * ((len(data) + v - 1) // v)
        return (data * (n // len(data) + 1))[:n]

    i_block = bytearray(stretch(salt) + stretch(pw))
    out = b""
    while len(out) < length:
        a = hashlib.new(hash_name, d + bytes(i_block)).digest()
        for _iteration in range(iterations - 1):
            a = hashlib.new(hash_name, a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big") + 1
        for j in range(0, len(i_block), v):
            chunk = (int.from_bytes(i_block[j : j + v], "big") + b) % (1 << (8 * v))
            i_block[j : j + v] = chunk.to_bytes(v, "big")
    return out[:length]


def pkcs12_mac(hash_name: str, password: str, salt: bytes, iterations: int, data: bytes) -> bytes:
    size = hashlib.new(hash_name).digest_size
    key = pkcs12_kdf(hash_name, password, salt, PKCS12_MAC, iterations, size)
    return hmac.new(key, data, hash_name).digest()


# --- RC2 (RFC 2268), decryption only: legacy PKCS#12 files encrypt their certificates with it -----

_PITABLE = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2179a59f587b34f1361456d8d09817d32"
    "bd8f40eb86b77b0bf09521225c6b4e8254d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed708e8eade8052eef784aa72ac354d6a2a"
    "961ad2715a1549744b9fd05e0418a4ecc2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a90d38341bab33ffb0bb480c5fb9b1cd2e"
    "c5f3db47e5a59c770aa62068fe7fc1ad"
)


def _rc2_expand(key: bytes, effective_bits: int) -> list[int]:
    t = len(key)
    table = bytearray(128)
    table[:t] = key
    for i in range(t, 128):
        table[i] = _PITABLE[(table[i - 1] + table[i - t]) & 0xFF]
    t8 = (effective_bits + 7) // 8
    tm = 0xFF >> (8 * t8 - effective_bits)
    table[128 - t8] = _PITABLE[table[128 - t8] & tm]
    for i in range(127 - t8, -1, -1):
        table[i] = _PITABLE[table[i + 1] ^ table[i + t8]]
    return [table[2 * i] | (table[2 * i + 1] << 8) for i in range(64)]


def _rc2_decrypt_block(k: list[int], block: bytes) -> bytes:
    r = [int.from_bytes(block[2 * i : 2 * i + 2], "little") for i in range(4)]
    shifts = (1, 2, 3, 5)
    j = 63

    def unmix() -> None:
        nonlocal j
        for i in (3, 2, 1, 0):
            s = shifts[i]
            x = ((r[i] >> s) | (r[i] << (16 - s))) & 0xFFFF
            r[i] = (
                x - k[j] - (r[(i - 1) % 4] & r[(i - 2) % 4]) - (~r[(i - 1) % 4] & r[(i - 3) % 4])
            ) & 0xFFFF
            j -= 1

    def unmash() -> None:
        for i in (3, 2, 1, 0):
            r[i] = (r[i] - k[r[(i - 1) % 4] & 63]) & 0xFFFF

    for rounds, mash in ((5, True), (6, True), (5, False)):
        for _iteration in range(rounds):
            unmix()
        if mash:
            unmash()
    return b"".join(x.to_bytes(2, "little") for x in r)


def rc2_cbc_decrypt(key: bytes, effective_bits: int, iv: bytes, data: bytes) -> bytes:
    if not data or len(data) % 8:
        raise BadDecrypt()
    k = _rc2_expand(key, effective_bits)
    out = bytearray()
    prev = iv
    for pos in range(0, len(data), 8):
        block = data[pos : pos + 8]
        plain = _rc2_decrypt_block(k, block)
        out += bytes(a ^ b for a, b in zip(plain, prev, strict=True))
        prev = block
    return _unpad(bytes(out), 8)


# --- Algorithm identifiers: encrypt with PBES2, decrypt anything Java or OpenSSL wrote -------------


def pbes2_encrypt(
    data: bytes, password: str, iterations: int, random: Callable[[int], bytes]
) -> tuple[bytes, bytes]:
    """PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC, as JDK 17 writes it. Returns (AlgorithmIdentifier, ciphertext)."""
    salt, iv = random(20), random(16)
    key = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, 32)
    kdf_params = der.sequence(
        der.octet_string(salt),
        der.integer(iterations),
        der.integer(32),
        der.algorithm_identifier(OID_HMAC_SHA256, der.null()),
    )
    params = der.sequence(
        der.algorithm_identifier(OID_PBKDF2, kdf_params),
        der.algorithm_identifier(OID_AES256_CBC, der.octet_string(iv)),
    )
    ciphertext = _cbc("AES", key, iv, _pad(data, 16), encrypt=True)
    return der.algorithm_identifier(OID_PBES2, params), ciphertext


def _pbes2_decrypt(params: der.Node, password: str, data: bytes) -> bytes:
    kdf, enc = params.expect(der.SEQUENCE, "PBES2 parameters").children()
    kdf_oid, kdf_params = der.parse_algorithm_identifier(kdf)
    if kdf_oid != OID_PBKDF2 or kdf_params is None:
        raise KeystoreFormatError(f"unsupported PBES2 key derivation {kdf_oid}")
    fields = kdf_params.children()
    salt = fields[0].as_octets()
    iterations = fields[1].as_int()
    check_iterations(iterations, "PBKDF2")
    key_length: int | None = None
    prf = "sha1"
    for extra in fields[2:]:
        if extra.tag == der.INTEGER:
            key_length = extra.as_int()
        else:
            prf_oid, _unused = der.parse_algorithm_identifier(extra)
            if prf_oid not in HMAC_OIDS:
                raise KeystoreFormatError(f"unsupported PBKDF2 PRF {prf_oid}")
            prf = HMAC_OIDS[prf_oid]
    enc_oid, enc_params = der.parse_algorithm_identifier(enc)
    if enc_params is None:
        raise KeystoreFormatError("PBES2 cipher without an IV")
    iv = enc_params.as_octets()
    if enc_oid in AES_CBC_OIDS:
        cipher, size, block = "AES", AES_CBC_OIDS[enc_oid], 16
    elif enc_oid == OID_DES_EDE3_CBC:
        cipher, size, block = "3DES", 24, 8
    else:
        raise KeystoreFormatError(f"unsupported PBES2 cipher {enc_oid}")
    if key_length is not None and key_length != size:
        raise KeystoreFormatError(f"PBES2 key length {key_length} does not fit cipher {enc_oid}")
    key = hashlib.pbkdf2_hmac(prf, password.encode("utf-8"), salt, iterations, size)
    return _unpad(_cbc(cipher, key, iv, data, encrypt=False), block)


def _pkcs12_pbe_decrypt(oid: str, params: der.Node, password: str, data: bytes) -> bytes:
    salt_node, count_node = params.expect(der.SEQUENCE, "PKCS#12 PBE parameters").children()
    salt, iterations = salt_node.as_octets(), count_node.as_int()
    check_iterations(iterations, "PKCS#12 PBE")

    def derive(purpose: int, n: int) -> bytes:
        return pkcs12_kdf("sha1", password, salt, purpose, iterations, n)

    if oid in (OID_PKCS12_PBE_SHA1_3DES, OID_PKCS12_PBE_SHA1_2DES):
        key = derive(PKCS12_KEY, 24 if oid == OID_PKCS12_PBE_SHA1_3DES else 16)
        if len(key) == 16:
            key += key[:8]
        return _unpad(_cbc("3DES", key, derive(PKCS12_IV, 8), data, encrypt=False), 8)
    bits = 128 if oid == OID_PKCS12_PBE_SHA1_RC2_128 else 40
    return rc2_cbc_decrypt(derive(PKCS12_KEY, bits // 8), bits, derive(PKCS12_IV, 8), data)


def decrypt(algorithm: der.Node, password: str, data: bytes) -> bytes:
    """Decrypt `data` protected by the PBE scheme named in the AlgorithmIdentifier `algorithm`.

    Raises BadDecrypt when the result is garbage (wrong password), KeystoreFormatError when the
    scheme is unknown."""
    oid, params = der.parse_algorithm_identifier(algorithm)
    if params is None:
        raise KeystoreFormatError(f"PBE algorithm {oid} without parameters")
    if oid == OID_PBES2:
        return _pbes2_decrypt(params, password, data)
    if oid in (
        OID_PKCS12_PBE_SHA1_3DES,
        OID_PKCS12_PBE_SHA1_2DES,
        OID_PKCS12_PBE_SHA1_RC2_128,
        OID_PKCS12_PBE_SHA1_RC2_40,
    ):
        return _pkcs12_pbe_decrypt(oid, params, password, data)
    raise KeystoreFormatError(f"unsupported encryption algorithm {oid}")
