#!/usr/bin/env python3
"""Generate the QuantLib golden files that Almanac's Rust tests compare against.

Run from the repository root:

    python3 -m venv .venv && .venv/bin/pip install -r tests/golden/requirements.txt
    .venv/bin/python tests/golden/make_golden.py

The script is deterministic (fixed seed, no wall-clock input) and rewrites
every output file byte-for-byte identically on each run.

Division of labour (see README.md):
  * QuantLib computes every year fraction, every accrual schedule, every
    business-day adjustment of payment dates and the coupon objects;
  * the spec's own rules decide which periods are emitted (as_of filter)
    and how principal amortises; where QuantLib has an equivalent
    (ql.sinkingNotionals for annuities, ql.Schedule for date rolling) the
    script asserts that both agree.
Independent pure-Python implementations of the spec rules are also run and
asserted against QuantLib so that any divergence between QuantLib and the
spec fails loudly here instead of silently ending up in a golden file.
"""

import datetime as dt
import os
import random
import sys

import QuantLib as ql

SEED = 20261125
HERE = os.path.dirname(os.path.abspath(__file__))

DAY_COUNTS = ["ACT/360", "ACT/365F", "30/360", "30E/360", "ACT/ACT"]
AMORTIZATIONS = ["bullet", "annuity", "linear"]
BUSINESS_DAYS = ["unadjusted", "following", "modified_following"]
PAYMENT_MONTHS = [0, 1, 3, 6, 12]

QL_DAY_COUNTERS = {
    "ACT/360": ql.Actual360(),
    "ACT/365F": ql.Actual365Fixed(),
    "30/360": ql.Thirty360(ql.Thirty360.BondBasis),
    "30E/360": ql.Thirty360(ql.Thirty360.European),
    "ACT/ACT": ql.ActualActual(ql.ActualActual.ISDA),
}
QL_CONVENTIONS = {
    "unadjusted": ql.Unadjusted,
    "following": ql.Following,
    "modified_following": ql.ModifiedFollowing,
}
QL_FREQUENCY = {1: ql.Monthly, 3: ql.Quarterly, 6: ql.Semiannual, 12: ql.Annual}
PAY_CALENDAR = ql.WeekendsOnly()

# Statistics reported at the end of the run (differences between QuantLib
# and the spec formulas, all within tolerance, or the script would abort).
STATS = {
    "max_rel_diff_coupon_amount_vs_b_r_yf": 0.0,
    "coupon_amount_not_bitwise_equal": 0,
    "coupons_checked": 0,
    "max_abs_diff_sinking_notionals": 0.0,
    "max_rel_diff_sinking_notionals": 0.0,
    "sinking_checks": 0,
    "max_abs_diff_yearfrac_python_vs_ql": {k: 0.0 for k in DAY_COUNTS},
    "yearfrac_not_bitwise_equal": {k: 0 for k in DAY_COUNTS},
}


# ---------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------

def fmt_float(x):
    """Shortest round-trip repr (what repr() prints); never '-0.0'."""
    x = float(x) + 0.0  # -0.0 + 0.0 == +0.0
    return repr(x)


def fmt_date(d):
    return d.isoformat()


def write_csv(name, header, rows):
    path = os.path.join(HERE, name)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(row) + "\n")
    return len(rows)


# ---------------------------------------------------------------------------
# Date conversion and independent (pure Python) spec rules
# ---------------------------------------------------------------------------

def to_ql(d):
    return ql.Date(d.day, d.month, d.year)


def from_ql(d):
    return dt.date(d.year(), d.month(), d.dayOfMonth())


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(y, m):
    if m == 2:
        return 29 if is_leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def add_months(d, n):
    """Spec: calendar months, day clamped to the month's last day, no EOM roll."""
    idx = d.year * 12 + (d.month - 1) + n
    y, m = divmod(idx, 12)
    m += 1
    return dt.date(y, m, min(d.day, days_in_month(y, m)))


def spec_schedule(start, maturity, pm):
    """Spec backward roll; returns the accrual dates (start, ..., maturity)."""
    if pm == 0:
        return [start, maturity]
    dates = [maturity]
    k = 1
    while True:
        t = add_months(maturity, -k * pm)
        if t <= start:
            break
        dates.append(t)
        k += 1
    dates.append(start)
    dates.reverse()
    return dates


