"""The verdicts `bench/scale.py` prints: what counts as a target met at scale."""

from bench.scale_table import MET, NOT_MET, Figure, Row, render, size_label, summary


def row(small: Figure, large: Figure, name: str = "a list") -> Row:
    return Row(name, {1000: small, 100000: large})


def test_a_page_meets_both_targets_with_equal_queries_and_time_within_one_and_a_half():
    page = row(Figure(ms=40, queries=10), Figure(ms=60, queries=10))
    assert page.time_ratio() == 1.5
    assert (page.queries_verdict(), page.time_verdict()) == (MET, MET)


def test_a_page_with_one_more_query_or_slower_than_one_and_a_half_misses():
    page = row(Figure(ms=40, queries=10), Figure(ms=61, queries=11))
    assert (page.queries_verdict(), page.time_verdict()) == (NOT_MET, NOT_MET)


def test_a_job_is_judged_per_item_it_processed():
    # 10 items in 100 ms and 1,000 items in 12 s: 10 ms against 12 ms an item.
    job = row(Figure(ms=100, queries=75, items=10), Figure(ms=12000, queries=7005, items=1000))
    assert round(job.time_ratio(), 2) == 1.2
    # 7.5 queries an item against 7.005: a constant overhead spread thinner is fine.
    assert (job.queries_verdict(), job.time_verdict()) == (MET, MET)


def test_a_job_whose_queries_per_item_grow_misses_its_query_target():
    job = row(Figure(ms=100, queries=50, items=10), Figure(ms=5000, queries=9000, items=1000))
    assert job.queries_verdict() == NOT_MET
    assert job.time_verdict() == MET


def test_one_size_alone_gives_no_verdict():
    alone = Row("a list", {1000: Figure(ms=40, queries=10)})
    assert (alone.time_ratio(), alone.queries_verdict(), alone.time_verdict()) == (None, "", "")
    assert "time" not in render([alone], [1000]).splitlines()[0]


def test_the_table_names_the_sizes_and_the_summary_lists_the_misses():
    rows = [
        row(Figure(ms=40, queries=10), Figure(ms=50, queries=10), "queue"),
        row(Figure(ms=40, queries=10), Figure(ms=400, queries=10), "search"),
    ]
    table = render(rows, [100000, 1000])
    assert table.splitlines()[0] == (
        "| page or job | 1k: ms / queries | 100k: ms / queries | time 100k / 1k "
        "| queries | time (<= 1.5x) |"
    )
    assert "| search | 40.0 / 10 | 400.0 / 10 | 10.00 | MET | NOT MET |" in table
    assert summary(rows) == "1 of 2 rows meet both targets; not met: search"
    assert [size_label(s) for s in (1000, 100000, 2500)] == ["1k", "100k", "2500"]


def test_rounds_keep_each_rows_fastest_figure_and_due_work_seeded_apart_has_its_own_database():
    from bench.scale import database_name, fastest

    slow, quick = Figure(ms=90, queries=10), Figure(ms=60, queries=10)
    assert fastest(None, slow) is slow
    assert fastest(fastest(None, slow), quick) is quick
    assert fastest(quick, slow) is quick
    assert database_name(100000) == "pharmacy_scalebench_100k"
    assert database_name(100000, 1000) == "pharmacy_scalebench_100k_due1k"
    assert database_name(1000, 1000) == "pharmacy_scalebench_1k"
