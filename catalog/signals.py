"""Cache invalidation: any change to what a drug page shows drops that page."""

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


@receiver(post_save, sender=Drug)
@receiver(post_delete, sender=Drug)
def _drug_changed(sender, instance, **kwargs):
    invalidate_drug_pages(instance.slug)


@receiver(post_save, sender=MonographSection)
@receiver(post_delete, sender=MonographSection)
@receiver(post_save, sender=DosingGuideline)
@receiver(post_delete, sender=DosingGuideline)
@receiver(post_save, sender=Interaction)
@receiver(post_delete, sender=Interaction)
@receiver(post_save, sender=Formulation)
@receiver(post_delete, sender=Formulation)
def _drug_part_changed(sender, instance, **kwargs):
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