def spec_adjust(d, rule):
    if rule == "unadjusted":
        return d
    f = d
    while f.weekday() >= 5:
        f += dt.timedelta(days=1)
    if rule == "following" or f.month == d.month:
        return f
    p = d
    while p.weekday() >= 5:
        p -= dt.timedelta(days=1)
    return p


def spec_yearfrac(dc, d1, d2):
    if dc == "ACT/360":
        return (d2 - d1).days / 360.0
    if dc == "ACT/365F":
        return (d2 - d1).days / 365.0
    if dc in ("30/360", "30E/360"):
        y1, m1, a = d1.year, d1.month, d1.day
        y2, m2, b = d2.year, d2.month, d2.day
        if dc == "30/360":
            a = min(a, 30)
            if a == 30:
                b = min(b, 30)
        else:
            a = min(a, 30)
            b = min(b, 30)
        return (360 * (y2 - y1) + 30 * (m2 - m1) + (b - a)) / 360.0
    if dc == "ACT/ACT":
        if d1 == d2:
            return 0.0
        if d1.year == d2.year:
            return (d2 - d1).days / (366.0 if is_leap(d1.year) else 365.0)
        s = (dt.date(d1.year + 1, 1, 1) - d1).days / (366.0 if is_leap(d1.year) else 365.0)
        s += float(d2.year - d1.year - 1)
        s += (d2 - dt.date(d2.year, 1, 1)).days / (366.0 if is_leap(d2.year) else 365.0)
        return s
    raise ValueError(dc)


# ---------------------------------------------------------------------------
# QuantLib wrappers
# ---------------------------------------------------------------------------

def ql_schedule(start, maturity, pm):
    return ql.Schedule(to_ql(start), to_ql(maturity), ql.Period(pm, ql.Months),
                       ql.NullCalendar(), ql.Unadjusted, ql.Unadjusted,
                       ql.DateGeneration.Backward, False)


def ql_yearfrac(dc, d1, d2):
    return QL_DAY_COUNTERS[dc].yearFraction(to_ql(d1), to_ql(d2))


def periods_for(start, maturity, pm, rule):
    """[(accrual_start, accrual_end, pay_date)] via QuantLib, checked vs spec."""
    sched = ql_schedule(start, maturity, pm)
    acc = [from_ql(d) for d in sched]
    expected = spec_schedule(start, maturity, pm)
    assert acc == expected, ("schedule mismatch", start, maturity, pm, acc, expected)
    out = []
    for a, b in zip(acc[:-1], acc[1:]):
        pay = from_ql(PAY_CALENDAR.adjust(to_ql(b), QL_CONVENTIONS[rule]))
        assert pay == spec_adjust(b, rule), ("adjust mismatch", b, rule, pay)
        out.append((a, b, pay))
    pays = [p[2] for p in out]
    assert all(x < y for x, y in zip(pays, pays[1:])), ("pay dates not increasing", pays)
    return sched, out


# ---------------------------------------------------------------------------
# Cash-flow generation for one instrument
# ---------------------------------------------------------------------------

def principal_plan(amortization, B, rate, pm, n):
    """Spec principal rules on the unsigned balance B; returns [(balance, principal)]."""
    plan = []
    b = B
    if amortization == "bullet":
        for j in range(n):
            pr = b if j == n - 1 else 0.0
            plan.append((b, pr))
            b -= pr
    elif amortization == "linear":
        step = B / n
        for j in range(n):
            pr = b if j == n - 1 else step
            plan.append((b, pr))
            b -= pr
    elif amortization == "annuity":
        p = rate * pm / 12.0
        for j in range(n):
            k = n - j
            if k == 1:
                pr = b
            else:
                if p == 0.0:
                    P = b / k
                else:
                    P = b * p / (1.0 - (1.0 + p) ** -k)
                pr = P - b * p
            plan.append((b, pr))
            b -= pr
    else:
        raise ValueError(amortization)
    assert b == 0.0 or abs(b) < 1e-9 * max(1.0, B), (amortization, B, b)
    return plan


