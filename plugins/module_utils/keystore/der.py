# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small ASN.1 DER encoder and BER/DER decoder, enough for PKCS#12, PKCS#8 and PBE parameters.

Encoding always produces DER. Decoding accepts the BER forms other tools put into PKCS#12 files
(indefinite lengths, constructed OCTET STRINGs), since we must read keystores we did not write.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import KeystoreFormatError

# Universal tags (class and constructed bits included).
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
IA5_STRING = 0x16
BMP_STRING = 0x1E
SEQUENCE = 0x30
SET = 0x31

_MAX_DEPTH = 32


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element from its tag byte and content."""
    return bytes([tag]) + _length(len(content)) + content


def sequence(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


def set_of(*items: bytes) -> bytes:
    # DER sorts the encodings of SET OF members.
    return tlv(SET, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8)
    return tlv(INTEGER, value.to_bytes(length, "big", signed=True))


def octet_string(value: bytes) -> bytes:
    return tlv(OCTET_STRING, value)


def null() -> bytes:
    return tlv(NULL, b"")


def bmp_string(value: str) -> bytes:
    return tlv(BMP_STRING, value.encode("utf-16-be"))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2:
        raise ValueError(f"bad OID {dotted!r}")
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def explicit(number: int, content: bytes) -> bytes:
    """[number] EXPLICIT (context-specific, constructed)."""
    return tlv(0xA0 | number, content)


@dataclass(frozen=True)
class Node:
    """One decoded element: its tag byte, its content (constructed strings already joined) and its
    exact encoding as read (needed where a MAC or signature covers the original bytes)."""

    tag: int
    content: bytes
    raw: bytes

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def children(self) -> list[Node]:
        if not self.constructed:
            raise KeystoreFormatError(f"expected a constructed element, found tag 0x{self.tag:02x}")
        return decode_all(self.content)

    def expect(self, tag: int, what: str = "") -> Node:
        if self.tag != tag:
            raise KeystoreFormatError(
                f"{what or 'element'}: expected tag 0x{tag:02x}, found 0x{self.tag:02x}"
            )
        return self

    def as_int(self) -> int:
        self.expect(INTEGER, "INTEGER")
        return int.from_bytes(self.content, "big", signed=True)

    def as_oid(self) -> str:
        self.expect(OID, "OBJECT IDENTIFIER")
        arcs: list[int] = []
        value = 0
        for byte in self.content:
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                arcs.append(value)
                value = 0
        if not arcs:
            raise KeystoreFormatError("empty OBJECT IDENTIFIER")
        first = arcs[0]
        head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
        return ".".join(str(a) for a in head + arcs[1:])

    def as_octets(self) -> bytes:
        # A constructed OCTET STRING (BER) has had its segments joined while decoding.
        if self.tag not in (OCTET_STRING, OCTET_STRING | 0x20):
            raise KeystoreFormatError(f"expected an OCTET STRING, found tag 0x{self.tag:02x}")
        return self.content

    def as_text(self) -> str:
        if self.tag == BMP_STRING:
            return self.content.decode("utf-16-be")
        if self.tag in (UTF8_STRING, PRINTABLE_STRING, IA5_STRING):
            return self.content.decode("utf-8")
        raise KeystoreFormatError(f"expected a string, found tag 0x{self.tag:02x}")


def _read_one(data: bytes, pos: int, depth: int) -> tuple[Node, int]:
    if depth > _MAX_DEPTH:
        raise KeystoreFormatError("ASN.1 nesting too deep")
    start = pos
    if pos + 2 > len(data):
        raise KeystoreFormatError("truncated ASN.1 element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise KeystoreFormatError("high-number ASN.1 tags are not supported")
    pos += 1
    first = data[pos]
    pos += 1
    if first == 0x80:
        # Indefinite length (BER): members up to an end-of-contents marker.
        if not tag & 0x20:
            raise KeystoreFormatError("indefinite length on a primitive element")
        parts: list[Node] = []
        while True:
            if data[pos : pos + 2] == b"\x00\x00":
                pos += 2
                break
            child, pos = _read_one(data, pos, depth + 1)
            parts.append(child)
        content = _join(tag, parts)
        return Node(tag, content, data[start:pos]), pos
    if first & 0x80:
        n = first & 0x7F
        if n > 4 or pos + n > len(data):
            raise KeystoreFormatError("bad ASN.1 length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    else:
        length = first
    end = pos + length
    if end > len(data):
        raise KeystoreFormatError("truncated ASN.1 element")
    content = data[pos:end]
    if tag == OCTET_STRING | 0x20:
        content = _join(tag, decode_all(content, depth + 1))
    return Node(tag, content, data[start:end]), end


def _join(tag: int, parts: list[Node]) -> bytes:
    if tag == OCTET_STRING | 0x20:
        return b"".join(p.as_octets() for p in parts)
    return b"".join(p.raw for p in parts)


def decode(data: bytes) -> Node:
    """Decode exactly one element; trailing bytes are an error."""
    node, end = _read_one(data, 0, 0)
    if end != len(data):
        raise KeystoreFormatError("trailing bytes after ASN.1 element")
    return node


def decode_all(data: bytes, depth: int = 0) -> list[Node]:
    nodes: list[Node] = []
    pos = 0
    while pos < len(data):
        node, pos = _read_one(data, pos, depth + 1)
        nodes.append(node)
    return nodes


def algorithm_identifier(dotted: str, params: bytes | None) -> bytes:
    return sequence(oid(dotted), params if params is not None else b"")


def parse_algorithm_identifier(node: Node) -> tuple[str, Node | None]:
    parts = node.expect(SEQUENCE, "AlgorithmIdentifier").children()
    if not parts:
        raise KeystoreFormatError("empty AlgorithmIdentifier")
    params = parts[1] if len(parts) > 1 and parts[1].tag != NULL else None
    return parts[0].as_oid(), params
