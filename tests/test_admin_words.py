"""The admin names its lists in English: "Discrepancies", not Django's "Discrepancys"."""

import re

from django.contrib import admin

# A name Django would pluralise wrongly by adding an "s": a consonant then "y", or a
# sibilant ending. Each needs its own verbose_name_plural.
NEEDS_IES = re.compile(r"[^aeiou]y$")
NEEDS_ES = re.compile(r"(s|x|z|ch|sh)$")
# Already plural in English ("pharmacy details").
PLURAL_ALREADY = {"pharmacy details"}


def test_every_admin_list_has_an_english_plural():
    wrong = []
    for model in admin.site._registry:
        singular = str(model._meta.verbose_name)
        plural = str(model._meta.verbose_name_plural)
        if singular in PLURAL_ALREADY:
            continue
        ies = NEEDS_IES.search(singular) and not plural.endswith("ies")
        es = NEEDS_ES.search(singular) and not plural.endswith("es")
        if ies or es:
            wrong.append(f"{model._meta.label}: {plural}")
    assert not wrong, wrong