def instrument_cashflows(inst):
    start, maturity, as_of = inst["start_date"], inst["maturity_date"], inst["as_of"]
    pm, rule, dcname = inst["payment_months"], inst["business_day"], inst["day_count"]
    rate, B = inst["rate"], inst["balance"]
    sign = 1.0 if inst["side"] == "asset" else -1.0

    sched, periods = periods_for(start, maturity, pm, rule)
    N = len(periods)
    first_emitted = next(i for i, p in enumerate(periods) if p[2] > as_of)
    assert all(p[2] > as_of for p in periods[first_emitted:])
    n = N - first_emitted
    plan = principal_plan(inst["amortization"], B, rate, pm, n)

    # QuantLib coupon objects: the full schedule, with the per-period notionals
    # (periods already paid before as_of carry B; they are not emitted).
    nominals = [B] * first_emitted + [b for b, _ in plan]
    leg = ql.FixedRateLeg(sched, QL_DAY_COUNTERS[dcname], nominals, [rate],
                          QL_CONVENTIONS[rule], paymentCalendar=PAY_CALENDAR)
    coupons = [ql.as_fixed_rate_coupon(c) for c in leg]
    assert len(coupons) == N

    # Cross-check annuity notionals against QuantLib's closed form.
    regular = pm > 0 and add_months(maturity, -N * pm) == start
    if inst["amortization"] == "annuity" and first_emitted == 0 and regular:
        ql_notionals = list(ql.sinkingNotionals(ql.Period(N * pm, ql.Months),
                                                QL_FREQUENCY[pm], rate, B))
        mine = [b for b, _ in plan] + [0.0]
        assert len(ql_notionals) == len(mine)
        for x, y in zip(ql_notionals, mine):
            d = abs(x - y)
            STATS["max_abs_diff_sinking_notionals"] = max(STATS["max_abs_diff_sinking_notionals"], d)
            STATS["max_rel_diff_sinking_notionals"] = max(STATS["max_rel_diff_sinking_notionals"], d / B)
            assert d <= 1e-9 * B, ("sinkingNotionals mismatch", inst["instrument_id"], x, y)
        STATS["sinking_checks"] += 1

    rows = []
    for j, (c, (a, e, pay), (b, pr)) in enumerate(zip(coupons[first_emitted:], periods[first_emitted:], plan)):
        assert from_ql(c.accrualStartDate()) == a and from_ql(c.accrualEndDate()) == e
        assert from_ql(c.date()) == pay, ("leg payment date", c.date(), pay)
        assert c.nominal() == b
        yf = c.accrualPeriod()
        assert yf == QL_DAY_COUNTERS[dcname].yearFraction(to_ql(a), to_ql(e))
        interest = b * rate * yf
        # QuantLib's coupon amount is nominal * ((1 + r*t) - 1): same value up
        # to rounding of the compound factor.
        amt = c.amount()
        STATS["coupons_checked"] += 1
        if amt != interest:
            STATS["coupon_amount_not_bitwise_equal"] += 1
            rel = abs(amt - interest) / max(abs(interest), 1e-300)
            STATS["max_rel_diff_coupon_amount_vs_b_r_yf"] = max(STATS["max_rel_diff_coupon_amount_vs_b_r_yf"], rel)
            assert abs(amt - interest) <= 1e-9 * max(1.0, abs(interest)), (amt, interest)
        s_bal, s_int, s_pr = sign * b, sign * interest, sign * pr
        rows.append([inst["instrument_id"], fmt_date(pay), fmt_date(a), fmt_date(e),
                     fmt_float(s_bal), fmt_float(rate), fmt_float(s_int), fmt_float(s_pr),
                     fmt_float(s_int + s_pr)])
    return rows, first_emitted, N


# ---------------------------------------------------------------------------
# Random generation
# ---------------------------------------------------------------------------

SPECIAL_MONTH_DAYS = [(1, 31), (1, 30), (2, 28), (2, 29), (3, 31), (3, 30), (4, 30),
                      (5, 31), (6, 30), (7, 31), (8, 30), (8, 31), (9, 30), (10, 31),
                      (11, 30), (12, 31), (12, 30), (1, 1), (3, 1), (2, 27)]


def random_date(rng, y0, y1):
    a = dt.date(y0, 1, 1).toordinal()
    b = dt.date(y1, 12, 31).toordinal()
    return dt.date.fromordinal(rng.randint(a, b))


def special_date(rng, y0, y1):
    m, d = rng.choice(SPECIAL_MONTH_DAYS)
    if (m, d) == (2, 29):
        y = rng.choice([y for y in range(y0, y1 + 1) if is_leap(y)])
    else:
        y = rng.randint(y0, y1)
    return dt.date(y, m, d)


def random_start(rng):
    return special_date(rng, 2000, 2025) if rng.random() < 0.4 else random_date(rng, 2000, 2025)


