"""Sig expansion for the label and days supply from the sig: pure functions, many cases."""

from decimal import Decimal

import pytest

from orders.sig import days_supply_from_sig, expand_sig


@pytest.mark.parametrize(
    ("sig", "unit", "directions"),
    [
        # the example of the issue, and the common frequencies
        ("1 PO BID", "tablet", "Take 1 tablet by mouth twice daily"),
        ("1 po tid", "tablet", "Take 1 tablet by mouth three times daily"),
        ("2 PO QID", "capsule", "Take 2 capsules by mouth four times daily"),
        ("1 PO QD", "tablet", "Take 1 tablet by mouth once daily"),
        ("1 PO daily", "tablet", "Take 1 tablet by mouth once daily"),
        ("1 PO QHS", "tablet", "Take 1 tablet by mouth at bedtime"),
        ("1 PO HS", "tablet", "Take 1 tablet by mouth at bedtime"),
        ("1 PO QAM", "tablet", "Take 1 tablet by mouth every morning"),
        ("1 PO QPM", "tablet", "Take 1 tablet by mouth every evening"),
        ("1 PO QOD", "tablet", "Take 1 tablet by mouth every other day"),
        ("1 PO Q4H", "tablet", "Take 1 tablet by mouth every 4 hours"),
        ("1 PO Q6H", "tablet", "Take 1 tablet by mouth every 6 hours"),
        ("1 PO Q8H", "tablet", "Take 1 tablet by mouth every 8 hours"),
        ("1 PO Q12H", "tablet", "Take 1 tablet by mouth every 12 hours"),
        ("1 PO q 8 h", "tablet", "Take 1 tablet by mouth every 8 hours"),
        ("1 PO 2x daily", "tablet", "Take 1 tablet by mouth twice daily"),
        # dotted and lower-case abbreviations
        ("1 p.o. b.i.d.", "tablet", "Take 1 tablet by mouth twice daily"),
        ("1 PO q.d.", "tablet", "Take 1 tablet by mouth once daily"),
        # units written out, plural when more than one
        ("2 tabs PO QD", "tablet", "Take 2 tablets by mouth once daily"),
        ("1 cap PO BID", "capsule", "Take 1 capsule by mouth twice daily"),
        ("Take 1 tab PO QHS", "tablet", "Take 1 tablet by mouth at bedtime"),
        ("5 mL PO BID", "mL", "Take 5 mL by mouth twice daily"),
        ("5 PO BID", "mL", "Take 5 mL by mouth twice daily"),
        ("1/2 PO QD", "tablet", "Take 1/2 tablet by mouth once daily"),
        ("1.5 PO BID", "tablet", "Take 1.5 tablets by mouth twice daily"),
        ("1-2 PO Q4-6H PRN pain", "tablet", (
            "Take 1 to 2 tablets by mouth every 4 to 6 hours as needed for pain"
        )),
        # routes and the verb each implies
        ("1 SL PRN angina", "tablet", "Place 1 tablet under the tongue as needed for angina"),
        ("Apply thin layer TOP BID", "g", "Apply thin layer topically twice daily"),
        ("1 g TOP BID", "g", "Apply 1 g topically twice daily"),
        ("2 puffs INH Q4H PRN", "each", "Inhale 2 puffs every 4 hours as needed"),
        ("2 INH BID", "each", "Inhale 2 puffs twice daily"),
        ("10 units SC QHS", "each", "Inject 10 units under the skin at bedtime"),
        ("10 units SQ QAM", "each", "Inject 10 units under the skin every morning"),
        ("1 mL IM once", "mL", "Inject 1 mL into the muscle once"),
        ("1 gtt OU BID", "mL", "Instill 1 drop OU twice daily"),
        # meals, as directed, durations, punctuation
        ("1 PO TID AC", "tablet", "Take 1 tablet by mouth three times daily before meals"),
        ("1 PO BID PC", "tablet", "Take 1 tablet by mouth twice daily after meals"),
        ("UD", "tablet", "Take as directed"),
        ("1 PO BID x7d", "tablet", "Take 1 tablet by mouth twice daily for 7 days"),
        ("1 PO TID x 10 days", "capsule", "Take 1 capsule by mouth three times daily for 10 days"),
        ("1 PO BID, with food", "tablet", "Take 1 tablet by mouth twice daily, with food"),
        ("500 mg PO TID", "capsule", "Take 500 mg by mouth three times daily"),
        # unknown tokens are kept as written, never guessed
        ("1 PO xyz BID", "tablet", "Take 1 tablet by mouth xyz twice daily"),
        ("1 PO OD", "tablet", "Take 1 tablet by mouth OD"),
        ("1 SL Q5MIN PRN", "tablet", "Place 1 tablet under the tongue Q5MIN as needed"),
        ("2 puffs INH Q4H PRN SOB", "each", "Inhale 2 puffs every 4 hours as needed for SOB"),
        ("Take 2nd dose PO", "tablet", "Take 2nd dose by mouth"),
        # plain English stays as written
        ("Take 1 tablet by mouth twice daily", "tablet", "Take 1 tablet by mouth twice daily"),
        ("Take one tablet daily with water.", "tablet", "Take one tablet daily with water."),
        ("1 tablet daily", "tablet", "1 tablet daily"),
        ("Use as directed", "each", "Use as directed"),
        ("  Take 1 tablet   at bedtime ", "tablet", "Take 1 tablet at bedtime"),
        ("", "tablet", ""),
    ],
)  # fmt: skip
def test_expand_sig(sig, unit, directions):
    assert expand_sig(sig, unit=unit) == directions


