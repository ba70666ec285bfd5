"""What KEDA's trigger query *evaluates to* when several API pods are scraped.

Kills the mutant "the KEDA query's outer `max(` changed to `sum(`": every API pod reports the
same database-wide backlog, so a sum over pods multiplies the backlog by the number of API
replicas (two API pods and one waiting job would look like two jobs, and KEDA would start a
second GPU pod for nothing). The rendered query is evaluated here on series from two pods by a
small evaluator of the PromQL subset the chart uses (aggregations with `by`/`without`, vector
selectors with `=` matchers, `or vector(0)`), so any change of the aggregation is caught by its
effect, not by its spelling.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.support import workload

Series = dict[frozenset[tuple[str, str]], float]

_AGGREGATIONS = {
    "max": max,
    "min": min,
    "sum": sum,
    "avg": lambda values: sum(values) / len(values),
    "count": len,
}


class _Parser:
    """Recursive descent over: expr := term ("or" term)*; term := agg | "vector(" n ")" | selector."""

    def __init__(self, text: str, samples: Series) -> None:
        self.text, self.pos, self.samples = text, 0, samples

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _take(self, pattern: str) -> re.Match[str] | None:
        self._skip()
        match = re.compile(pattern).match(self.text, self.pos)
        if match:
            self.pos = match.end()
        return match

    def _expect(self, pattern: str) -> re.Match[str]:
        match = self._take(pattern)
        assert match, f"unexpected PromQL at {self.text[self.pos:]!r} (wanted {pattern!r})"
        return match

    def parse(self) -> Series:
        result = self.expr()
        self._skip()
        assert self.pos == len(self.text), f"unparsed PromQL: {self.text[self.pos:]!r}"
        return result

    def expr(self) -> Series:
        left = self.term()
        while self._take(r"or\b"):
            right = self.term()
            # `or`: the left side, plus right-side series whose label sets are not on the left.
            left = left | {labels: v for labels, v in right.items() if labels not in left}
        return left

    def term(self) -> Series:
        if match := self._take(r"vector\s*\(\s*([0-9.]+)\s*\)"):
            return {frozenset(): float(match.group(1))}
        if match := self._take(r"(max|min|sum|avg|count)\b"):
            name, grouping, labels = match.group(1), None, ()
            if group := self._take(r"(by|without)\s*\(([^)]*)\)"):
                grouping, labels = group.group(1), tuple(x.strip() for x in group.group(2).split(",") if x.strip())
            self._expect(r"\(")
            inner = self.expr()
            self._expect(r"\)")
            return self._aggregate(name, grouping, labels, inner)
        return self.selector()

    def selector(self) -> Series:
        name = self._expect(r"[a-zA-Z_:][a-zA-Z0-9_:]*").group(0)
        matchers: list[tuple[str, str]] = []
        if self._take(r"\{"):
            while not self._take(r"\}"):
                matcher = self._expect(r'([a-zA-Z_]\w*)\s*=\s*"([^"]*)"\s*,?')
                matchers.append((matcher.group(1), matcher.group(2)))
        return {
            labels: value
            for labels, value in self.samples.items()
            if ("__name__", name) in labels and all((k, v) in labels for k, v in matchers)
        }

    @staticmethod
    def _aggregate(name: str, grouping: str | None, labels: tuple[str, ...], inner: Series) -> Series:
        groups: dict[frozenset[tuple[str, str]], list[float]] = {}
        for series, value in inner.items():
            if grouping == "by":
                key = frozenset((k, v) for k, v in series if k in labels)
            elif grouping == "without":
                key = frozenset((k, v) for k, v in series if k not in labels and k != "__name__")
            else:
                key = frozenset()
            groups.setdefault(key, []).append(value)
        return {key: float(_AGGREGATIONS[name](values)) for key, values in groups.items()}


def evaluate(query: str, samples: Series) -> float | None:
    """The single value of `query` on `samples` (None when the result is empty)."""
    result = _Parser(query, samples).parse()
    assert len(result) <= 1, f"KEDA needs one value, the query gives {len(result)} series: {result}"
    return next(iter(result.values()), None)


def backlog(pod: str, queue: str, state: str, value: float, namespace: str = "recordplus") -> Series:
    labels = {"__name__": "recordplus_queue_backlog_jobs", "queue": queue, "state": state, "pod": pod, "namespace": namespace}
    return {frozenset(labels.items()): value}


def _query(production: list[dict[str, Any]], component: str) -> str:
    (trigger,) = workload(production, "ScaledObject", component)["spec"]["triggers"]
    return trigger["metadata"]["query"]


@pytest.mark.parametrize("component, queue", [("assembler", "assemble"), ("transcriber", "transcribe")])
def test_it_counts_the_database_backlog_once_whatever_the_number_of_api_pods(
    production: list[dict[str, Any]], component: str, queue: str
) -> None:
    query = _query(production, component)
    other = "transcribe" if queue == "assemble" else "assemble"
    # Two API pods scrape the same database: one job waiting, two running, on each pod.
    samples: Series = {}
    for pod in ("api-a", "api-b"):
        samples |= backlog(pod, queue, "waiting", 1) | backlog(pod, queue, "running", 2)
        samples |= backlog(pod, other, "waiting", 40)  # the other queue's backlog is not ours
        samples |= backlog(pod, queue, "waiting", 99, namespace="someone-else")  # nor another release's
    assert evaluate(query, samples) == 3, query


def test_it_keeps_a_busy_transcriber_alive_and_reads_zero_when_idle(production: list[dict[str, Any]]) -> None:
    query = _query(production, "transcriber")
    # One pod scraped a moment later than the other (a job started in between): the higher
    # value counts, never the sum and never the staler one.
    running = backlog("api-a", "transcribe", "running", 1) | backlog("api-b", "transcribe", "running", 0)
    assert evaluate(query, running) == 1
    # No series at all (Prometheus just restarted): 0, not an empty result KEDA treats as an error.
    assert evaluate(query, {}) == 0


def test_the_evaluator_tells_the_aggregations_apart() -> None:
    """The evaluator itself: a sum over pods and a max over pods differ on two pods' series."""
    samples = backlog("a", "q", "waiting", 2) | backlog("b", "q", "waiting", 2)
    assert evaluate('max(sum without (state) (recordplus_queue_backlog_jobs{queue="q"})) or vector(0)', samples) == 2
    assert evaluate('sum(sum without (state) (recordplus_queue_backlog_jobs{queue="q"})) or vector(0)', samples) == 4
    assert evaluate('sum by (queue) (recordplus_queue_backlog_jobs{queue="q"})', samples) == 4
