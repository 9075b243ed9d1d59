"""Archives (.docx, any zip-based format such as OFD) opened only after reading them incrementally under caps.

A zip member's declared size can lie and a few kB can inflate to gigabytes, so nothing is trusted:
every member is streamed in blocks and the decompressed bytes are counted as they come, stopping
at :attr:`rag.Config.max_archive_bytes`; the member count is checked against
:attr:`rag.Config.max_archive_entries` before anything is inflated. Python's :mod:`zipfile` docs
recommend exactly this for decompression bombs.
"""

from __future__ import annotations

import io
import zipfile

_BLOCK = 1 << 16


class ArchiveTooLarge(ValueError):
    """An archive goes over one of the caps; the message names the cap and how to raise it."""


def check_zip(data: bytes, *, max_bytes: int, max_entries: int, kind: str = "archive") -> zipfile.ZipFile:
    """Open the zip in ``data`` once every member has been read within the caps.

    Args:
        data: the archive's bytes.
        max_bytes: the most decompressed bytes all members together may hold.
        max_entries: the most members the archive may have.
        kind: what to call the file in messages (".docx").

    Returns:
        The opened archive (its members are then known to inflate to at most ``max_bytes`` in total).

    Raises:
        ArchiveTooLarge: more members or more decompressed bytes than allowed (read at most
            ``max_bytes`` + one block to find out).
        zipfile.BadZipFile: not a zip, or a member is corrupt.
    """
    archive = zipfile.ZipFile(io.BytesIO(data))
    members = archive.infolist()
    if len(members) > max_entries:
        raise ArchiveTooLarge(f"{kind} has {len(members):,} entries; the limit is {max_entries:,} "
                              "(Config.max_archive_entries)")
    total = 0
    for member in members:
        with archive.open(member) as stream:
            while block := stream.read(_BLOCK):
                total += len(block)
                if total > max_bytes:
                    raise ArchiveTooLarge(
                        f"{kind} inflates to more than {max_bytes / 1e6:,.0f} MB (a decompression bomb?); "
                        f"the limit is Config.max_archive_bytes = {max_bytes:,}")
    return archive
