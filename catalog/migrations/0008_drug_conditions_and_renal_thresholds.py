"""Profile conditions and kidney thresholds become rows per drug.

Baclofen's peptic ulcer, epilepsy, psychiatric, pregnancy, breastfeeding, 65+ and
kidney rules were code applied to every drug; here they become baclofen's rows, read
from its monograph by the loader, with the messages the pharmacy showed so far.
"""

import django.core.validators
import django.db.models.deletion
import simple_history.models
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


BACLOFEN_MESSAGES = {
    "hypersensitivity": "Contraindicated: do not dispense.",
    "peptic_ulcer": "Baclofen should be avoided while the ulcer is active.",
    "epilepsy": "Baclofen may exacerbate symptoms in some patients: extra monitoring.",
    "psychiatric_disorder": "Baclofen may exacerbate symptoms in some patients: extra monitoring.",
    "pregnancy": "Use only if the potential benefit outweighs the risk.",
    "breastfeeding": "Baclofen passes into breast milk in small amounts: weigh maternal need "
    "against infant exposure.",
    "elderly": "More sensitive to sedation and at risk of falls: start low and titrate carefully.",
    "kidney_chronic": "Baclofen is excreted by the kidneys and may accumulate: check the dose "
    "is reduced.",
    "kidney_end_stage": "Baclofen should be avoided in end-stage kidney disease.",
}


def forwards(apps, schema_editor):
    from types import SimpleNamespace

    from catalog.seed import load_clinical_rules, read_seed

    Drug = apps.get_model("catalog", "Drug")
    DrugCondition = apps.get_model("catalog", "DrugCondition")
    drug = Drug.objects.filter(slug="baclofen").first()
    if drug is None or DrugCondition.objects.filter(drug=drug).exists():
        return
    models = SimpleNamespace(
        DrugCondition=DrugCondition, RenalThreshold=apps.get_model("catalog", "RenalThreshold")
    )
    load_clinical_rules(drug, read_seed("baclofen-monograph.txt"), models=models)
    for fact, message in BACLOFEN_MESSAGES.items():
        DrugCondition.objects.filter(drug=drug, fact=fact).update(message=message)


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0007_interaction_substances_and_contraindicated'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalDrugCondition',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('fact', models.CharField(choices=[('hypersensitivity', 'Hypersensitivity to this drug'), ('peptic_ulcer', 'Active peptic ulcer disease'), ('epilepsy', 'Epilepsy or seizures'), ('psychiatric_disorder', 'Psychiatric disorder'), ('pregnancy', 'Pregnancy'), ('breastfeeding', 'Breastfeeding'), ('elderly', 'Age 65 or over'), ('kidney_chronic', 'Chronic kidney disease'), ('kidney_end_stage', 'End-stage kidney disease'), ('hepatic_impairment', 'Hepatic impairment')], max_length=30)),
                ('severity', models.CharField(choices=[('contraindicated', 'Contraindicated'), ('major', 'Major'), ('moderate', 'Moderate'), ('monitor', 'Monitoring')], help_text='Contraindicated and major block verification (the pharmacist must write an override); moderate and monitoring warn (the pharmacist ticks an acknowledgement).', max_length=20)),
                ('message', models.CharField(help_text='What the pharmacist should do, e.g. “Dose reduction is essential.”', max_length=300)),
                ('source', models.TextField(blank=True, help_text='The monograph sentence this rests on, quoted on the finding.')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('drug', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='catalog.drug')),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical drug condition',
                'verbose_name_plural': 'historical drug conditions',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalRenalThreshold',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('measure', models.CharField(choices=[('crcl', 'Creatinine clearance (mL/min)'), ('egfr', 'eGFR (mL/min/1.73 m²)')], default='crcl', help_text='The measure the monograph uses; the other one stands in when it is all there is.', max_length=10)),
                ('below', models.DecimalField(decimal_places=1, max_digits=5, validators=[django.core.validators.MinValueValidator(Decimal('0.1'))], verbose_name='applies below (mL/min)')),
                ('action', models.CharField(help_text='E.g. “Reduce the dose”, “Avoid”.', max_length=200)),
                ('severity', models.CharField(choices=[('contraindicated', 'Contraindicated'), ('major', 'Major'), ('moderate', 'Moderate'), ('monitor', 'Monitoring')], help_text='Contraindicated and major block verification (the pharmacist must write an override); moderate and monitoring warn (the pharmacist ticks an acknowledgement).', max_length=20)),
                ('source', models.TextField(blank=True, help_text='The monograph sentence this rests on, quoted on the finding.')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('drug', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='catalog.drug')),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical renal threshold',
                'verbose_name_plural': 'historical renal thresholds',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='DrugCondition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('fact', models.CharField(choices=[('hypersensitivity', 'Hypersensitivity to this drug'), ('peptic_ulcer', 'Active peptic ulcer disease'), ('epilepsy', 'Epilepsy or seizures'), ('psychiatric_disorder', 'Psychiatric disorder'), ('pregnancy', 'Pregnancy'), ('breastfeeding', 'Breastfeeding'), ('elderly', 'Age 65 or over'), ('kidney_chronic', 'Chronic kidney disease'), ('kidney_end_stage', 'End-stage kidney disease'), ('hepatic_impairment', 'Hepatic impairment')], max_length=30)),
                ('severity', models.CharField(choices=[('contraindicated', 'Contraindicated'), ('major', 'Major'), ('moderate', 'Moderate'), ('monitor', 'Monitoring')], help_text='Contraindicated and major block verification (the pharmacist must write an override); moderate and monitoring warn (the pharmacist ticks an acknowledgement).', max_length=20)),
                ('message', models.CharField(help_text='What the pharmacist should do, e.g. “Dose reduction is essential.”', max_length=300)),
                ('source', models.TextField(blank=True, help_text='The monograph sentence this rests on, quoted on the finding.')),
                ('drug', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='conditions', to='catalog.drug')),
            ],
            options={
                'ordering': ['drug', 'position', 'pk'],
                'constraints': [models.UniqueConstraint(fields=('drug', 'fact'), name='condition_fact_unique_per_drug')],
            },
        ),
        migrations.CreateModel(
            name='RenalThreshold',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('measure', models.CharField(choices=[('crcl', 'Creatinine clearance (mL/min)'), ('egfr', 'eGFR (mL/min/1.73 m²)')], default='crcl', help_text='The measure the monograph uses; the other one stands in when it is all there is.', max_length=10)),
                ('below', models.DecimalField(decimal_places=1, max_digits=5, validators=[django.core.validators.MinValueValidator(Decimal('0.1'))], verbose_name='applies below (mL/min)')),
                ('action', models.CharField(help_text='E.g. “Reduce the dose”, “Avoid”.', max_length=200)),
                ('severity', models.CharField(choices=[('contraindicated', 'Contraindicated'), ('major', 'Major'), ('moderate', 'Moderate'), ('monitor', 'Monitoring')], help_text='Contraindicated and major block verification (the pharmacist must write an override); moderate and monitoring warn (the pharmacist ticks an acknowledgement).', max_length=20)),
                ('source', models.TextField(blank=True, help_text='The monograph sentence this rests on, quoted on the finding.')),
                ('drug', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='renal_thresholds', to='catalog.drug')),
            ],
            options={
                'ordering': ['drug', 'below', 'pk'],
                'constraints': [models.CheckConstraint(condition=models.Q(('below__gt', 0)), name='renal_threshold_positive')],
            },
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
