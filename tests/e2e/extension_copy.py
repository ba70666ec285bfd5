"""A temporary copy of the original Chrome extension, pointed at a RecordPlus server.

The extension (`nabil2i/recordplusext`) has no licence, so the project never ships it: the tests
copy it from `../shared/clients/recordplusext` and change only what anyone deploying it must
change, its base URL. In `content.js` that URL is written three times, and two of them (the chunk
and the finalize URLs) are template literals that start with a stray `"`, so as shipped those
requests go to a relative URL on the recorded site; pointing it at a server means fixing that quote
too. The commented-out alternatives are left as they are. Every other file is copied unchanged.
"""

from __future__ import annotations

import difflib
import filecmp
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where the workplace keeps the real client (README of ../shared/clients); CI has the same path.
ORIGINAL = ROOT.parent / "shared" / "clients" / "recordplusext"
SHIPPED_BASE = "https://recordplus.onrender.com/api/record/"

# (what the shipped content.js says, what the copy says, how many times) for a base URL `{base}`.
_EDITS = (
    (f'fetch("{SHIPPED_BASE}videos/"', 'fetch("{base}videos/"', 1),
    (f'`"{SHIPPED_BASE}videos/${{videoId}}/update_video_file/`', "`{base}videos/${{videoId}}/update_video_file/`", 1),
    (f'`"{SHIPPED_BASE}videos/${{videoId}}/finalize_video_upload/`', "`{base}videos/${{videoId}}/finalize_video_upload/`", 1),
)


class ExtensionChanged(AssertionError):
    """The original extension is not the code this test was written for (an edit did not apply)."""


def copy_extension(destination: Path, *, base_url: str, original: Path = ORIGINAL) -> str:
    """Copy the extension into `destination` with its base URL set to `base_url` (ending in `/`);
    return the unified diff of the copy against the original (only content.js differs)."""
    if not base_url.endswith("/"):
        raise ValueError(f"the extension appends 'videos/' to its base URL, so it must end with '/': {base_url!r}")
    if '"' in base_url or "`" in base_url or "${" in base_url:
        raise ValueError(f"base URL would break content.js's string literals: {base_url!r}")
    shutil.copytree(original, destination)
    script = destination / "content.js"
    text = script.read_text(encoding="utf-8")
    for shipped, template, count in _EDITS:
        found = text.count(shipped)
        if found != count:
            raise ExtensionChanged(f"content.js has {found} of {shipped!r}, expected {count}: is this the original extension?")
        text = text.replace(shipped, template.format(base=base_url))
    live = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    if any(SHIPPED_BASE in line for line in live):
        raise ExtensionChanged("content.js still sends to the shipped base URL after the edits")
    script.write_text(text, encoding="utf-8")
    return diff_against_original(destination, original=original)


def diff_against_original(copy: Path, *, original: Path = ORIGINAL) -> str:
    """Unified diff of every file that differs between `original` and `copy` (and the names of
    files only in one of them)."""
    lines: list[str] = []
    originals = {p.relative_to(original) for p in original.rglob("*") if p.is_file()}
    copies = {p.relative_to(copy) for p in copy.rglob("*") if p.is_file()}
    for only in sorted(originals ^ copies):
        lines.append(f"Only in {'original' if only in originals else 'copy'}: {only}\n")
    for relative in sorted(originals & copies):
        before, after = original / relative, copy / relative
        if filecmp.cmp(before, after, shallow=False):
            continue
        lines.extend(
            difflib.unified_diff(
                before.read_text(encoding="utf-8").splitlines(keepends=True),
                after.read_text(encoding="utf-8").splitlines(keepends=True),
                fromfile=f"recordplusext/{relative}",
                tofile=f"copy/{relative}",
            )
        )
    return "".join(lines)
