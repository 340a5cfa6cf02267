"""An organisation file uploaded through the console: read it as strictly as the API reads a
body. It must be UTF-8 YAML or JSON, nested at most ``MAX_DEPTH`` levels, and YAML aliases
may not make it grow beyond what its text could spell out (a "billion laughs" file is a few
hundred bytes that expand to billions of values). Anything else is an OrgFileError whose lines
say what to fix; the checks of ``validate`` follow.
"""
from __future__ import annotations

from governance.orgfile.schema import OrgSpec
from governance.orgfile.validate import OrgFileError, load_text, validate

MAX_DEPTH = 32
GROWTH = 4  # values per byte of text allowed (without aliases a value takes at least a byte)


def read_upload(data: bytes, name: str) -> tuple[str, OrgSpec]:
    """The file's text and its checked organisation, or OrgFileError listing the problems."""
    if not data.strip():
        raise OrgFileError([f"{name}: the file is empty"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OrgFileError([f"{name}: not UTF-8 text (byte {exc.start} cannot be read); save "
                            "the file as UTF-8 and upload it again"]) from None
    try:
        loaded = load_text(text, name)
    except RecursionError:
        raise OrgFileError([f"{name}: nested more than {MAX_DEPTH} levels deep"]) from None
    check_shape(loaded, name, limit=GROWTH * len(data) + 1000)
    return text, validate(loaded)


def check_shape(value: object, name: str, limit: int) -> None:
    """Refuse a document nested too deeply, referring to itself, or expanding (through YAML
    aliases, which share one object) to more than ``limit`` values. Iterative, and each shared
    object is counted once per use from its memoised size, so a bomb costs its size, not its
    expansion."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[object, int, bool]] = [(value, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if not isinstance(node, dict | list) or (not done and id(node) in sizes):
            continue
        if depth > MAX_DEPTH:
            raise OrgFileError([f"{name}: nested more than {MAX_DEPTH} levels deep"])
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        if done:
            open_.discard(id(node))
            size = 1 + sum(sizes.get(id(c), 1) for c in children)
            if size > limit:
                raise OrgFileError([f"{name}: its YAML aliases expand it to more than {limit} "
                                    "values; write the repeated parts out, or use fewer "
                                    "aliases"])
            sizes[id(node)] = size
            continue
        if id(node) in open_:
            raise OrgFileError([f"{name}: a YAML alias refers to a value that contains it"])
        open_.add(id(node))
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if isinstance(c, dict | list))
