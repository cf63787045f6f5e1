"""Any change to what a drug page shows drops the cached page; a change to the
monograph itself also moves the drug's monograph version, which orders record."""

from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from .caching import invalidate_drug_pages
from .models import (
    DosingGuideline,
    Drug,
    Formulation,
    Interaction,
    MonographSection,
    Package,
)


@receiver(pre_save, sender=Drug)
def _drug_renamed(sender, instance, raw=False, **kwargs):
    if instance.pk and not raw:
        old_slug = Drug.objects.filter(pk=instance.pk).values_list("slug", flat=True).first()
        invalidate_drug_pages(old_slug)


def _new_monograph_version(drug_id) -> None:
    Drug.objects.filter(pk=drug_id).update(monograph_version=F("monograph_version") + 1)


@receiver(post_save, sender=Drug)
def _drug_saved(sender, instance, created=False, raw=False, **kwargs):
    if not created and not raw:
        _new_monograph_version(instance.pk)
    invalidate_drug_pages(instance.slug)


@receiver(post_delete, sender=Drug)
def _drug_deleted(sender, instance, **kwargs):
    invalidate_drug_pages(instance.slug)


@receiver(post_save, sender=MonographSection)
@receiver(post_delete, sender=MonographSection)
@receiver(post_save, sender=DosingGuideline)
@receiver(post_delete, sender=DosingGuideline)
@receiver(post_save, sender=Interaction)
@receiver(post_delete, sender=Interaction)
@receiver(post_save, sender=Formulation)
@receiver(post_delete, sender=Formulation)
def _drug_part_changed(sender, instance, raw=False, **kwargs):
    if not raw and sender is not Formulation:
        _new_monograph_version(instance.drug_id)
    drugs = Drug.objects.filter(pk=instance.drug_id)
    invalidate_drug_pages(drugs.values_list("slug", flat=True).first())


@receiver(post_save, sender=Package)
@receiver(post_delete, sender=Package)
def _package_changed(sender, instance, **kwargs):
    drugs = Drug.objects.filter(formulations__pk=instance.formulation_id)
    invalidate_drug_pages(drugs.values_list("slug", flat=True).first())


@receiver(m2m_changed, sender=Interaction.medication_classes.through)
def _interaction_classes_changed(sender, instance, **kwargs):
    if isinstance(instance, Interaction):
        _drug_part_changed(Interaction, instance)
