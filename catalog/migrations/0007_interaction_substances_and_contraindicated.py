"""Interaction classes get their member substances, and severity gains "contraindicated".

The baclofen monograph describes its interactions without grading them; the grading
the pharmacy applied so far (CNS depressants major) becomes the row's data here, so
no interaction's severity is decided by its name in code any more.
"""

from django.db import migrations, models

# Common US generic names, matched as whole words in the medicines patients type.
SUBSTANCES = {
    "opioids": "oxycodone, hydrocodone, morphine, codeine, tramadol, tapentadol, fentanyl, "
    "methadone, hydromorphone, oxymorphone, buprenorphine, meperidine, Percocet, Vicodin, "
    "OxyContin, Norco",
    "benzodiazepines": "diazepam, lorazepam, alprazolam, clonazepam, temazepam, midazolam, "
    "chlordiazepoxide, oxazepam, Valium, Xanax, Ativan, Klonopin",
    "other-muscle-relaxants": "cyclobenzaprine, methocarbamol, carisoprodol, tizanidine, "
    "metaxalone, orphenadrine, chlorzoxazone, dantrolene, Flexeril, Soma, Zanaflex",
    "antihypertensives": "lisinopril, enalapril, ramipril, losartan, valsartan, amlodipine, "
    "nifedipine, diltiazem, verapamil, metoprolol, atenolol, propranolol, carvedilol, "
    "hydrochlorothiazide, chlorthalidone, furosemide, clonidine, hydralazine, doxazosin",
    "tricyclic-antidepressants": "amitriptyline, nortriptyline, imipramine, desipramine, "
    "doxepin, clomipramine, protriptyline, trimipramine",
    "nsaids": "ibuprofen, naproxen, diclofenac, celecoxib, meloxicam, indomethacin, "
    "ketorolac, etodolac, nabumetone, piroxicam, Advil, Motrin, Aleve",
}
# The pharmacy's grade where the monograph text gives none.
BACLOFEN_SEVERITIES = {"CNS depressants": "major"}


def forwards(apps, schema_editor):
    MedicationClass = apps.get_model("catalog", "MedicationClass")
    Interaction = apps.get_model("catalog", "Interaction")
    for slug, substances in SUBSTANCES.items():
        MedicationClass.objects.filter(slug=slug, substances="").update(substances=substances)
    for name, severity in BACLOFEN_SEVERITIES.items():
        Interaction.objects.filter(drug__slug="baclofen", name=name).update(severity=severity)


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0006_catalog_staff_adjusts_stock'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalmedicationclass',
            name='substances',
            field=models.TextField(blank=True, help_text='Medicines in this class, names and synonyms (brand names too), separated by commas or new lines. Each is matched as a whole word, ignoring case, against the other medicines a patient types in their profile; so is the class name.'),
        ),
        migrations.AddField(
            model_name='medicationclass',
            name='substances',
            field=models.TextField(blank=True, help_text='Medicines in this class, names and synonyms (brand names too), separated by commas or new lines. Each is matched as a whole word, ignoring case, against the other medicines a patient types in their profile; so is the class name.'),
        ),
        migrations.AlterField(
            model_name='historicalinteraction',
            name='severity',
            field=models.CharField(choices=[('contraindicated', 'Contraindicated'), ('major', 'Major'), ('moderate', 'Moderate'), ('monitor', 'Monitoring')], help_text='Contraindicated and major block verification (the pharmacist must write an override); moderate and monitoring warn (the pharmacist ticks an acknowledgement).', max_length=20),
        ),
        migrations.AlterField(
            model_name='interaction',
            name='severity',
            field=models.CharField(choices=[('contraindicated', 'Contraindicated'), ('major', 'Major'), ('moderate', 'Moderate'), ('monitor', 'Monitoring')], help_text='Contraindicated and major block verification (the pharmacist must write an override); moderate and monitoring warn (the pharmacist ticks an acknowledgement).', max_length=20),
        ),
        migrations.AlterField(
            model_name='formulation',
            name='form',
            field=models.CharField(choices=[('tablet', 'Tablet'), ('capsule', 'Capsule'), ('oral_solution', 'Oral solution'), ('intrathecal', 'Intrathecal injection')], max_length=20),
        ),
        migrations.AlterField(
            model_name='historicalformulation',
            name='form',
            field=models.CharField(choices=[('tablet', 'Tablet'), ('capsule', 'Capsule'), ('oral_solution', 'Oral solution'), ('intrathecal', 'Intrathecal injection')], max_length=20),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
