"""A change to the pharmacy's details, licences or notices drops the cached footer, and
the cached catalog pages that carry it, once the change has committed."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.caching import invalidate_drug_pages
from catalog.models import Drug

from .models import PharmacyIdentity, Policy, StateLicence
from .selectors import forget_facts


@receiver(post_save, sender=PharmacyIdentity)
@receiver(post_delete, sender=PharmacyIdentity)
@receiver(post_save, sender=StateLicence)
@receiver(post_delete, sender=StateLicence)
@receiver(post_save, sender=Policy)
@receiver(post_delete, sender=Policy)
def _pharmacy_changed(sender, instance, **kwargs):
    # `robust`: the change has committed; a cache that cannot be reached must not turn
    # it into an error page (the footer then expires with FACTS_SECONDS).
    transaction.on_commit(forget_facts, robust=True)
    invalidate_drug_pages(*Drug.objects.values_list("slug", flat=True))
