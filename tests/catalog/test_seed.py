"""The seed monograph becomes structured catalog rows, loaded once and never overwritten."""

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest

from catalog import models
from catalog.models import DosageForm, MonographSection, Package, Route, Severity
from catalog.seed import (
    DATA_DIR,
    load_monograph,
    load_packages,
    parse_formulations,
    parse_guideline,
    parse_interaction,
    parse_monograph,
    read_seed,
)

SEED = (DATA_DIR / "baclofen-monograph.txt").read_text(encoding="utf-8")
SEED_HEADINGS = [
    "General Information of Baclofen",
    "Composition and Active Ingredients",
    "Pharmacological Action",
    "What is baclofen used for?",
    "Buy Baclofen Online",
    "Price and Availability",
    "Ordering and Delivery",
    "Dosage and Administration",
    "Can You Take Baclofen with Alcohol?",
    "Available Forms",
    "Side Effects and Contraindications",
    "Common Baclofen Side Effects",
    "Serious Side Effects",
    "Contraindications",
    "Pregnancy and Breastfeeding",
    "Baclofen Interactions",
    "Special Populations",
]
ALL_MODELS = SimpleNamespace(**vars(models))


def test_every_heading_of_the_seed_becomes_a_section_in_order():
    parsed = read_seed()
    assert [s.heading for s in parsed.sections] == SEED_HEADINGS
    assert parsed.name == "Baclofen"
    assert parsed.manufacturer == "Various"


def test_every_paragraph_of_the_seed_lands_in_some_section():
    parsed = read_seed()
    bodies = "\n".join(s.body for s in parsed.sections)
    paragraphs = [
        line.strip() for line in SEED.splitlines() if len(line.strip()) > 80 and "|" not in line
    ]
    assert paragraphs
    for paragraph in paragraphs:
        assert paragraph in bodies


def test_dosing_table_becomes_four_rows_with_numbers_for_the_checks():
    adults, teens, children, intrathecal = read_seed().guidelines
    assert adults.patient_group == "Adults (oral)"
    assert (adults.min_age_years, adults.max_age_years) == (18, None)
    assert adults.max_daily_mg == Decimal(80)
    assert (adults.initial_dose_mg, adults.initial_doses_per_day) == (Decimal(5), 3)
    assert (adults.titration_step_mg, adults.titration_interval_days) == (Decimal(5), 3)
    assert (adults.max_dose_mg, adults.max_doses_per_day) == (Decimal(20), None)
    assert not any(row.not_established for row in (adults, teens, children, intrathecal))
    assert (teens.min_age_years, teens.max_age_years, teens.max_daily_mg) == (12, 17, Decimal(60))
    assert (children.min_age_years, children.max_age_years) == (0, 11)
    assert (children.min_mg_per_kg_day, children.max_mg_per_kg_day) == (Decimal(1), Decimal(2))
    assert children.max_daily_mg is None
    assert intrathecal.route == Route.INTRATHECAL
    assert intrathecal.initial_dose_mg == Decimal("0.05")


def test_interactions_list_becomes_four_graded_rows_with_medication_classes():
    rows = {row.name: row for row in read_seed().interactions}
    assert list(rows) == [
        "CNS depressants",
        "Antihypertensives",
        "Tricyclic antidepressants",
        "NSAIDs",
    ]
    assert rows["CNS depressants"].classes == [
        "Opioids",
        "Benzodiazepines",
        "Alcohol",
        "Other muscle relaxants",
    ]
    # Graded by the text's own words; ungraded text is moderate, for staff to grade.
    assert rows["CNS depressants"].severity == Severity.MODERATE
    assert rows["Tricyclic antidepressants"].severity == Severity.MODERATE
    assert rows["NSAIDs"].severity == Severity.MONITOR  # "careful monitoring"
    assert "kidneys" in rows["NSAIDs"].effect