def random_maturity(rng, start, min_years=1, max_years=30):
    years = rng.randint(min_years, max_years)
    aligned = add_months(start, 12 * years)
    kind = rng.random()
    if kind < 0.45:
        return aligned, "aligned"
    if kind < 0.7:
        off = rng.choice([x for x in range(-20, 21) if x != 0])
        return aligned + dt.timedelta(days=off), "day_stub"
    if kind < 0.85:
        return add_months(start, 12 * years + rng.randint(1, 11)), "month_offset"
    # maturity at a month end (e.g. start Jan 15 -> maturity Feb 28/29)
    m = add_months(start, 12 * years + rng.randint(0, 11))
    return dt.date(m.year, m.month, days_in_month(m.year, m.month)), "month_end"


def random_rate(rng, force_zero=False):
    u = rng.random()
    if force_zero or u < 0.1:
        return 0.0
    if u < 0.3:
        return rng.choice([0.01, 0.025, 0.03, 0.045, 0.05, 0.0675, 0.09])
    return round(rng.uniform(0.0, 0.09), 6)


def choose_as_of(rng, start, periods, kind):
    pays = [p[2] for p in periods]
    first_pay, last_pay = pays[0], pays[-1]
    if kind == "fresh" or len(periods) == 1:
        if rng.random() < 0.3:
            return start, "fresh"
        return dt.date.fromordinal(rng.randint(start.toordinal(), first_pay.toordinal() - 1)), "fresh"
    if kind == "edge":
        i = rng.randrange(len(periods) - 1)
        weekend_ends = [k for k, p in enumerate(periods[:-1]) if p[1] != p[2]]
        if weekend_ends and rng.random() < 0.7:
            i = rng.choice(weekend_ends)
            return periods[i][1], "edge_accrual_end_before_adjusted_pay"
        return rng.choice([(periods[i][2], "edge_on_pay_date"),
                           (periods[i][2] - dt.timedelta(days=1), "edge_day_before_pay")])
    return dt.date.fromordinal(rng.randint(first_pay.toordinal(), last_pay.toordinal() - 1)), "mid"


def make_instrument(rng, idx, dc, am, bd, pm, side, force_zero=False, start=None):
    if start is None:
        start = random_start(rng)
    maturity, mat_kind = random_maturity(rng, start)
    _, periods = periods_for(start, maturity, pm, bd)
    u = rng.random()
    kind = "fresh" if u < 0.4 else ("edge" if u < 0.55 else "mid")
    as_of, as_of_kind = choose_as_of(rng, start, periods, kind)
    return {
        "instrument_id": "FX%04d" % idx,
        "side": side,
        "currency": "USD",
        "balance": round(rng.uniform(1000.0, 5_000_000.0), 2),
        "start_date": start,
        "maturity_date": maturity,
        "rate": random_rate(rng, force_zero),
        "payment_months": pm,
        "amortization": am,
        "day_count": dc,
        "business_day": bd,
        "as_of": as_of,
        "_maturity_kind": mat_kind,
        "_as_of_kind": as_of_kind,
    }


def make_book(rng):
    book = []
    idx = 1
    combos = [(dc, am, bd, pm) for dc in DAY_COUNTS for am in AMORTIZATIONS
              for bd in BUSINESS_DAYS for pm in PAYMENT_MONTHS]
    for c, (dc, am, bd, pm) in enumerate(combos):
        side = "asset" if c % 2 == 0 else "liability"
        book.append(make_instrument(rng, idx, dc, am, bd, pm, side, force_zero=(c % 11 == 0)))
        idx += 1
    # 75 extra random instruments on top of the 225 full-factorial ones; the
    # first ones start on deliberate month-end / leap-year dates.
    forced_starts = [dt.date(y, 2, 29) for y in (2000, 2004, 2008, 2012, 2016, 2020, 2024)]
    forced_starts += [dt.date(2012, 2, 28), dt.date(2020, 2, 28), dt.date(2019, 1, 31),
                      dt.date(2015, 8, 31), dt.date(2018, 10, 31), dt.date(2021, 12, 31),
                      dt.date(2016, 1, 30), dt.date(2023, 5, 31)]
    for e in range(75):
        start = forced_starts[e] if e < len(forced_starts) else None
        book.append(make_instrument(rng, idx, rng.choice(DAY_COUNTS), rng.choice(AMORTIZATIONS),
                                    rng.choice(BUSINESS_DAYS), rng.choice([1, 3, 6, 12] if start else PAYMENT_MONTHS),
                                    rng.choice(["asset", "liability"]), start=start))
        idx += 1
    return book


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------

