"""Put the pieces of one recording back in byte order from the container's own structure.

The original extension records without a timeslice, slices the one Blob it gets at stop into
1 MiB pieces and sends them all at once without an index, so arrival order means nothing. The
bytes do: every piece but the first starts in the middle of some element (a WebM block, an MP4
mdat sample) or at the start of one, and only the piece that really follows can continue the
element the previous piece cut. `order_pieces` searches the orders that the container structure
allows and returns one only when it is the only one: a wrong guess would make a `ready` video
with corrupt content, so every doubt is an `OrderUnknown` naming the pieces concerned.

How it stays fast: walking a piece from a boundary state (see `integrity`: "the next element
starts N bytes into this piece, these elements are open, these were the last timestamps") gives
the state at the piece's end, or proves the piece cannot go there, usually after one or two
element headers. Before any walk, a probe of one to five bytes (the first byte of the element
header due at that offset, an MP4 box type, a NAL length prefix) turns most candidates away.
Walks are cached per (piece, entry state), so the exhaustive search for a second order costs a
probe per candidate; dead ends are remembered per (set of pieces placed, state). Walks read
headers only (payloads are skipped with seeks), and the search has a step budget and capped
caches, so time and memory stay bounded whatever the upload holds.

What cannot be proven: a piece lying wholly inside one element's payload (a video frame bigger
than a piece; an mdat of a plain, unfragmented MP4) is never read, so two such pieces of the
same size can trade places; that is reported as soon as the search meets it. MediaRecorder's
frames are far smaller than the extension's 1 MiB pieces, so its recordings are not affected.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from recordplus.assembler.errors import MediaRejected
from recordplus.assembler.integrity import Budget, Invalid, LimitHit, sniff, walker_for

__all__ = ["OrderUnknown", "order_pieces"]


class OrderUnknown(MediaRejected):
    """The pieces' byte order cannot be proven from the media; `str()` names the pieces."""


# One search's work: candidates looked at + walks started + element headers read. A one-hour
# recording in 1 MiB pieces (~1100 of them) takes under a million.
MAX_SEARCH_STEPS = 3_000_000
MAX_CACHED_WALKS = 200_000
MAX_PENDING_BYTES = 64 << 20  # header/index bytes carried over piece boundaries, all cached states
MAX_DEAD_END_BYTES = 32 << 20  # remembered (pieces placed, state) pairs with no completion
MAX_OPEN_FILES = 128
_FORMATS = {"ebml": "WebM/Matroska", "mp4": "MP4"}


def _listing(labels: Sequence[str], limit: int = 8) -> str:
    """'a, b and c' (or 'a, b, … and 7 more')."""
    labels = list(labels)
    if len(labels) > limit:
        return f"{', '.join(labels[:limit])} and {len(labels) - limit} more"
    if len(labels) <= 1:
        return "".join(labels)
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


def _sequence(labels: Sequence[str]) -> str:
    """A long order shortened in the middle: 'a, b, c, …, y, z (26 pieces)'."""
    if len(labels) <= 8:
        return _listing(labels)
    return f"{', '.join(labels[:3])}, …, {', '.join(labels[-2:])} ({len(labels)} pieces)"


