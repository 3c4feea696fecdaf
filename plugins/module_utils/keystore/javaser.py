# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Just enough of Java Object Serialization (the `java.io.ObjectOutputStream` stream protocol) for
JCEKS: a reader for the objects a JCEKS file holds (sealed objects, SecretKeySpec, KeyRep) and a
writer for the ones we produce. Nothing here runs Java code or instantiates classes by name: the
reader only builds plain Python values, so a hostile stream can at worst be rejected.

Also the "modified UTF-8" of `DataOutput.writeUTF`, which JCEKS uses for aliases.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import KeystoreFormatError

STREAM_MAGIC = 0xACED
STREAM_VERSION = 5
BASE_HANDLE = 0x7E0000

TC_NULL = 0x70
TC_REFERENCE = 0x71
TC_CLASSDESC = 0x72
TC_OBJECT = 0x73
TC_STRING = 0x74
TC_ARRAY = 0x75
TC_CLASS = 0x76
TC_BLOCKDATA = 0x77
TC_ENDBLOCKDATA = 0x78
TC_RESET = 0x79
TC_BLOCKDATALONG = 0x7A
TC_LONGSTRING = 0x7C
TC_PROXYCLASSDESC = 0x7D
TC_ENUM = 0x7E

SC_WRITE_METHOD = 0x01
SC_SERIALIZABLE = 0x02
SC_EXTERNALIZABLE = 0x04
SC_BLOCK_DATA = 0x08
SC_ENUM = 0x10

_PRIMITIVES = {
    "B": (">b", 1),
    "C": (">H", 2),
    "D": (">d", 8),
    "F": (">f", 4),
    "I": (">i", 4),
    "J": (">q", 8),
    "S": (">h", 2),
    "Z": (">?", 1),
}
_MAX_DEPTH = 64
_MAX_ARRAY = 1 << 24


# --- modified UTF-8 --------------------------------------------------------------------------------


def mutf8_encode(text: str) -> bytes:
    """Java's modified UTF-8: UTF-16 code units, each as 1-3 bytes; NUL as C0 80."""
    out = bytearray()
    units = text.encode("utf-16-be")
    for pos in range(0, len(units), 2):
        c = (units[pos] << 8) | units[pos + 1]
        if 0x01 <= c <= 0x7F:
            out.append(c)
        elif c <= 0x7FF:
            out += bytes([0xC0 | (c >> 6), 0x80 | (c & 0x3F)])
        else:
            out += bytes([0xE0 | (c >> 12), 0x80 | ((c >> 6) & 0x3F), 0x80 | (c & 0x3F)])
    return bytes(out)


def mutf8_decode(data: bytes) -> str:
    units: list[int] = []
    pos = 0
    try:
        while pos < len(data):
            b = data[pos]
            if b < 0x80:
                units.append(b)
                pos += 1
            elif b & 0xE0 == 0xC0:
                units.append(((b & 0x1F) << 6) | (data[pos + 1] & 0x3F))
                pos += 2
            elif b & 0xF0 == 0xE0:
                units.append(((b & 0x0F) << 12) | ((data[pos + 1] & 0x3F) << 6) | (data[pos + 2] & 0x3F))
                pos += 3
            else:
                raise KeystoreFormatError("bad modified UTF-8")
    except IndexError as exc:
        raise KeystoreFormatError("truncated modified UTF-8") from exc
    raw = b"".join(u.to_bytes(2, "big") for u in units)
    return raw.decode("utf-16-be", errors="surrogatepass")


def write_utf(text: str) -> bytes:
    """DataOutput.writeUTF: two-byte length, then modified UTF-8."""
    body = mutf8_encode(text)
    if len(body) > 0xFFFF:
        raise ValueError("string too long for writeUTF")
    return struct.pack(">H", len(body)) + body


# --- values --------------------------------------------------------------------------------------


@dataclass
class JavaClass:
    name: str
    suid: int
    flags: int
    fields: list[tuple[str, str, str | None]]  # (type code, name, class signature for objects/arrays)
    superclass: JavaClass | None = None

    def hierarchy(self) -> list[JavaClass]:
        """This class and its serializable ancestors, the top-most first (the order of field data)."""
        chain: list[JavaClass] = []
        cls: JavaClass | None = self
        while cls is not None:
            chain.append(cls)
            cls = cls.superclass
        return list(reversed(chain))

    def is_a(self, name: str) -> bool:
        return any(c.name == name for c in self.hierarchy())


@dataclass
class JavaObject:
    cls: JavaClass
    fields: dict[str, Any] = field(default_factory=dict)
    annotations: list[Any] = field(default_factory=list)