def build_book_and_cashflows(rng):
    book = make_book(rng)
    book_rows, cf_rows = [], []
    kinds = {}
    for inst in book:
        book_rows.append([inst["instrument_id"], inst["side"], inst["currency"],
                          fmt_float(inst["balance"]), fmt_date(inst["start_date"]),
                          fmt_date(inst["maturity_date"]), fmt_float(inst["rate"]),
                          str(inst["payment_months"]), inst["amortization"], inst["day_count"],
                          inst["business_day"], fmt_date(inst["as_of"])])
        rows, first_emitted, N = instrument_cashflows(inst)
        assert rows
        cf_rows.extend(rows)
        for key in ("_maturity_kind", "_as_of_kind"):
            kinds[(key, inst[key])] = kinds.get((key, inst[key]), 0) + 1

    # Coverage assertions.
    combos = {(i["day_count"], i["amortization"], i["business_day"], i["payment_months"]) for i in book}
    assert len(combos) == 5 * 3 * 3 * 5
    for am in AMORTIZATIONS:
        assert any(i["rate"] == 0.0 and i["amortization"] == am for i in book), am
        for side in ("asset", "liability"):
            assert any(i["amortization"] == am and i["side"] == side for i in book)
    for dc in DAY_COUNTS:
        assert any(i["rate"] == 0.0 and i["day_count"] == dc for i in book), dc
    assert sum(i["start_date"].month == 2 and i["start_date"].day == 29 for i in book) >= 7
    header_book = ["instrument_id", "side", "currency", "balance", "start_date", "maturity_date",
                   "rate", "payment_months", "amortization", "day_count", "business_day", "as_of"]
    header_cf = ["instrument_id", "pay_date", "accrual_start", "accrual_end", "balance", "rate",
                 "interest", "principal", "total"]
    nb = write_csv("book.csv", header_book, book_rows)
    nc = write_csv("cashflows.csv", header_cf, cf_rows)
    return nb, nc, kinds, book


def build_daycounts(rng):
    pairs = []
    # start == end
    for _ in range(60):
        d = special_date(rng, 1995, 2035) if rng.random() < 0.5 else random_date(rng, 1995, 2035)
        pairs.append((d, d))
    # both dates special (month ends, Feb 28/29, 30th, 31st, Jan 1)
    for _ in range(500):
        a, b = special_date(rng, 1995, 2035), special_date(rng, 1995, 2035)
        pairs.append((min(a, b), max(a, b)))
    # special start, random end within 0..15 years
    for _ in range(400):
        a = special_date(rng, 1995, 2035)
        b = a + dt.timedelta(days=rng.randint(0, 15 * 366))
        if rng.random() < 0.3:
            b = dt.date(b.year, b.month, days_in_month(b.year, b.month))
        pairs.append((a, b))
    # short spans
    for _ in range(300):
        a = random_date(rng, 1995, 2035)
        pairs.append((a, a + dt.timedelta(days=rng.randint(1, 45))))
    # across year ends (start in Nov/Dec, end Jan..Mar of a later year)
    for _ in range(300):
        y = rng.randint(1995, 2035)
        a = dt.date(y, rng.choice([11, 12]), rng.randint(1, 30 if rng.random() < 0.5 else 28))
        if rng.random() < 0.3:
            a = dt.date(y, 12, 31)
        y2 = y + rng.choice([1, 1, 1, 2, 5])
        m2 = rng.randint(1, 3)
        b = dt.date(y2, m2, rng.randint(1, days_in_month(y2, m2)))
        pairs.append((a, b))
    # multi-year spans up to 40 years
    for _ in range(500):
        a = random_date(rng, 1990, 2040)
        b = a + dt.timedelta(days=rng.randint(366, 40 * 366))
        pairs.append((a, b))
    assert len(pairs) >= 2000
    rows = []
    for dc in DAY_COUNTS:
        for a, b in pairs:
            yf = ql_yearfrac(dc, a, b)
            mine = spec_yearfrac(dc, a, b)
            d = abs(yf - mine)
            if yf != mine:
                STATS["yearfrac_not_bitwise_equal"][dc] += 1
            STATS["max_abs_diff_yearfrac_python_vs_ql"][dc] = max(
                STATS["max_abs_diff_yearfrac_python_vs_ql"][dc], d)
            assert d <= 1e-12, (dc, a, b, yf, mine)
            rows.append([dc, fmt_date(a), fmt_date(b), fmt_float(yf)])
    return write_csv("daycounts.csv", ["day_count", "start", "end", "year_frac"], rows), len(pairs)