@pytest.mark.parametrize(
    ("effect", "severity"),
    [
        ("Contraindicated. Levels rise tenfold.", Severity.CONTRAINDICATED),
        ("These must not be used together.", Severity.CONTRAINDICATED),
        ("Avoid the combination where possible.", Severity.MAJOR),
        ("Monitor blood pressure.", Severity.MONITOR),
        ("Sedation may increase.", Severity.MODERATE),
    ],
)
def test_interaction_severity_comes_from_the_monograph_words(effect, severity):
    assert parse_interaction(f"Some class (a, b): {effect}").severity == severity


def test_the_migration_grades_baclofen_interactions_as_the_pharmacy_did(baclofen):
    grades = dict(baclofen.interactions.values_list("name", "severity"))
    assert grades == {
        "CNS depressants": Severity.MAJOR,
        "Antihypertensives": Severity.MODERATE,
        "Tricyclic antidepressants": Severity.MODERATE,
        "NSAIDs": Severity.MONITOR,
    }
    opioids = models.MedicationClass.objects.get(slug="opioids")
    assert "oxycodone" in opioids.terms()


def test_forms_include_two_tablet_strengths_and_an_intrathecal_form_that_is_never_sold():
    forms = read_seed().formulations
    assert [(f.form, f.strength_label) for f in forms] == [
        (DosageForm.TABLET, "10 mg"),
        (DosageForm.TABLET, "20 mg"),
        (DosageForm.ORAL_SOLUTION, ""),
        (DosageForm.INTRATHECAL, ""),
    ]
    assert [f.sellable for f in forms] == [True, True, True, False]


def test_capsules_load_as_a_form_with_their_strengths():
    forms = parse_formulations("Capsules (2 mg, 4 mg and 6 mg): for patients who prefer them.")
    assert [(f.form, f.strength_mg, f.sellable) for f in forms] == [
        (DosageForm.CAPSULE, Decimal(2), True),
        (DosageForm.CAPSULE, Decimal(4), True),
        (DosageForm.CAPSULE, Decimal(6), True),
    ]


@pytest.mark.parametrize(
    ("item", "mg_per_ml"),
    [
        ("Oral solution (5 mg/5 mL): for children.", Decimal(1)),
        ("Oral liquid, 1 mg per mL: easy to swallow.", Decimal(1)),
        ("Oral solution 25 mg/5 mL: concentrated.", Decimal(5)),
        ("Oral solution: for patients who cannot swallow tablets.", None),
    ],
)
def test_a_liquid_form_carries_its_concentration_when_the_text_gives_it(item, mg_per_ml):
    [form] = parse_formulations(item)
    assert (form.form, form.concentration_mg_per_ml) == (DosageForm.ORAL_SOLUTION, mg_per_ml)


def test_a_form_the_catalog_cannot_hold_is_refused_loudly():
    from catalog.seed import MonographFormatError

    with pytest.raises(MonographFormatError, match="Transdermal patches"):
        parse_formulations("Transdermal patches (5 mg/24 h): applied weekly.")


@pytest.mark.parametrize(
    ("maximum", "per_dose", "doses"),
    [
        ("36 mg/day (no more than three doses in 24 hours)", None, 3),
        ("80 mg/day (20 mg four times daily)", Decimal(20), None),
        ("40 mg/day, at most 2 doses a day", None, 2),
        ("30 mg/day; 10 mg per dose", Decimal(10), None),
    ],
)
def test_dose_limits_are_read_from_the_maximum_column(maximum, per_dose, doses):
    row = parse_guideline(["Adults", "5 mg twice daily", "Slowly", maximum])
    assert (row.max_dose_mg, row.max_doses_per_day) == (per_dose, doses)