@dataclass
class JavaEnum:
    cls: JavaClass
    constant: str


# --- reader --------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos
        self.handles: list[Any] = []
        self.depth = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise KeystoreFormatError("truncated Java serialization stream")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))[0]

    def utf(self) -> str:
        return mutf8_decode(self.take(self.unpack(">H")))

    def new_handle(self, value: Any) -> int:
        self.handles.append(value)
        return len(self.handles) - 1

    def reference(self) -> Any:
        handle = self.unpack(">i") - BASE_HANDLE
        if not 0 <= handle < len(self.handles):
            raise KeystoreFormatError("bad back-reference in Java serialization stream")
        return self.handles[handle]

    def content(self) -> Any:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise KeystoreFormatError("Java serialization stream nested too deeply")
        try:
            return self._content(self.unpack(">B"))
        finally:
            self.depth -= 1

    def _content(self, tc: int) -> Any:
        if tc == TC_NULL:
            return None
        if tc == TC_REFERENCE:
            return self.reference()
        if tc == TC_STRING:
            text = self.utf()
            self.new_handle(text)
            return text
        if tc == TC_LONGSTRING:
            text = mutf8_decode(self.take(self.unpack(">q")))
            self.new_handle(text)
            return text
        if tc in (TC_CLASSDESC, TC_PROXYCLASSDESC):
            return self._class_desc(tc)
        if tc == TC_CLASS:
            cls = self.class_desc()
            self.new_handle(cls)
            return cls
        if tc == TC_ARRAY:
            return self._array()
        if tc == TC_ENUM:
            cls = self.class_desc()
            slot = self.new_handle(None)
            constant = self.content()
            if not isinstance(constant, str):
                raise KeystoreFormatError("enum constant name is not a string")
            value = JavaEnum(cls, constant)
            self.handles[slot] = value
            return value
        if tc == TC_OBJECT:
            return self._object()
        if tc in (TC_BLOCKDATA, TC_BLOCKDATALONG):
            size = self.unpack(">B") if tc == TC_BLOCKDATA else self.unpack(">i")
            return self.take(size)
        raise KeystoreFormatError(f"unsupported Java serialization element 0x{tc:02x}")

    def class_desc(self) -> JavaClass | None:
        tc = self.unpack(">B")
        if tc == TC_NULL:
            return None
        if tc == TC_REFERENCE:
            ref = self.reference()
            if not isinstance(ref, JavaClass):
                raise KeystoreFormatError("class descriptor reference points elsewhere")
            return ref
        if tc in (TC_CLASSDESC, TC_PROXYCLASSDESC):
            return self._class_desc(tc)
        raise KeystoreFormatError(f"expected a class descriptor, found 0x{tc:02x}")

    def _class_desc(self, tc: int) -> JavaClass:
        if tc == TC_PROXYCLASSDESC:
            raise KeystoreFormatError("proxy classes are not expected in a keystore")
        name = self.utf()
        suid = self.unpack(">q")
        cls = JavaClass(name, suid, 0, [])
        self.new_handle(cls)
        cls.flags = self.unpack(">B")
        for _iteration in range(self.unpack(">H")):
            code = chr(self.unpack(">B"))
            fname = self.utf()
            signature = None
            if code in "L[":
                signature = self.content()
                if not isinstance(signature, str):
                    raise KeystoreFormatError("field type is not a string")
            elif code not in _PRIMITIVES:
                raise KeystoreFormatError(f"bad field type code {code!r}")
            cls.fields.append((code, fname, signature))
        self._annotations()  # class annotations: ignored
        cls.superclass = self.class_desc()
        return cls

    def _annotations(self) -> list[Any]:
        items: list[Any] = []
        while True:
            if self.data[self.pos : self.pos + 1] == bytes([TC_ENDBLOCKDATA]):
                self.pos += 1
                return items
            items.append(self.content())

    def _array(self) -> Any:
        cls = self.class_desc()
        if cls is None or not cls.name.startswith("["):
            raise KeystoreFormatError("array without an array class")
        slot = self.new_handle(None)
        size = self.unpack(">i")
        if not 0 <= size <= _MAX_ARRAY:
            raise KeystoreFormatError("Java array size out of range")
        element = cls.name[1]
        value: Any
        if element == "B":
            value = self.take(size)
        elif element in _PRIMITIVES:
            fmt, width = _PRIMITIVES[element]
            value = [struct.unpack(fmt, self.take(width))[0] for _iteration in range(size)]
        else:
            value = [self.content() for _iteration in range(size)]
        self.handles[slot] = value
        return value

    def _object(self) -> JavaObject:
        cls = self.class_desc()
        if cls is None:
            raise KeystoreFormatError("object without a class")
        obj = JavaObject(cls)
        self.new_handle(obj)
        for level in cls.hierarchy():
            if level.flags & SC_EXTERNALIZABLE:
                if not level.flags & SC_BLOCK_DATA:
                    raise KeystoreFormatError(f"cannot read externalizable class {level.name}")
                obj.annotations.extend(self._annotations())
                continue
            for code, fname, _sig in level.fields:
                if code in _PRIMITIVES:
                    obj.fields[fname] = self.unpack(_PRIMITIVES[code][0])
                else:
                    obj.fields[fname] = self.content()
            if level.flags & SC_WRITE_METHOD:
                obj.annotations.extend(self._annotations())
        return obj


