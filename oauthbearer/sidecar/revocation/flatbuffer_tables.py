"""FlatBuffers tables read by a description of their layout, every bound checked.

The ``flatbuffers`` runtime's :class:`~flatbuffers.table.Table` reads wherever an offset
points (Python's ``unpack_from`` even accepts negative offsets); a table from an
untrusted peer is checked here at every step, so a truncated or hostile buffer raises
:class:`~oauthbearer.sidecar.revocation.events.MalformedEvent` and never an
``IndexError`` or a read of the wrong bytes. A layout lists a table's fields in vtable
slot order (no generated code: :mod:`~oauthbearer.sidecar.revocation.keycloak_flatbuffers`
describes the schema it reads).

Example:
    >>> import flatbuffers
    >>> b = flatbuffers.Builder(32)
    >>> name = b.CreateString("u-1")
    >>> b.StartObject(2); b.PrependInt64Slot(0, 7, 0); b.PrependUOffsetTRelativeSlot(1, name, 0)
    >>> _ = b.Finish(b.EndObject())
    >>> read_root(bytes(b.Output()), layout(Field("uid", LONG), Field("userId", STRING)))
    {'uid': 7, 'userId': 'u-1'}
    >>> read_root(b"\\x10\\x00", layout(Field("uid", LONG)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    oauthbearer.sidecar.revocation...MalformedEvent: truncated or corrupt FlatBuffers table
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flatbuffers import number_types
from flatbuffers.table import Table

from oauthbearer.sidecar.revocation.events import MalformedEvent

__all__ = ["BYTE", "LONG", "STRING", "TABLE", "TABLES", "Field", "Layout", "layout", "read_root"]

#: What a field holds: an int64, an int8, a UTF-8 string, one table, a vector of tables.
LONG, BYTE, STRING, TABLE, TABLES = "long", "byte", "string", "table", "tables"


@dataclass(frozen=True, slots=True)
class Field:
    """One vtable slot: its name in the result, its kind, and a nested table's layout."""

    name: str
    kind: str
    layout: tuple[Field, ...] = ()


#: A table's fields in vtable slot order.
Layout = tuple[Field, ...]


def layout(*fields: Field) -> Layout:
    """The fields of a table, in vtable slot order."""
    return fields


_U32 = number_types.UOffsetTFlags
_S32 = number_types.SOffsetTFlags
_U16 = number_types.VOffsetTFlags
_SCALARS = {LONG: number_types.Int64Flags, BYTE: number_types.Int8Flags}


def _need(buf: bytes, pos: int, size: int) -> None:
    if pos < 0 or size < 0 or pos + size > len(buf):
        raise MalformedEvent("truncated or corrupt FlatBuffers table")


def read_root(buf: bytes, layout: Layout) -> dict[str, Any]:
    """The root table of ``buf`` as ``{field name: value}`` for the fields it has;
    :class:`MalformedEvent` if any offset points outside ``buf``."""
    _need(buf, 0, 4)
    root = Table(buf, 0).Get(_U32, 0)
    return _Reader(buf).table(root, layout)


def _table(buf: bytes, pos: int) -> Table:
    """A :class:`Table` at ``pos`` whose vtable lies wholly inside ``buf``."""
    _need(buf, pos, 4)
    table = Table(buf, pos)
    vtable = pos - table.Get(_S32, pos)
    _need(buf, vtable, 4)
    vtable_size = table.Get(_U16, vtable)
    if vtable_size < 4 or vtable_size % 2:
        raise MalformedEvent("corrupt FlatBuffers vtable")
    _need(buf, vtable, vtable_size)
    return table


def _indirect(buf: bytes, table: Table, pos: int) -> int:
    _need(buf, pos, 4)
    return pos + int(table.Get(_U32, pos))


class _Reader:
    """Reads one buffer's tables, in time and memory linear in the buffer's size.

    Offsets may point at the same string or table any number of times. Decoded afresh at
    every reference, a 267 KB event whose 25,000 details all named one 100,000-character
    string took 4.8 GiB and 16.5 s on the event loop. Each string is decoded once (by
    its position), and a buffer may not make us read more tables than it could hold
    (one per 4 bytes) however they are shared.
    """

    __slots__ = ("_buf", "_strings", "_tables_left")

    def __init__(self, buf: bytes) -> None:
        self._buf = buf
        self._strings: dict[int, str] = {}
        self._tables_left = len(buf) // 4 + 1

    def table(self, pos: int, fields: Layout) -> dict[str, Any]:
        self._tables_left -= 1
        if self._tables_left < 0:
            raise MalformedEvent("a FlatBuffers buffer that refers to its tables too often")
        buf = self._buf
        table = _table(buf, pos)
        out: dict[str, Any] = {}
        for slot, field in enumerate(fields):
            offset = table.Offset(4 + 2 * slot)
            if offset == 0:
                continue  # absent: a default scalar, or an unset string/table/vector
            at = table.Pos + offset
            if field.kind in _SCALARS:
                flags = _SCALARS[field.kind]
                _need(buf, at, flags.bytewidth)
                out[field.name] = table.Get(flags, at)
            elif field.kind == STRING:
                out[field.name] = self.string(table, at)
            elif field.kind == TABLE:
                out[field.name] = self.table(_indirect(buf, table, at), field.layout)
            else:
                vector = _indirect(buf, table, at)
                _need(buf, vector, 4)
                count = table.Get(_U32, vector)
                _need(buf, vector + 4, 4 * count)  # also bounds the loop by the buffer's size
                out[field.name] = [
                    self.table(_indirect(buf, table, vector + 4 + 4 * i), field.layout)
                    for i in range(count)
                ]
        return out

    def string(self, table: Table, at: int) -> str:
        buf = self._buf
        start = _indirect(buf, table, at)
        known = self._strings.get(start)
        if known is not None:
            return known
        _need(buf, start, 4)
        length = table.Get(_U32, start)
        _need(buf, start + 4, length)
        try:
            decoded = bytes(buf[start + 4 : start + 4 + length]).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEvent("a FlatBuffers string is not UTF-8") from None
        self._strings[start] = decoded
        return decoded
