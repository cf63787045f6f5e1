"""First expiry, first out, over plain values."""

from datetime import date

from dispensing.fefo import Candidate, allocate, days_of_supply, use_until

TODAY = date(2027, 1, 10)


def lot(pk, expiry, on_hand=5):
    return Candidate(pk, f"L{pk}", expiry, on_hand)


def test_days_of_supply_from_the_directions():
    assert days_of_supply(units=90, daily_units=3) == 30
    assert days_of_supply(units=10, daily_units=3) == 4  # the last day is started
    assert days_of_supply(units=10, daily_units=None) is None


def test_the_earliest_expiry_goes_first_whatever_the_order_received():
    lots = [lot(1, date(2027, 9, 1)), lot(2, date(2027, 5, 1)), lot(3, date(2027, 7, 1))]
    taken = allocate(lots, packages=2, last_day=use_until(today=TODAY, days=30))
    assert [(a.lot_id, a.quantity) for a in taken] == [(2, 2)]


def test_a_line_is_split_across_lots_when_the_first_runs_out():
    lots = [lot(1, date(2027, 5, 1), on_hand=1), lot(2, date(2027, 6, 1), on_hand=5)]
    taken = allocate(lots, packages=3, last_day=TODAY)
    assert [(a.lot_id, a.quantity) for a in taken] == [(1, 1), (2, 2)]


def test_a_lot_that_expires_before_the_supply_is_used_up_is_skipped():
    # 30 days from 10 January: the supply lasts until 8 February.
    last_day = use_until(today=TODAY, days=30)
    assert last_day == date(2027, 2, 8)
    lots = [lot(1, date(2027, 2, 7)), lot(2, date(2027, 2, 8))]
    assert [a.lot_id for a in allocate(lots, packages=1, last_day=last_day)] == [2]


def test_no_allocation_when_the_usable_lots_do_not_add_up():
    lots = [lot(1, date(2027, 2, 1), on_hand=9), lot(2, date(2028, 1, 1), on_hand=1)]
    assert allocate(lots, packages=2, last_day=date(2027, 3, 1)) is None