class _Files:
    """Descriptors of the pieces, opened on demand, at most MAX_OPEN_FILES at a time."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = paths
        self.open: OrderedDict[int, int] = OrderedDict()

    def fd(self, index: int) -> int:
        fd = self.open.get(index)
        if fd is not None:
            self.open.move_to_end(index)
            return fd
        if len(self.open) >= MAX_OPEN_FILES:
            os.close(self.open.popitem(last=False)[1])
        fd = self.open[index] = os.open(self.paths[index], os.O_RDONLY)
        return fd

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for fd in self.open.values():
            os.close(fd)
        self.open.clear()


def _positions(pinned: Mapping[int, int], count: int, labels: Sequence[str]) -> dict[int, int]:
    """position -> piece, from piece -> position; OrderUnknown when the declarations clash."""
    at: dict[int, int] = {}
    for piece, position in pinned.items():
        if not 0 <= piece < count:
            raise ValueError(f"pinned names piece {piece}, but there are {count} pieces")
        if not 0 <= position < count:
            raise OrderUnknown(f"{labels[piece]} declares position {position}, but there are only {count} pieces")
        if position in at:
            raise OrderUnknown(f"{labels[at[position]]} and {labels[piece]} both declare position {position}")
        at[position] = piece
    return at


def order_pieces(pieces: Sequence[Path], *, names: Sequence[str] | None = None,
                 pinned: Mapping[int, int] | None = None) -> list[int]:
    """The permutation of `pieces` (indexes into it) whose concatenation is the recording.

    `pinned` maps a piece to the position it must take (a client declared its chunk_index; the
    piece sent with the create call is pinned to 0). `names` are how errors name the pieces
    (default "piece N"). WebM/Matroska and MP4 (fragmented or not) are understood. Raises
    OrderUnknown, with a reason naming the pieces, when no piece starts with a header, when more
    than one order (or none) is consistent with the media, or when a bound is hit. One piece, or
    every position pinned, is returned as is without reading anything.
    """
    count = len(pieces)
    labels = list(names) if names is not None else [f"piece {i}" for i in range(count)]
    if len(labels) != count:
        raise ValueError(f"{len(labels)} names for {count} pieces")
    if count <= 1:
        return list(range(count))
    at = _positions(pinned or {}, count, labels)
    if len(at) == count:
        return [at[position] for position in range(count)]
    sizes = [os.stat(path).st_size for path in pieces]
    empty = [labels[i] for i in range(count) if not sizes[i]]
    if empty:
        raise OrderUnknown(f"{_listing(empty)} {'is' if len(empty) == 1 else 'are'} empty: an empty "
                           "piece fits anywhere, so its place cannot be proven")
    with _Files(pieces) as files:
        kinds = [sniff(os.pread(files.fd(i), 16, 0)) for i in range(count)]
        starts = [i for i in range(count) if kinds[i]]
        if not starts:
            raise OrderUnknown(
                f"none of the {count} pieces starts with a WebM/Matroska or MP4 header: the first "
                "piece is missing, or the format is not one whose order can be recovered")
        if len(starts) > 1:
            raise OrderUnknown(
                f"{_listing([labels[i] for i in starts])} each start with a container header: "
                "the pieces come from more than one recording")
        first = starts[0]
        if 0 in at and at[0] != first:
            raise OrderUnknown(f"{labels[at[0]]} is declared first but does not start with a "
                               f"{_FORMATS[kinds[first]]} header; {labels[first]} does")
        declared = next((position for position, piece in at.items() if piece == first), 0)
        if declared:
            raise OrderUnknown(f"{labels[first]} starts the recording but declares position {declared}")
        return _Search(kinds[first], files, sizes, labels, at, first).run()


class _Search:
    """Depth-first search over the orders the structure allows, stopping at the second one.

    Memory is bounded whatever the pieces hold: one small frame per placed piece, at most
    MAX_CACHED_WALKS cached walks holding at most MAX_PENDING_BYTES of carried-over header
    bytes between them, and dead ends remembered up to MAX_DEAD_END_BYTES.
    """

    def __init__(self, kind: str, files: _Files, sizes: list[int], labels: list[str],
                 at: dict[int, int], first: int) -> None:
        self.kind = kind
        self.walker = walker_for(kind)
        self.files = files
        self.sizes = sizes
        self.labels = labels
        self.at = at
        self.first = first
        self.count = len(sizes)
        self.total = sum(sizes)
        self.budget = Budget(MAX_SEARCH_STEPS)
        self.cache: dict[tuple[int, object], object] = {}
        self.pending_bytes = 0
        pinned = set(at.values())
        self.free = [i for i in range(self.count) if i != first and i not in pinned]
        # The deepest point the search reached, for the error message.
        self.best_depth = 0
        self.best_prefix: list[int] = []
        self.best_failures: list[tuple[int, str]] = []
        self.limit: str | None = None

    def step(self, piece: int, state: object) -> object:
        """The state after walking `piece` from `state`, or the Invalid saying why it cannot."""
        key = (piece, state)
        result = self.cache.get(key)
        if result is not None:
            return result
        self.spend(1)
        try:
            result = self.walker.walk(state, self.files.fd(piece), self.sizes[piece],  # type: ignore[arg-type]
                                      total=self.total, budget=self.budget)[0]
        except LimitHit as exc:
            if self.budget.left < 0:
                self.out_of_budget()
            self.limit = self.limit or f"{self.labels[piece]}: {exc}"
            result = exc
        except Invalid as exc:
            result = exc
        if len(self.cache) < MAX_CACHED_WALKS:
            carried = len(getattr(result, "pending", b""))
            self.pending_bytes += carried
            if self.pending_bytes > MAX_PENDING_BYTES:
                raise OrderUnknown(f"gave up ordering {self.count} pieces: too many of them are cut "
                                   "inside the recording's index boxes; send chunk_index with each piece")
            self.cache[key] = result
        return result

    def spend(self, steps: int) -> None:
        self.budget.left -= steps
        if self.budget.left < 0:
            self.out_of_budget()

    def out_of_budget(self) -> None:
        raise OrderUnknown(
            f"gave up ordering {self.count} pieces after {MAX_SEARCH_STEPS} steps of search: pieces "
            "fit in too many places; send chunk_index with each piece")

    def reached(self, order: list[int]) -> None:
        """Remember the longest order found so far that every piece in it continues."""
        if len(order) > self.best_depth:
            self.best_depth, self.best_prefix, self.best_failures = len(order), list(order), []

    def failed(self, order: list[int], piece: int, reason: str) -> None:
        """Remember why `piece` cannot follow `order`, when `order` is the deepest point yet."""
        if len(order) == self.best_depth and len(self.best_failures) < 64 and order == self.best_prefix:
            self.best_failures.append((piece, reason))

    def frame(self, state: object, position: int, found: int, blind: int | None) -> list:
        """A search frame: [state, pieces that may take `position`, next one to try, the
        walker's probe for `state` (None: every piece is walked), solutions found before,
        the size of the piece that led here if it was placed blind]."""
        piece = self.at.get(position)
        pool = [piece] if piece is not None else self.free
        return [state, pool, 0, self.walker.probe(state), found, blind]  # type: ignore[arg-type]

    def blind_twins(self, piece: int, twin: int, state: object) -> OrderUnknown:
        """Two pieces of one size both lie wholly inside element payload: they can trade places."""
        return OrderUnknown(
            f"the order of {_listing(sorted([self.labels[twin], self.labels[piece]]))} cannot be proven: "
            "each lies wholly inside the payload of an element (one reaches byte "
            f"{getattr(state, 'pos', '?')}), where the bytes say nothing about order, and being the "
            "same size they fit in either place: the recording fits in more than one order")

    def run(self) -> list[int]:
        walker = self.walker
        start = self.step(self.first, walker.initial())
        if isinstance(start, Exception):
            self.failed([], self.first, str(start))
            raise OrderUnknown(self.no_order())
        solutions: list[list[int]] = []
        dead: set[tuple[int, object]] = set()
        max_dead = max(1000, MAX_DEAD_END_BYTES // (self.count // 8 + 120))
        order = [self.first]
        self.reached(order)
        used = 1 << self.first
        sizes = self.sizes
        fd = self.files.fd
        frames = [self.frame(start, 1, 0, None)]
        # A blind step (the piece lies wholly inside an element whose payload is skipped, so
        # not one of its bytes is read) depends on the piece's size alone. Two blind steps of
        # equal-sized pieces at unpinned positions can therefore trade places: every
        # completion of such a path has a twin, so the answer can only be OrderUnknown.
        blind_on_path: dict[int, int] = {}  # size -> the piece placed blind with that size
        while frames and len(solutions) < 2:
            frame = frames[-1]
            state, pool, index, probe = frame[0], frame[1], frame[2], frame[3]
            # The next unused piece that passes the probe (a few bytes read, no walk).
            piece = -1
            while index < len(pool):
                candidate = pool[index]
                index += 1
                if used >> candidate & 1:
                    continue
                # Every candidate looked at costs a step, walked or not: a search where
                # pieces fit everywhere (payload without structure) ends at the budget.
                self.spend(1)
                if probe is not None:
                    at, length, fits = probe
                    # A piece too short to hold those bytes is walked whole (it may be payload).
                    if at + length <= sizes[candidate] and not fits(os.pread(fd(candidate), length, at)):
                        continue
                piece = candidate
                break
            frame[2] = index
            if piece < 0:
                frames.pop()
                if len(solutions) == frame[4] and len(dead) < max_dead:
                    dead.add((used, state))
                if frame[5] is not None:
                    del blind_on_path[frame[5]]
                used ^= 1 << order.pop()
                continue
            after = self.step(piece, state)
            if isinstance(after, Exception):
                self.failed(order, piece, str(after))
                continue
            placed = used | 1 << piece
            if (placed, after) in dead:
                continue
            blind = None
            if (len(order) not in self.at and not state.pending  # type: ignore[attr-defined]
                    and state.pos >= state.offset + sizes[piece]):  # type: ignore[attr-defined]
                twin = blind_on_path.get(sizes[piece])
                if twin is not None:
                    raise self.blind_twins(piece, twin, state)
                blind = sizes[piece]
            order.append(piece)
            if len(order) == self.count:
                try:
                    walker.finish(after)  # type: ignore[arg-type]
                    solutions.append(list(order))
                except Invalid as exc:
                    self.failed(order[:-1], piece, f"the recording cannot end there: {exc}")
                order.pop()
                continue
            used = placed
            self.reached(order)
            if blind is not None:
                blind_on_path[blind] = piece
            frames.append(self.frame(after, len(order), len(solutions), blind))
        if len(solutions) == 1:
            return solutions[0]
        if len(solutions) >= 2:
            one, two = solutions
            differ = sorted({one[k] for k in range(self.count) if one[k] != two[k]})
            first = min(k for k in range(self.count) if one[k] != two[k])
            raise OrderUnknown(
                f"the order of {_listing([self.labels[i] for i in differ])} cannot be proven: "
                f"from position {first} on they fit the recording in more than one order "
                f"({_listing([self.labels[i] for i in one[first:first + 4]])} as well as "
                f"{_listing([self.labels[i] for i in two[first:first + 4]])})")
        raise OrderUnknown(self.no_order())

    def no_order(self) -> str:
        """Why no order works, from the deepest point the search reached."""
        bound = f"; a bound was hit ({self.limit})" if self.limit else ""
        if not self.best_prefix:
            piece, reason = self.best_failures[0]
            return (f"no order of the {self.count} pieces makes a whole recording: {self.labels[piece]}, "
                    f"which starts it, does not start a valid {_FORMATS[self.kind]} recording "
                    f"here ({reason}): a piece is missing, extra, or from another recording{bound}")
        prefix = self.best_prefix
        placed = sum(self.sizes[i] for i in prefix)
        rest = [self.labels[i] for i in range(self.count) if i not in set(prefix)]
        if self.best_failures:
            piece, reason = self.best_failures[0]
            why = f" ({self.labels[piece]}: {reason})"
        else:
            # Every candidate was turned away by the probe, before any walk.
            why = " (none has an element header where the next element must start)"
        others = f"{rest[0]} does not" if len(rest) == 1 else f"none of {_listing(rest)}"
        return (f"no order of the {self.count} pieces makes a whole recording: it can be followed "
                f"through {_sequence([self.labels[i] for i in prefix])} ({placed} bytes), but "
                f"{others} continue{'' if len(rest) == 1 else 's'} it there{why}: a piece is missing, "
                f"extra, or from another recording{bound}")
