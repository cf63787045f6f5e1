"""Whether a drug must not be stopped suddenly is the drug's own flag and sentence.

It was a section callout found by a hard-coded phrase, and the emails said "never stop
taking <drug> suddenly" for every drug. Baclofen's callout moves to its new fields.
"""

from django.db import migrations, models


def forwards(apps, schema_editor):
    from catalog.seed import read_seed

    Drug = apps.get_model("catalog", "Drug")
    MonographSection = apps.get_model("catalog", "MonographSection")
    warning = read_seed("baclofen-monograph.txt").stop_suddenly_warning
    for drug in Drug.objects.filter(slug="baclofen", must_not_stop_suddenly=False):
        section = MonographSection.objects.filter(
            drug=drug, callout__icontains="stopped suddenly"
        ).first()
        Drug.objects.filter(pk=drug.pk).update(
            must_not_stop_suddenly=True,
            stop_suddenly_warning=section.callout if section else warning,
        )
        if section:
            MonographSection.objects.filter(pk=section.pk).update(callout="")


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0010_titration_help'),
    ]

    operations = [
        migrations.AddField(
            model_name='drug',
            name='must_not_stop_suddenly',
            field=models.BooleanField(default=False, help_text='Stopping at once is dangerous: the drug page and every email to the patient say so, in the sentence below.'),
        ),
        migrations.AddField(
            model_name='drug',
            name='stop_suddenly_warning',
            field=models.TextField(blank=True, help_text="The monograph's sentence against stopping suddenly, shown to patients."),
        ),
        migrations.AddField(
            model_name='historicaldrug',
            name='must_not_stop_suddenly',
            field=models.BooleanField(default=False, help_text='Stopping at once is dangerous: the drug page and every email to the patient say so, in the sentence below.'),
        ),
        migrations.AddField(
            model_name='historicaldrug',
            name='stop_suddenly_warning',
            field=models.TextField(blank=True, help_text="The monograph's sentence against stopping suddenly, shown to patients."),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