@pytest.mark.parametrize(
    ("titration", "step", "interval"),
    [
        ("Increase by 5 mg every 3 days", Decimal(5), 3),
        ("Increase by 2 mg to 4 mg every 1 to 4 days", Decimal(4), 1),
        ("Raise 2.5 mg per dose every 7 days", Decimal("2.5"), 7),
        ("Strict pediatric supervision", None, None),
    ],
)
def test_titration_step_and_interval_are_read_as_the_fastest_the_text_allows(
    titration, step, interval
):
    row = parse_guideline(["Adults", "5 mg twice daily", titration, "60 mg/day"])
    assert (row.titration_step_mg, row.titration_interval_days) == (step, interval)


def test_a_not_established_row_is_flagged():
    row = parse_guideline(["Children (<18 years)", "Not established", "-", "Not established"])
    assert row.not_established
    assert (row.min_age_years, row.max_age_years) == (0, 17)


def test_the_migration_gave_baclofen_its_dose_limits(baclofen):
    adults = baclofen.dosing_guidelines.get(min_age_years=18)
    assert adults.max_dose_mg == Decimal(20)


def test_each_price_table_becomes_packs_of_10_30_and_90_cheaper_per_pill_when_bigger():
    packages = read_seed().packages
    assert [(p.table, p.pill_count, p.price) for p in packages] == [
        (0, 10, Decimal("46.53")),
        (0, 30, Decimal("124.20")),
        (0, 90, Decimal("334.80")),
        (1, 10, Decimal("41.71")),
        (1, 30, Decimal("111.30")),
        (1, 90, Decimal("299.70")),
    ]
    for table in (0, 1):
        per_pill = [p.price / p.pill_count for p in packages if p.table == table]
        assert per_pill == sorted(per_pill, reverse=True)


def test_safety_callouts_are_taken_from_the_monograph_text():
    callouts = {s.heading: s.callout for s in read_seed().sections if s.callout}
    assert "Dosage and Administration" not in callouts  # the stop warning is the drug's
    assert "Alcohol should be avoided" in callouts["Can You Take Baclofen with Alcohol?"]
    assert "consult your doctor" in callouts["General Information of Baclofen"]


def test_the_warning_against_stopping_suddenly_is_read_from_the_monograph():
    assert read_seed().stop_suddenly_warning == (
        "A crucial safety point is that baclofen must never be stopped suddenly. Withdrawal "
        "can lead to hallucinations, seizures, hyperthermia, rebound spasticity, "
        "rhabdomyolysis, and even multi-organ failure."
    )


@pytest.mark.parametrize(
    ("sentence", "found"),
    [
        ("Do not stop taking it suddenly.", True),
        ("It should not be discontinued abruptly after long use.", True),
        ("Never stop the medicine at once.", True),
        ("Don't stop suddenly.", True),
        ("Abrupt changes in therapy can lead to serious complications.", False),
        ("Stop if a rash appears.", False),
    ],
)
def test_stop_suddenly_phrasings(sentence, found):
    text = f"Known as: X\nDosage\nSome words here. {sentence} More words follow."
    assert bool(parse_monograph(text).stop_suddenly_warning) == found


def test_migration_loaded_the_seed_with_prices_assigned_to_10_and_20_mg(baclofen):
    assert baclofen.sections.count() == len(SEED_HEADINGS)
    assert baclofen.dosing_guidelines.count() == 4
    assert baclofen.interactions.count() == 4
    packages = Package.objects.filter(formulation__drug=baclofen).order_by(
        "formulation__position", "pill_count"
    )
    assert [(p.formulation.strength_label, p.pill_count, p.price) for p in packages] == [
        ("10 mg", 10, Decimal("46.53")),
        ("10 mg", 30, Decimal("124.20")),
        ("10 mg", 90, Decimal("334.80")),
        ("20 mg", 10, Decimal("41.71")),
        ("20 mg", 30, Decimal("111.30")),
        ("20 mg", 90, Decimal("299.70")),
    ]
    dosage = baclofen.sections.get(slug="dosage-and-administration")
    assert ("dosing_table", None) in dosage.blocks()