def read_object(data: bytes, pos: int = 0) -> tuple[Any, int]:
    """Read one stream (header plus one top-level object) starting at `pos`; return it and the end."""
    reader = _Reader(data, pos)
    if reader.unpack(">H") != STREAM_MAGIC or reader.unpack(">H") != STREAM_VERSION:
        raise KeystoreFormatError("not a Java serialization stream")
    value = reader.content()
    return value, reader.pos


# --- writer --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassSpec:
    """A serializable class as the writer needs it: fields are (type code, name, signature)."""

    name: str
    suid: int
    fields: tuple[tuple[str, str, str | None], ...] = ()
    superclass: ClassSpec | None = None
    flags: int = SC_SERIALIZABLE

    def ordered_fields(self) -> list[tuple[str, str, str | None]]:
        # ObjectStreamClass order: primitives first, then object fields, each group by name.
        return sorted(self.fields, key=lambda f: (f[0] in "L[", f[1]))


BYTE_ARRAY = ClassSpec("[B", -5984413125824719648)


@dataclass
class ObjectSpec:
    cls: ClassSpec
    values: dict[str, Any]


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray(struct.pack(">HH", STREAM_MAGIC, STREAM_VERSION))
        self.handles: dict[Any, int] = {}
        self.next = BASE_HANDLE

    def assign(self, key: Any) -> None:
        if key is not None:
            self.handles[key] = self.next
        self.next += 1

    def ref(self, key: Any) -> bool:
        if key in self.handles:
            self.out += struct.pack(">Bi", TC_REFERENCE, self.handles[key])
            return True
        return False

    def string(self, text: str, shared: bool = False) -> None:
        if shared and self.ref(("str", text)):
            return
        self.out.append(TC_STRING)
        self.out += write_utf(text)
        self.assign(("str", text) if shared else None)

    def class_desc(self, cls: ClassSpec | None) -> None:
        if cls is None:
            self.out.append(TC_NULL)
            return
        if self.ref(("class", cls.name)):
            return
        self.out.append(TC_CLASSDESC)
        self.out += write_utf(cls.name)
        self.out += struct.pack(">q", cls.suid)
        self.assign(("class", cls.name))
        fields = cls.ordered_fields()
        self.out += struct.pack(">BH", cls.flags, len(fields))
        for code, name, signature in fields:
            self.out.append(ord(code))
            self.out += write_utf(name)
            if code in "L[":
                if signature is None:
                    raise ValueError(f"field {name} needs a type signature")
                self.string(signature, shared=True)
        self.out.append(TC_ENDBLOCKDATA)
        self.class_desc(cls.superclass)

    def value(self, value: Any) -> None:
        if value is None:
            self.out.append(TC_NULL)
        elif isinstance(value, str):
            self.string(value)
        elif isinstance(value, (bytes, bytearray)):
            self.out.append(TC_ARRAY)
            self.class_desc(BYTE_ARRAY)
            self.assign(None)
            self.out += struct.pack(">i", len(value)) + bytes(value)
        elif isinstance(value, ObjectSpec):
            self.out.append(TC_OBJECT)
            self.class_desc(value.cls)
            self.assign(None)
            levels: list[ClassSpec] = []
            cls: ClassSpec | None = value.cls
            while cls is not None:
                levels.append(cls)
                cls = cls.superclass
            for level in reversed(levels):
                for code, name, _sig in level.ordered_fields():
                    if code in _PRIMITIVES:
                        self.out += struct.pack(_PRIMITIVES[code][0], value.values[name])
                    else:
                        self.value(value.values[name])
        else:
            raise TypeError(f"cannot serialize {type(value).__name__}")


def write_object(obj: ObjectSpec) -> bytes:
    """One complete stream (header plus `obj`), as a fresh ObjectOutputStream writes it."""
    writer = _Writer()
    writer.value(obj)
    return bytes(writer.out)
