"""Telling a pickled or zipped PyTorch file from a safetensors file by its first bytes, without opening it.

genzoo reads weights with safetensors only and never unpickles (a pickle can run code), but a
user who passes a `torch.save` file deserves to hear what it is rather than a header error.
"""

from __future__ import annotations

from pathlib import Path

SAFETENSORS_PREFIX = 8  # little-endian length of the JSON header that follows


def unsafe_file_kind(path: Path) -> str | None:
    """"a pickle file" / "a zip archive such as a torch.save file", or None for anything else.

    A safetensors file starts with its header length and then "{"; those 8 length bytes can be
    anything, so "PK" or 0x80 at the start proves nothing on their own (a header of 19280 bytes
    starts with "PK"): a well-formed safetensors prefix is recognised first.
    """
    with open(path, "rb") as handle:
        head = handle.read(SAFETENSORS_PREFIX + 1)
    header_bytes = int.from_bytes(head[:SAFETENSORS_PREFIX], "little")
    if len(head) == SAFETENSORS_PREFIX + 1 and head[-1:] == b"{" and SAFETENSORS_PREFIX + header_bytes <= path.stat().st_size:
        return None
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive such as a torch.save file"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "a pickle file"
    return None
