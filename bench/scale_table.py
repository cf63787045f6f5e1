"""The figures of `bench/scale.py` and the table it prints: pure code, no Django.

Targets (issue 19), between the smallest and the largest size measured:
- a page: the same number of queries at both sizes, and its time at the largest
  at most 1.5 times its time at the smallest;
- a periodic job: per item it processed (what the seeding made due), no more queries
  at the largest than at the smallest (a constant overhead spread over more items
  counts for it) and at most 1.5 times the time.
"""

from dataclasses import dataclass, field

TIME_RATIO = 1.5
MET, NOT_MET = "MET", "NOT MET"


@dataclass(frozen=True)
class Figure:
    """One page or job at one size: median ms of the warm runs, queries of one run."""

    ms: float
    queries: int
    items: int | None = None  # jobs: what the seeding made due for it
    note: str = ""  # e.g. an unexpected status code, or what the task returned

    @property
    def is_job(self) -> bool:
        return self.items is not None

    @property
    def ms_per_item(self) -> float:
        return self.ms / max(self.items or 0, 1)

    @property
    def queries_per_item(self) -> float:
        return self.queries / max(self.items or 0, 1)


@dataclass
class Row:
    name: str
    figures: dict[int, Figure] = field(default_factory=dict)  # by size

    def ends(self) -> tuple[Figure, Figure] | None:
        if len(self.figures) < 2:
            return None
        sizes = sorted(self.figures)
        return self.figures[sizes[0]], self.figures[sizes[-1]]

    def time_ratio(self) -> float | None:
        ends = self.ends()
        if ends is None:
            return None
        small, large = ends
        if small.is_job:
            return large.ms_per_item / small.ms_per_item if small.ms_per_item else None
        return large.ms / small.ms if small.ms else None

    def queries_verdict(self) -> str:
        ends = self.ends()
        if ends is None:
            return ""
        small, large = ends
        if small.is_job:
            # A little slack for float division: 7.0 per item is 7.0 per item.
            return MET if large.queries_per_item <= small.queries_per_item + 1e-9 else NOT_MET
        return MET if large.queries == small.queries else NOT_MET

    def time_verdict(self) -> str:
        ratio = self.time_ratio()
        if ratio is None:
            return ""
        return MET if ratio <= TIME_RATIO else NOT_MET


def size_label(size: int) -> str:
    """1000 -> "1k", 100000 -> "100k", 2500 -> "2500"."""
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def _cell(figure: Figure | None) -> str:
    if figure is None:
        return ""
    if figure.is_job:
        text = (
            f"{figure.ms:.0f} / {figure.queries} ({figure.items} items: "
            f"{figure.ms_per_item:.1f} ms, {figure.queries_per_item:.1f} q each)"
        )
    else:
        text = f"{figure.ms:.1f} / {figure.queries}"
    return f"{text} {figure.note}".strip()


def render(rows: list[Row], sizes: list[int]) -> str:
    """A Markdown table: ms / queries per size, the time ratio, and each target's verdict."""
    sizes = sorted(sizes)
    ratio_head = f"time {size_label(sizes[-1])} / {size_label(sizes[0])}" if len(sizes) > 1 else ""
    head = ["page or job", *(f"{size_label(s)}: ms / queries" for s in sizes)]
    if ratio_head:
        head += [ratio_head, "queries", f"time (<= {TIME_RATIO}x)"]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for row in rows:
        cells = [row.name, *(_cell(row.figures.get(s)) for s in sizes)]
        if ratio_head:
            ratio = row.time_ratio()
            cells += [
                f"{ratio:.2f}" if ratio is not None else "",
                row.queries_verdict(),
                row.time_verdict(),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    """How many rows meet both targets, and which do not."""
    judged = [r for r in rows if r.ends() is not None]
    missed = [r.name for r in judged if NOT_MET in (r.queries_verdict(), r.time_verdict())]
    text = f"{len(judged) - len(missed)} of {len(judged)} rows meet both targets"
    return text + (f"; not met: {'; '.join(missed)}" if missed else "")
