"""Per-dose and doses-per-day limits, "not established" bands, liquid concentrations.

Baclofen's rows get what its monograph text says (20 mg per dose for adults, from
"80 mg/day (20 mg four times daily)"); its oral solution's concentration, which the
text does not give, is the 5 mg/5 mL of the US product.
"""

import django.core.validators
from decimal import Decimal
from django.db import migrations, models


FIELDS = ("max_dose_mg", "max_doses_per_day", "not_established", "source")
BACLOFEN_SOLUTION_MG_PER_ML = "1"  # 5 mg/5 mL


def forwards(apps, schema_editor):
    from catalog.seed import read_seed

    DosingGuideline = apps.get_model("catalog", "DosingGuideline")
    Formulation = apps.get_model("catalog", "Formulation")
    parsed = read_seed("baclofen-monograph.txt")
    for row in parsed.guidelines:
        DosingGuideline.objects.filter(
            drug__slug="baclofen", patient_group=row.patient_group, max_dose_mg__isnull=True
        ).update(**{name: getattr(row, name) for name in FIELDS})
    Formulation.objects.filter(
        drug__slug="baclofen", form="oral_solution", concentration_mg_per_ml__isnull=True
    ).update(concentration_mg_per_ml=Decimal(BACLOFEN_SOLUTION_MG_PER_ML))


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0008_drug_conditions_and_renal_thresholds'),
    ]

    operations = [
        migrations.AddField(
            model_name='dosingguideline',
            name='max_dose_mg',
            field=models.DecimalField(blank=True, decimal_places=3, help_text='mg in one administration, whatever the form (tablets or mL).', max_digits=8, null=True, verbose_name='maximum per dose (mg)'),
        ),
        migrations.AddField(
            model_name='dosingguideline',
            name='max_doses_per_day',
            field=models.PositiveSmallIntegerField(blank=True, help_text='E.g. 3 for “no more than three doses in 24 hours”.', null=True),
        ),
        migrations.AddField(
            model_name='dosingguideline',
            name='not_established',
            field=models.BooleanField(default=False, help_text='Safety and effectiveness are not established in this age band: a prescription for a patient in it is a blocking finding.', verbose_name='safety not established'),
        ),
        migrations.AddField(
            model_name='dosingguideline',
            name='source',
            field=models.TextField(blank=True, help_text='A monograph sentence quoted by findings on this row beyond its own text, e.g. “not established under 18”.'),
        ),
        migrations.AddField(
            model_name='formulation',
            name='concentration_mg_per_ml',
            field=models.DecimalField(blank=True, decimal_places=3, help_text='Liquid forms: mg in one mL (5 mg/5 mL is 1), so a dose in mL becomes mg.', max_digits=8, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0.001'))], verbose_name='concentration (mg per mL)'),
        ),
        migrations.AddField(
            model_name='historicaldosingguideline',
            name='max_dose_mg',
            field=models.DecimalField(blank=True, decimal_places=3, help_text='mg in one administration, whatever the form (tablets or mL).', max_digits=8, null=True, verbose_name='maximum per dose (mg)'),
        ),
        migrations.AddField(
            model_name='historicaldosingguideline',
            name='max_doses_per_day',
            field=models.PositiveSmallIntegerField(blank=True, help_text='E.g. 3 for “no more than three doses in 24 hours”.', null=True),
        ),
        migrations.AddField(
            model_name='historicaldosingguideline',
            name='not_established',
            field=models.BooleanField(default=False, help_text='Safety and effectiveness are not established in this age band: a prescription for a patient in it is a blocking finding.', verbose_name='safety not established'),
        ),
        migrations.AddField(
            model_name='historicaldosingguideline',
            name='source',
            field=models.TextField(blank=True, help_text='A monograph sentence quoted by findings on this row beyond its own text, e.g. “not established under 18”.'),
        ),
        migrations.AddField(
            model_name='historicalformulation',
            name='concentration_mg_per_ml',
            field=models.DecimalField(blank=True, decimal_places=3, help_text='Liquid forms: mg in one mL (5 mg/5 mL is 1), so a dose in mL becomes mg.', max_digits=8, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0.001'))], verbose_name='concentration (mg per mL)'),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