def test_loading_again_changes_nothing_and_keeps_staff_edits(baclofen):
    section = baclofen.sections.get(slug="pharmacological-action")
    section.body = "Edited by staff."
    section.save()
    counts = {m: m.objects.count() for m in (MonographSection, Package, models.Interaction)}

    drug, created = load_monograph(read_seed(), models=ALL_MODELS)

    assert (drug, created) == (baclofen, False)
    assert {m: m.objects.count() for m in counts} == counts
    section.refresh_from_db()
    assert section.body == "Edited by staff."


def test_a_second_drug_loads_from_a_file_of_the_same_shape(db):
    text = re.sub("[Bb]aclofen", "Tizanidine", SEED).replace("$46.53", "$20.00")
    drug, created = load_monograph(parse_monograph(text), models=ALL_MODELS)
    assert created
    assert drug.slug == "tizanidine"
    assert Package.objects.filter(formulation__drug=drug).first().price == Decimal("20.00")


def test_unexpected_preamble_is_refused_rather_than_guessed():
    from catalog.seed import MonographFormatError

    with pytest.raises(MonographFormatError):
        parse_monograph(
            "Known as: X\nThis preamble line is prose, which the format has no place for.\n"
        )


def test_load_monograph_loads_the_test_tizanidine_once_and_leaves_it_alone(db):
    from io import StringIO

    from django.core.management import call_command

    from tests.conftest import TEST_DATA

    path = TEST_DATA / "tizanidine-monograph.txt"
    out = StringIO()
    call_command("load_monograph", path, stdout=out)
    assert "Loaded Tizanidine (/medicines/tizanidine/)" in out.getvalue()
    drug = models.Drug.objects.get(slug="tizanidine")
    drug.conditions.filter(fact="elderly").update(message="Edited by staff.")
    counts = (drug.conditions.count(), drug.renal_thresholds.count(), drug.formulations.count())
    out = StringIO()
    call_command("load_monograph", path, stdout=out)
    assert "Already present, left unchanged" in out.getvalue()
    assert counts == (drug.conditions.count(), drug.renal_thresholds.count(), 5)
    assert drug.conditions.get(fact="elderly").message == "Edited by staff."
    packages = Package.objects.filter(formulation__drug=drug).order_by("formulation__position")
    assert [(p.formulation.strength_label, p.formulation.form) for p in packages] == [
        ("2 mg", DosageForm.TABLET),
        ("4 mg", DosageForm.TABLET),
    ]


def test_a_monograph_with_an_unknown_form_is_refused_by_the_command(db, tmp_path):
    from django.core.management import CommandError, call_command

    text = SEED.replace("- Oral solution:", "- Transdermal patch:")
    path = tmp_path / "patch.txt"
    path.write_text(text.replace("Known as: Baclofen", "Known as: Patchofen"), encoding="utf-8")
    with pytest.raises(CommandError, match="Unknown form"):
        call_command("load_monograph", path)
    assert not models.Drug.objects.filter(name="Patchofen").exists()


def test_new_pack_sizes_reach_a_catalog_loaded_before_them_and_staff_edits_stay(baclofen):
    """What migration 0015 does for a database loaded when the file had 10-pill packs only."""
    Package.objects.filter(formulation__drug=baclofen).exclude(pill_count=10).delete()
    edited = Package.objects.get(
        formulation__drug=baclofen, formulation__strength_label="10 mg", pill_count=10
    )
    edited.price = Decimal("40.00")
    edited.save()

    assert load_packages(baclofen, read_seed(), models=ALL_MODELS) == 4
    assert load_packages(baclofen, read_seed(), models=ALL_MODELS) == 0

    edited.refresh_from_db()
    assert edited.price == Decimal("40.00")
    sizes = Package.objects.filter(formulation__drug=baclofen).values_list(
        "formulation__strength_label", "pill_count"
    )
    assert sorted(sizes) == [(s, n) for s in ("10 mg", "20 mg") for n in (10, 30, 90)]