@pytest.mark.parametrize(
    ("sig", "quantity", "unit", "days"),
    [
        ("1 PO BID", 60, "tablet", 30),
        ("1 PO TID", 30, "capsule", 10),
        ("2 PO QD", 60, "tablet", 30),
        ("1 PO QID", 120, "tablet", 30),
        ("1 PO QHS", 90, "tablet", 90),
        ("1 PO Q8H", 21, "tablet", 7),
        ("1 PO Q12H", 14, "tablet", 7),
        ("1/2 PO QD", 15, "tablet", 30),
        ("1 PO QOD", 15, "tablet", 30),
        ("1 patch TOP QW", 4, "each", 28),
        ("5 mL PO BID", 150, "mL", 15),
        ("1 PO TID x 10 days", 30, "capsule", 10),
        ("Take 1 tablet by mouth twice daily", 60, "tablet", 30),
        ("Take 1 tablet by mouth every 6 hours", 28, "tablet", 7),
        ("1 PO BID", Decimal("45.000"), "tablet", 22),  # rounded down
        ("1 PO BID", 1, "tablet", 1),  # never below one day
        ("1 PO BID", 60, None, 30),
        # the sig does not allow it
        ("1 PO Q6H PRN", 30, "tablet", None),
        ("1 PO BID PRN pain", 30, "tablet", None),
        ("UD", 30, "tablet", None),
        ("Use as directed", 1, "each", None),
        ("1-2 PO Q6H", 60, "tablet", None),
        ("1 PO Q4-6H", 60, "tablet", None),
        ("Apply TOP BID", 30, "g", None),
        ("1 PO", 30, "tablet", None),
        ("1 PO BID and QHS", 90, "tablet", None),
        ("500 mg PO TID", 30, "capsule", None),
        ("1 cap PO BID", 60, "tablet", None),
        ("2 puffs INH BID", 1, "each", None),
        ("1 PO BID", 0, "tablet", None),
        ("1 PO BID", "not a number", "tablet", None),
    ],
)
def test_days_supply_from_sig(sig, quantity, unit, days):
    assert days_supply_from_sig(sig, quantity, unit=unit) == days