def build_schedules(rng):
    combos = [(pm, bd) for pm in PAYMENT_MONTHS for bd in BUSINESS_DAYS]
    specs = []
    for i in range(200):
        pm, bd = combos[i % len(combos)] if i < 195 else (rng.choice(PAYMENT_MONTHS), rng.choice(BUSINESS_DAYS))
        start = random_start(rng)
        u = rng.random()
        if u < 0.1:
            # shorter than one period: a single stub period
            maturity = start + dt.timedelta(days=rng.randint(1, 27))
        elif u < 0.6:
            maturity, _ = random_maturity(rng, start, 1, 10)
        else:
            maturity, _ = random_maturity(rng, start, 1, 30 if pm >= 3 else 8)
        specs.append((start, maturity, pm, bd))
    rows = []
    for start, maturity, pm, bd in specs:
        _, periods = periods_for(start, maturity, pm, bd)
        for a, e, pay in periods:
            rows.append([fmt_date(start), fmt_date(maturity), str(pm), bd,
                         fmt_date(a), fmt_date(e), fmt_date(pay)])
    header = ["start", "maturity", "payment_months", "business_day",
              "accrual_start", "accrual_end", "pay_date"]
    return write_csv("schedules.csv", header, rows), len(specs)


def build_ql_amortizing_bond():
    """QuantLib test-suite case (amortizingbonds.cpp, testAmortizingFixedRateBond):
    30-year monthly amortizing bond, notional 100, ActualActual(ISMA); every
    payment (coupon + amortization) equals the published level payment."""
    ref = ql.Date(25, ql.November, 2026)
    ql.Settings.instance().evaluationDate = ref
    published = {0.03: 0.421604034, 0.05: 0.536821623}
    rows = []
    for rate in (0.03, 0.05):
        tenor = ql.Period(30, ql.Years)
        notionals = ql.sinkingNotionals(tenor, ql.Monthly, rate, 100.0)
        schedule = ql.sinkingSchedule(ref, tenor, ql.Monthly, ql.NullCalendar())
        bond = ql.AmortizingFixedRateBond(0, notionals, schedule, [rate],
                                          ql.ActualActual(ql.ActualActual.ISMA))
        cfs = list(bond.cashflows())
        totals = {}
        for cf in cfs:
            totals[cf.date()] = totals.get(cf.date(), 0.0) + cf.amount()
        payments = [totals[d] for d in sorted(totals)]
        assert len(payments) == 360, len(payments)
        level = payments[0]
        for p in payments:
            assert abs(p - level) < 1e-9, (rate, p, level)
        assert abs(level - published[rate]) < 5e-10, (rate, level, published[rate])
        # Spec annuity formula with p = r/12, k = 360 gives the same level payment.
        p = rate / 12.0
        assert abs(100.0 * p / (1.0 - (1.0 + p) ** -360) - level) < 1e-12
        rows.append([fmt_float(rate), fmt_float(level)])
    return write_csv("ql_amortizing_bond.csv", ["rate", "payment"], rows)


def main():
    rng = random.Random(SEED)
    nb, nc, kinds, book = build_book_and_cashflows(rng)
    nd, npairs = build_daycounts(rng)
    ns, nspecs = build_schedules(rng)
    na = build_ql_amortizing_bond()
    out = sys.stderr
    print("QuantLib %s" % ql.__version__, file=out)
    print("book.csv: %d instruments; cashflows.csv: %d rows" % (nb, nc), file=out)
    print("daycounts.csv: %d rows (%d pairs x 5)" % (nd, npairs), file=out)
    print("schedules.csv: %d rows (%d schedules)" % (ns, nspecs), file=out)
    print("ql_amortizing_bond.csv: %d rows" % na, file=out)
    for k in sorted(kinds):
        print("  %s=%s: %d" % (k[0], k[1], kinds[k]), file=out)
    for k, v in STATS.items():
        print("  %s: %s" % (k, v), file=out)


if __name__ == "__main__":
    main()
